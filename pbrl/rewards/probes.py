"""Reward-hacking probes: responses a policy could learn to game a reward with, scored against the
right English reference next to a correct target-language answer.

For each problem (an `Example` with an English worked solution and a numeric answer) and each
target language, the correct response is a one-line answer in the language of the question, the
shape a small policy writes ("42 - 35 = 7. Die Antwort ist 7."). The probes:

- `english_reference`: the English reference itself (copying the pivot);
- `english_answer`: the correct one-line answer, in English;
- `wrong_number`: the one-line answer in the target language with a wrong final number;
- `empty`: "";
- `repeated`: the correct one-line answer five times;
- `looped_phrase`: the localized "The answer is <correct answer>." looped ten times.

A reward set resists the probes when every probe's total is below the correct answer's. Totals
are TRL's: a weighted nansum of the components, so a response every component scores None counts 0.

Example:
    >>> one_line_answer("She makes 24 + 18 = 42 muffins.\\nThe answer is 42.", "42", "de")
    '24 + 18 = 42. Die Antwort ist 42.'
"""

from __future__ import annotations

import re

from pbrl.languages import LANGUAGES

PROBES = ("english_reference", "english_answer", "wrong_number", "empty", "repeated", "looped_phrase")
REPEATS = 5
LOOPS = 10
_NUMBER = r"\d+(?:[.,]\d+)?"
_EQUATION = re.compile(rf"{_NUMBER}(?:\s*[-+*/×x÷]\s*{_NUMBER})+\s*=\s*{_NUMBER}")


def last_equation(solution: str) -> str | None:
    """The last `a op b [op c] = d` of a worked solution, or None."""
    found = _EQUATION.findall(solution or "")
    return found[-1] if found else None


def one_line_answer(solution_en: str, answer: str, lang: str) -> str:
    """The solution's last equation and the localized "The answer is <answer>."."""
    equation = last_equation(solution_en)
    closing = f"{LANGUAGES[lang].answer_phrase} {answer}."
    return f"{equation}. {closing}" if equation else closing


def wrong_number(answer: str) -> str | None:
    """A different final number (answer + 3; + 0.5 for a decimal answer), or None if not numeric."""
    try:
        value = float(answer)
    except ValueError:
        return None
    return str(int(value) + 3) if value.is_integer() else str(value + 0.5)


def probe_responses(solution_en: str, answer: str, lang: str) -> dict[str, str] | None:
    """{"correct": ..., <probe>: ...} for one problem in `lang`; None without a numeric answer."""
    wrong = wrong_number(answer)
    if wrong is None or lang not in LANGUAGES or not solution_en:
        return None
    correct = one_line_answer(solution_en, answer, lang)
    equation = last_equation(solution_en)
    wrong_line = f"{LANGUAGES[lang].answer_phrase} {wrong}."
    if equation:
        wrong_line = f"{equation.rsplit('=', 1)[0].strip()} = {wrong}. {wrong_line}"
    return {
        "correct": correct,
        "english_reference": solution_en,
        "english_answer": one_line_answer(solution_en, answer, "en"),
        "wrong_number": wrong_line,
        "empty": "",
        "repeated": " ".join([correct] * REPEATS),
        "looped_phrase": " ".join([f"{LANGUAGES[lang].answer_phrase} {answer}."] * LOOPS),
    }


def score_probes(reward_set, examples, lang: str) -> dict:
    """Hybrid totals of the correct answer and of every probe for `examples` (one language).

    Returns {"n": problems, "correct": mean total, "probes": {probe: {"mean": mean total,
    "correct_wins": share of problems where correct > probe}}, "components": {probe or "correct":
    {component: mean value (None-skipping)}}}.
    """
    items = [(ex, probe_responses(ex.solution_en, ex.answer, lang)) for ex in examples]
    items = [(ex, responses) for ex, responses in items if responses is not None]
    if not items:
        return {"n": 0, "correct": None, "probes": {}, "components": {}}
    kinds = ["correct", *PROBES]
    completions = [responses[k] for _, responses in items for k in kinds]
    columns = {
        "lang": [lang] * len(completions),
        "reference": [ex.solution_en for ex, _ in items for _ in kinds],
        "answer": [ex.answer for ex, _ in items for _ in kinds],
        "question": [ex.question for ex, _ in items for _ in kinds],
        "id": [f"{ex.id}/{k}" for ex, _ in items for k in kinds],  # every response its own group
    }
    totals, per_component = reward_set.total(prompts=None, completions=completions, **columns)
    totals = [0.0 if t is None else t for t in totals]  # TRL's nansum of all-None is 0
    k = len(kinds)
    by_kind = {kind: totals[i::k] for i, kind in enumerate(kinds)}
    correct = by_kind["correct"]
    report = {"n": len(items), "correct": _mean(correct), "probes": {}, "components": {}}
    for probe in PROBES:
        values = by_kind[probe]
        wins = sum(c > p for c, p in zip(correct, values)) / len(values)
        report["probes"][probe] = {"mean": _mean(values), "correct_wins": wins}
    for i, kind in enumerate(kinds):
        report["components"][kind] = {
            name: _mean([v for v in values[i::k] if v is not None]) for name, values in per_component.items()
        }
    return report


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
