import pickle

import pytest

from pbrl.rewards.language import LanguageReward

CASES = [
    ("Roger hat 5 Tennisbälle. Er kauft 2 weitere Dosen. Die Antwort ist 11.", "de", 1.0),
    ("Roger tiene 5 pelotas de tenis. Compra 2 latas más. La respuesta es 11.", "es", 1.0),
    ("У Роджера 5 теннисных мячей. Он покупает ещё 2 банки. Ответ — 11.", "ru", 1.0),
    ("罗杰有 5 个网球。他又买了 2 罐。答案是 11。", "zh", 1.0),
    ("ロジャーはテニスボールを5個持っています。答えは11です。", "ja", 1.0),
    ("Roger has 5 tennis balls. He buys 2 more cans. The answer is 11.", "de", 0.0),  # English instead of German
    ("Roger has 5 tennis balls. He buys 2 more cans. The answer is 11.", "en", 1.0),
]


class TestLanguageReward:
    @pytest.mark.parametrize("text, lang, expected", CASES)
    def test_document_mode(self, text, lang, expected):
        assert LanguageReward()(completions=[text], lang=[lang]) == [expected]

    def test_sentence_mode_gives_fraction(self):
        text = "Roger hat fünf Tennisbälle. Roger buys two more cans of tennis balls."
        (value,) = LanguageReward(mode="sentences")(completions=[text], lang=["de"])
        assert value == pytest.approx(0.5)

    def test_none_cases(self):
        r = LanguageReward()
        assert r(completions=["", "Hallo Welt, wie geht es dir?", "5 + 6 = 11"], lang=["de", None, "de"]) == [
            None,
            None,
            None,
        ]

    def test_extra_kwargs_and_scalar_lang(self):
        assert LanguageReward()(prompts=None, completions=[CASES[0][0]], lang="de", answer=["11"], foo=1) == [1.0]

    def test_bad_mode(self):
        with pytest.raises(ValueError, match="unknown language reward mode 'tokens'"):
            LanguageReward(mode="tokens")

    def test_picklable(self):
        assert pickle.loads(pickle.dumps(LanguageReward(mode="sentences"))).mode == "sentences"
