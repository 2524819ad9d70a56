"""The row every pbrl dataset loader produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Example:
    """One problem in one language; `id` is the same for the problem in every language.

    Example:
        >>> Example("mgsm-0", "de", "Janets Enten legen ...", "Janet's ducks lay ...", "18")
    """

    id: str
    lang: str
    question: str
    question_en: str
    answer: str  # normalized gold final answer (pbrl.answers.normalize_answer); "" if unknown
    solution_en: str = ""  # English worked solution, "" if none
    choices: list[str] | None = None  # MMLU-ProX options, in letter order A..J
    level: str | None = None  # PolyMath difficulty: low, medium, high, top; demo: one-step, multi-step
