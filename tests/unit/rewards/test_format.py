import pickle

import pytest

from pbrl.rewards.format import FormatReward, repeated_fraction


class TestFormatReward:
    @pytest.mark.parametrize(
        "text, lang, expected",
        [
            ("5 + 6 = 11. Die Antwort ist 11.", "de", 1.0),
            ("5 + 6 = 11. La réponse est 11.", "fr", 1.0),
            ("5 + 6 = 11。答案是 11。", "zh", 1.0),
            ("5 + 6 = 11. Jibu ni 11.", "sw", 1.0),
            ("Итого 11. Ответ — 11.", "ru", 1.0),
            ("So ergibt sich \\boxed{11}.", "de", 1.0),  # boxed counts in any language
            ("5 + 6 = 11. The answer is 11.", "de", 0.0),  # English phrase: not the expected form
            ("Also sind es 11.", "de", 0.0),  # no final-answer statement
            ("Die Antwort ist", "de", 0.0),  # phrase with nothing after it
            ("\\boxed{}", "de", 0.0),  # empty box
        ],
    )
    def test_forms(self, text, lang, expected):
        assert FormatReward()(completions=[text], lang=[lang]) == [expected]

    def test_boxed_only(self):
        r = FormatReward(forms=["boxed"])
        assert r(completions=["Die Antwort ist 11.", "\\boxed{11}"]) == [0.0, 1.0]  # no lang needed

    def test_length_penalty(self):
        r = FormatReward(max_chars=20, length_penalty=0.5)
        short, long = r(
            completions=["Die Antwort ist 11.", "Wir rechnen lange. Die Antwort ist 11."], lang=["de", "de"]
        )
        assert short == 1.0 and long == pytest.approx(0.5)

    def test_repetition_penalty(self):
        r = FormatReward(repetition_ngram=2, repetition_penalty=1.0)
        clean, loop = r(
            completions=["eins zwei drei vier. Die Antwort ist 4.", "ja ja ja ja ja ja ja ja. Die Antwort ist 4."],
            lang=["de", "de"],
        )
        assert clean == pytest.approx(1.0)
        assert loop < 0.6

    def test_repeated_fraction(self):
        assert repeated_fraction("a b c d", 2) == 0.0
        assert repeated_fraction("a b a b a b", 2) == pytest.approx(1 - 2 / 5)
        assert repeated_fraction("哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈", 2) > 0.9  # no spaces: characters

    def test_none_cases_and_extra_kwargs(self):
        r = FormatReward()
        assert r(
            completions=["", "Die Antwort ist 3.", "Die Antwort ist 3."], lang=["de", None, "xx"], trainer_state=1
        ) == [None, None, None]

    @pytest.mark.parametrize(
        "kwargs",
        [{"forms": ["latex"]}, {"forms": "boxed"}, {"max_chars": 0}, {"length_penalty": -1}, {"repetition_ngram": -2}],
    )
    def test_bad_args(self, kwargs):
        with pytest.raises(ValueError):
            FormatReward(**kwargs)

    def test_picklable(self):
        assert pickle.loads(pickle.dumps(FormatReward(max_chars=5))).__name__ == "format"
