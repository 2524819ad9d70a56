from __future__ import annotations

import pytest

from pbrl.langid import _identifier, detect_language, language_fraction, split_sentences, strip_math


@pytest.fixture(scope="module", autouse=True)
def loaded_identifier():
    _identifier()  # load the model once, outside the timed tests


DETECT_CASES = [
    ("Roger has 5 tennis balls. He buys 2 more cans. The answer is 11.", "en"),  # English
    ("Roger hat 5 Tennisbälle. Er kauft 2 weitere Dosen. Die Antwort ist 11.", "de"),  # German
    ("Roger tiene 5 pelotas de tenis. Compra 2 latas más. La respuesta es 11.", "es"),  # Spanish
    ("Roger a 5 balles de tennis. Il achète 2 boîtes de plus. La réponse est 11.", "fr"),  # French
    ("У Роджера 5 теннисных мячей. Он покупает ещё 2 банки. Ответ — 11.", "ru"),  # Cyrillic
    ("Roger ana mipira 5 ya tenisi. Ananunua mikebe 2 zaidi. Jibu ni 11.", "sw"),  # Swahili
    ("রজারের 5টি টেনিস বল আছে। সে আরও 2 ক্যান টেনিস বল কিনেছে। উত্তর হল 11।", "bn"),  # Bengali script
    ("రోజర్ వద్ద 5 టెన్నిస్ బంతులు ఉన్నాయి. సమాధానం 11.", "te"),  # Telugu script
    ("โรเจอร์มีลูกเทนนิส 5 ลูก คำตอบคือ 11", "th"),  # Thai script
    ("罗杰有 5 个网球。他又买了 2 罐网球。答案是 11。", "zh"),  # Chinese
    ("ロジャーは5個のテニスボールがあります。答えは11です。", "ja"),  # Japanese (kana)
    ("問題：東京大学の学生は数学を勉強します。", "ja"),  # kanji-heavy Japanese, one kana
    ("로저는 테니스공 5개를 가지고 있습니다. 답은 11입니다.", "ko"),  # Korean
    ("$5 + 6 = 11$ \\frac{1}{2} 42", ""),  # math only: unknown
    ("", ""),  # empty
]


@pytest.mark.parametrize("text,expected", DETECT_CASES)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_detect_ignores_latex_and_numbers():
    text = "Die Antwort ist $\\frac{3}{4}$, also $x = 0.75$ und nicht 1234."
    assert "frac" not in strip_math(text) and "1234" not in strip_math(text)
    assert detect_language(text) == "de"


FRACTION_CASES = [
    ("Roger has 5 balls. He buys more balls. Die Antwort ist 11.", "de", pytest.approx(1 / 3)),  # 1 of 3 German
    ("Roger hat 5 Bälle. Er kauft mehr. Die Antwort ist 11.", "de", 1.0),  # all German
    ("罗杰有 5 个网球。他又买了 2 罐网球。The answer is 11.", "zh", pytest.approx(2 / 3)),  # CJK full stops split
    ("5 + 6 = 11.\n7 * 8 = 56.", "en", 0.0),  # no prose at all
    ("", "en", 0.0),  # empty
]


@pytest.mark.parametrize("text,lang,expected", FRACTION_CASES)
def test_language_fraction(text, lang, expected):
    assert language_fraction(text, lang) == expected


def test_split_sentences_handles_scripts():
    assert len(split_sentences("এক। দুই। তিন।")) == 3  # Bengali danda
    assert len(split_sentences("一。二！三？")) == 3  # CJK terminators
    assert len(split_sentences("one\n\ntwo")) == 2  # newlines
