"""The embedded demo set: complete, numerically faithful translations, correct English solutions."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

import pytest

from pbrl.answers import normalize_answer
from pbrl.data.demo import DEMO_LANGUAGES, DEMO_LEVELS, load_demo, load_problems

NUMBER = re.compile(r"[0-9]+")  # not \d: that also matches Bengali, Devanagari, ... digits
# "a op b (op c ...) = r" with integer operands, as the solutions write their steps.
EXPRESSION = re.compile(r"(\d+(?:\s*[-+*/]\s*\d+)+)\s*=\s*(\d+)")
MIN_LANGID_RATE = 0.9

PROBLEMS = load_problems()


def evaluate(expression: str) -> Fraction:
    """Value of `a op b op c ...` with the usual precedence (* and / before + and -)."""
    tokens = re.findall(r"\d+|[-+*/]", expression)
    terms: list[Fraction] = [Fraction(int(tokens[0]))]
    for op, number in zip(tokens[1::2], tokens[2::2]):
        value = Fraction(int(number))
        if op == "*":
            terms[-1] *= value
        elif op == "/":
            terms[-1] /= value
        else:
            terms.append(value if op == "+" else -value)
    return sum(terms, Fraction(0))


def wrong_steps(solution: str) -> list[str]:
    return [m.group(0) for m in EXPRESSION.finditer(solution) if evaluate(m.group(1)) != int(m.group(2))]


def test_evaluate_follows_precedence_and_wrong_steps_are_caught():
    assert evaluate("2 + 3 * 4") == 14
    assert evaluate("60 - 37 / 1") == 23
    assert wrong_steps("She has 3 * 4 = 12 apples and 12 + 2 = 15 pears.") == ["12 + 2 = 15"]


def test_72_problems_with_unique_sequential_ids():
    assert [p["id"] for p in PROBLEMS] == [f"demo-{i:03d}" for i in range(72)]


def test_levels_are_48_multi_step_then_24_one_step():
    assert all(p["level"] in DEMO_LEVELS for p in PROBLEMS)
    assert [p["level"] for p in PROBLEMS] == ["multi-step"] * 48 + ["one-step"] * 24


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p["id"])
def test_every_language_is_present_and_nonempty(problem):
    assert set(problem["question"]) == set(DEMO_LANGUAGES)
    assert all(text.strip() == text and text for text in problem["question"].values())


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p["id"])
def test_english_question_is_short_and_asks_one_question(problem):
    sentences = re.split(r"(?<=[.?])\s+", problem["question"]["en"])
    assert len(sentences) <= 3 and sentences[-1].endswith("?")


@pytest.mark.parametrize("problem", [p for p in PROBLEMS if p["level"] == "one-step"], ids=lambda p: p["id"])
def test_one_step_problems_are_short_with_small_answers(problem):
    assert len(re.split(r"(?<=[.?])\s+", problem["question"]["en"])) <= 2
    assert 0 < int(problem["answer"]) <= 100


@pytest.mark.parametrize("lang", [lang for lang in DEMO_LANGUAGES if lang != "en"])
def test_translations_carry_exactly_the_english_numbers(lang):
    mismatched = []
    for problem in PROBLEMS:
        english = Counter(NUMBER.findall(problem["question"]["en"]))
        translated = problem["question"][lang]
        if Counter(NUMBER.findall(translated)) != english:
            mismatched.append(problem["id"])
        if any(ch.isdigit() and not ch.isascii() for ch in translated):
            mismatched.append(f"{problem['id']} (non-ASCII digit)")
    assert mismatched == []


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p["id"])
def test_solution_arithmetic_is_right_and_ends_with_the_answer(problem):
    solution, answer = problem["solution_en"], problem["answer"]
    steps = list(EXPRESSION.finditer(solution))
    if problem["level"] == "one-step":
        assert len(steps) == 1, "a one-step problem's solution has exactly one arithmetic expression"
        assert len(solution.splitlines()) == 2, "one step line, then the answer line"
    else:
        assert len(steps) >= 2, "a multi-step problem takes at least 2 arithmetic steps"
    assert wrong_steps(solution) == []
    assert steps[-1].group(2) == answer
    assert solution.splitlines()[-1] == f"The answer is {answer}."
    assert "<<" not in solution


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p["id"])
def test_answer_is_a_normalized_positive_integer(problem):
    answer = problem["answer"]
    assert answer.isascii() and answer.isdigit() and int(answer) > 0
    assert normalize_answer(answer) == answer


@pytest.fixture(scope="module")
def classify():
    """py3langid's classifier over all its languages, model loaded once (about 3 s)."""
    py3langid = pytest.importorskip("py3langid")
    py3langid.classify("warm up")
    return py3langid.classify


@pytest.mark.parametrize("lang", DEMO_LANGUAGES)
def test_py3langid_recognizes_each_translation(lang, classify):
    misread = {p["id"]: classify(p["question"][lang])[0] for p in PROBLEMS}
    misread = {pid: got for pid, got in misread.items() if got != lang}
    rate = 1 - len(misread) / len(PROBLEMS)
    assert rate >= MIN_LANGID_RATE, f"{lang}: {rate:.0%} identified; misread: {misread}"


def test_load_demo_gives_each_problem_in_each_language():
    examples = load_demo(["de", "bn"])
    assert [e.lang for e in examples] == ["de"] * 72 + ["bn"] * 72
    first_de, first_bn = examples[0], examples[72]
    assert first_de.id == first_bn.id == "demo-000"
    assert first_de.question == PROBLEMS[0]["question"]["de"]
    assert first_de.question_en == first_bn.question_en == PROBLEMS[0]["question"]["en"]
    assert first_de.answer == "7" and first_de.solution_en.endswith("The answer is 7.")
    assert first_de.choices is None and first_de.level == "multi-step"
    assert [e.level for e in examples] == [p["level"] for p in PROBLEMS] * 2
    one_step = examples[48]
    assert (one_step.id, one_step.level, one_step.answer) == ("demo-048", "one-step", "12")


@pytest.mark.parametrize(
    "langs, named",
    [
        (["xx"], "'xx'"),  # a code pbrl does not know
        (["de", "te"], "'te'"),  # a language pbrl knows that the demo set lacks
    ],
)
def test_load_demo_rejects_languages_it_lacks_in_one_line(langs, named):
    with pytest.raises(ValueError) as error:
        load_demo(langs)
    message = str(error.value)
    assert named in message and ", ".join(sorted(DEMO_LANGUAGES)) in message
    assert "\n" not in message
