from __future__ import annotations

import pytest

from pbrl.answers import (
    answers_match,
    extract_answer,
    extract_choice,
    last_boxed,
    normalize_answer,
    to_ascii_digits,
)

EXTRACT_CASES = [
    ("The answer is 18.", "18"),  # English phrase, sentence period
    ("5 + 6 = 11. Die Antwort ist 11.", "11"),  # German phrase
    ("5 + 6 = 11. Die Antwort lautet 11.", "11"),  # German variant used by MGSM exemplars
    ("5 + 6 = 11. La respuesta es 11.", "11"),  # Spanish
    ("5 + 6 = 11. La réponse est 11.", "11"),  # French
    ("5 + 6 = 11. Ответ — 11.", "11"),  # Russian em dash
    ("Ответ: 42", "42"),  # Russian colon variant
    ("5 + 6 = 11. Jibu ni 11.", "11"),  # Swahili
    ("5+6=11. సమాధానం 11.", "11"),  # Telugu
    ("5 + 6 = 11 คำตอบคือ 11", "11"),  # Thai, no period
    ("5+6=11。答えは11です。", "11"),  # Japanese, CJK adjacent
    ("5 + 6 = 11。答案是 11。", "11"),  # Chinese
    ("৫ + ৬ = ১১। উত্তর হল ১১।", "11"),  # Bengali digits and phrase
    ("คำตอบคือ ๑๒", "12"),  # Thai digits
    ("సమాధానం ౧౨", "12"),  # Telugu digits
    ("उत्तर है १२", "12"),  # Devanagari digits
    ("الإجابة هي ١٢", "12"),  # Arabic-Indic digits
    ("答案是１２３", "123"),  # full-width digits
    ("The answer is 2,125.", "2125"),  # thousands comma
    ("The answer is $114,200.00.", "114200"),  # currency, comma, trailing .00
    ("Итого 276 000 рублей", "276000"),  # space as thousands separator
    ("Il a 1\u202f234 €", "1234"),  # narrow no-break space thousands
    ("Die Antwort ist 1.234.567.", "1234567"),  # dot thousands groups
    ("Die Antwort ist 2,5.", "2.5"),  # decimal comma
    ("Die Antwort ist 70.000 €.", "70000"),  # one dot + 3 digits: German thousands
    ("The answer is 0.125.", "0.125"),  # leading zero: a decimal
    ("The answer is 2.25.", "2.25"),  # two decimals: a decimal
    ("The answer is 18.0", "18"),  # trailing .0
    ("The answer is -7.", "-7"),  # negative after phrase
    ("It is 15-3 = 12", "12"),  # subtraction is not a negative number
    ("The answer is 3/4.", "0.75"),  # plain fraction
    ("The answer is \\boxed{\\frac{1}{3}}", "1/3"),  # boxed non-terminating fraction
    ("So \\boxed{18} dollars. The answer is 20.", "18"),  # boxed wins over the phrase
    ("\\boxed{18 \\text{ dollars}}", "18"),  # boxed number with units
    ("\\boxed{n-1}", "n-1"),  # boxed expression kept as text
    ("Janet makes 9 * 2 = $18 every day.", "18"),  # last number fallback
    ("The answer is 18 - 4 = 14", "18"),  # phrase takes the first number after it
    ("దశలవారీగా సమాధానం: రోజర్ వద్ద 5 బంతులు. 5+6=11.", "11"),  # prompt prefix is not the phrase
    ("The answer is not known yet, but 4 + 5 = 9 ... wait 10", "4"),  # number within the window
    ("No numbers at all.", None),  # nothing to extract
    ("", None),  # empty response
]


@pytest.mark.parametrize("text,expected", EXTRACT_CASES)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


NORMALIZE_CASES = [
    ("2,125", "2125"),  # MGSM gold with thousands comma
    ("8.0", "8"),  # MSVAMP float answer
    ("$\\frac{480}{49}$", "480/49"),  # PolyMath LaTeX fraction stays exact
    ("$\\dfrac{4}{8}$", "0.5"),  # terminating fraction becomes a decimal
    ("$n-1$", "n-1"),  # LaTeX expression, delimiters stripped
    ("${2, -2, \\frac{1}{2}}$", "{2,-2,\\frac{1}{2}}"),  # set answer: whitespace removed
    ("50%", "50"),  # percent sign
    ("  C ", "C"),  # choice letter
    ("１８", "18"),  # full-width digits
    ("−5", "-5"),  # Unicode minus
    (18, "18"),  # an int
    (2.50, "2.5"),  # a float
    (None, ""),  # missing
]


@pytest.mark.parametrize("text,expected", NORMALIZE_CASES)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


MATCH_CASES = [
    ("18", "18", True),  # same
    ("18.0", "18", True),  # float vs int
    ("2125", "2,125", True),  # thousands comma in gold
    ("1/3", "0.3333333", True),  # within tolerance
    ("1/3", "0.33", False),  # not within tolerance
    ("114201", "114200", False),  # relative tolerance is small
    ("n-1", "$n - 1$", True),  # text compare after normalization
    ("17", "18", False),  # wrong
    (None, "18", False),  # no prediction
    ("18", "", False),  # no gold
]


@pytest.mark.parametrize("pred,gold,expected", MATCH_CASES)
def test_answers_match(pred, gold, expected):
    assert answers_match(pred, gold) is expected


CHOICE_CASES = [
    ("... so the answer is (C).", "C"),  # MMLU-Pro style
    ("The answer is B", "B"),  # bare letter
    ("Die Antwort ist (J).", "J"),  # German phrase, last letter
    ("\\boxed{D}", "D"),  # boxed letter
    ("I compare (E) and (A); (A) is right.", "A"),  # last parenthesized letter
    ("The answer is (K).", None),  # K is not among 10 options
    ("no choice here", None),  # nothing
]


@pytest.mark.parametrize("text,expected", CHOICE_CASES)
def test_extract_choice(text, expected):
    assert extract_choice(text) == expected


def test_to_ascii_digits_keeps_length():
    text = "১২৩ ๔๕ ౬౭ ८९ ٠١ ０"
    assert to_ascii_digits(text) == "123 45 67 89 01 0"
    assert len(to_ascii_digits(text)) == len(text)


def test_last_boxed_balances_braces():
    assert last_boxed("\\boxed{1} then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{unclosed") is None
