import pickle

import pytest

from pbrl.rewards.repetition import RepetitionPenalty

ONCE = "42 - 35 = 7. Die Antwort ist 7."


def test_zero_without_repeats_and_negative_for_loops():
    values = RepetitionPenalty()(completions=[ONCE, " ".join([ONCE] * 5), "", "答案是7。" * 6], lang=["de"] * 4)
    assert values[0] == 0.0
    assert values[1] == pytest.approx(-(1 - 9 / 43))  # 45 words, 43 trigrams, 9 distinct
    assert values[2] is None
    assert values[3] < -0.5  # spaceless script: counted in characters
    half = RepetitionPenalty(max_penalty=-0.5)(completions=[" ".join([ONCE] * 5)])[0]
    assert half == pytest.approx(values[1] / 2)


@pytest.mark.parametrize("kwargs", [{"ngram_size": 0}, {"max_penalty": 0.5}])
def test_bad_args(kwargs):
    with pytest.raises(ValueError):
        RepetitionPenalty(**kwargs)


def test_picklable_and_named():
    clone = pickle.loads(pickle.dumps(RepetitionPenalty(ngram_size=2)))
    assert clone.__name__ == "repetition" and clone.ngram_size == 2
