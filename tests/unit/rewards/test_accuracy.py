import pickle

import pytest

from pbrl.rewards.accuracy import AccuracyReward


class TestAccuracyReward:
    @pytest.mark.parametrize(
        "completion, gold, expected",
        [
            ("5 + 6 = 11. The answer is 11.", "11", 1.0),  # English phrase
            ("5 + 6 = 11. Die Antwort ist 11.", "11", 1.0),  # German
            ("Ella gana $18 cada día. La respuesta es 18.", "18", 1.0),  # Spanish with currency
            ("所以她每天赚18美元。答案是18。", "18", 1.0),  # Chinese
            ("৫ + ৬ = ১১। উত্তর হল ১১।", "11", 1.0),  # Bengali digits
            ("Итого 2 125 рублей. Ответ — 2125.", "2,125", 1.0),  # thousands comma in the gold
            ("Ainsi \\boxed{12}.", "12", 1.0),  # boxed
            ("Die Antwort ist 12.", "11", 0.0),  # wrong
            ("Ich weiß es nicht.", "11", 0.0),  # no answer at all: wrong, not unscorable
        ],
    )
    def test_cases(self, completion, gold, expected):
        assert AccuracyReward()(completions=[completion], answer=[gold]) == [expected]

    def test_falls_back_to_reference_answer(self):
        r = AccuracyReward()
        out = r(completions=["La respuesta es 7.", "La respuesta es 7."], answer=["", "8"], reference_answer=["7", "7"])
        assert out == [1.0, 0.0]  # gold wins when known

    def test_none_without_target_or_response(self):
        r = AccuracyReward()
        assert r(completions=["The answer is 3.", ""], answer=[None, "3"]) == [None, None]
        assert r(completions=["The answer is 3."]) == [None]  # no answer column at all

    def test_custom_columns_and_extra_kwargs(self):
        r = AccuracyReward(answer_columns=["reference_answer"])
        assert r(
            prompts=["p"],
            completions=["The answer is 3."],
            answer=["4"],
            reference_answer=["3"],
            trainer_state=None,
            lang=["en"],
        ) == [1.0]

    def test_bad_args(self):
        with pytest.raises(ValueError, match="answer_columns"):
            AccuracyReward(answer_columns="answer")

    def test_picklable(self):
        clone = pickle.loads(pickle.dumps(AccuracyReward()))
        assert clone.__name__ == "accuracy"
        assert clone(completions=["The answer is 3."], answer=["3"]) == [1.0]
