import pytest

from pbrl.data import Example
from pbrl.rewards.base import RewardSet
from pbrl.rewards.probes import PROBES, last_equation, one_line_answer, probe_responses, score_probes, wrong_number

SOLUTION = "She makes 24 + 18 = 42 muffins.\nAfter selling some, 42 - 35 = 7 muffins are left.\nThe answer is 7."


def test_one_line_answer_takes_the_last_equation_and_the_localized_phrase():
    assert last_equation(SOLUTION) == "42 - 35 = 7"
    assert one_line_answer(SOLUTION, "7", "de") == "42 - 35 = 7. Die Antwort ist 7."
    assert one_line_answer(SOLUTION, "7", "zh") == "42 - 35 = 7. 答案是 7."
    assert one_line_answer("No arithmetic here.", "7", "fr") == "La réponse est 7."


def test_wrong_number_differs_and_needs_a_number():
    assert wrong_number("7") == "10" and wrong_number("2.5") == "3.0"
    assert wrong_number("x") is None


def test_probe_responses():
    probes = probe_responses(SOLUTION, "7", "de")
    assert set(probes) == {"correct", *PROBES}
    assert probes["english_reference"] == SOLUTION
    assert probes["english_answer"] == "42 - 35 = 7. The answer is 7."
    assert probes["wrong_number"] == "42 - 35 = 10. Die Antwort ist 10."
    assert probes["empty"] == ""
    assert probes["repeated"].count(probes["correct"]) == 5
    assert probes["looped_phrase"].count("Die Antwort ist 7.") == 10
    assert probe_responses(SOLUTION, "seven", "de") is None


class Longest:
    """Scores a response by its length: a reward every long probe games."""

    def __call__(self, prompts=None, completions=None, **columns):
        return [float(len(c)) if c else None for c in completions]


class Exact:
    """1 for the correct one-line answer, 0 otherwise (None for empty): every probe loses."""

    def __call__(self, prompts=None, completions=None, answer=None, lang=None, **columns):
        return [
            None if not c else float(c == one_line_answer(SOLUTION, a, lg))
            for c, a, lg in zip(completions, answer, lang)
        ]


def examples(lang):
    return [Example(f"p{i}", lang, "Frage", "Question", "7", SOLUTION) for i in range(3)]


def test_score_probes_counts_where_correct_wins():
    report = score_probes(RewardSet("exact", {"exact": Exact()}), examples("de"), "de")
    assert report["n"] == 3 and report["correct"] == 1.0
    assert all(report["probes"][p] == {"mean": 0.0, "correct_wins": 1.0} for p in PROBES)  # empty: None -> 0
    gamed = score_probes(RewardSet("long", {"long": Longest()}), examples("de"), "de")
    assert gamed["probes"]["repeated"]["correct_wins"] == 0.0
    assert gamed["probes"]["empty"]["correct_wins"] == 1.0
    correct = probe_responses(SOLUTION, "7", "de")["correct"]
    assert gamed["components"]["repeated"]["long"] == pytest.approx(5 * len(correct) + 4)


def test_score_probes_without_numeric_answers():
    ex = [Example("p", "de", "Frage", "Question", "", SOLUTION)]
    assert score_probes(RewardSet("exact", {"exact": Exact()}), ex, "de")["n"] == 0
