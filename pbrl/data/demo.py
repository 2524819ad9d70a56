"""pbrl's own demo set: 72 grade-school math word problems in 9 languages, shipped with the package.

It lets `python -m pbrl.run` run offline with no benchmark data. The problems were written for pbrl
(see pbrl/data/demo/README.md); each has an English worked solution and an integer answer, and its
question in every language of `DEMO_LANGUAGES`. 48 take 2-4 arithmetic steps (level "multi-step") and 24
take one (level "one-step"), for small models that cannot solve the multi-step ones.

Example:
    >>> example = load_demo(["de"])[0]
    >>> example.id, example.answer, example.question[:44]
    ('demo-000', '7', 'Eine Bäckerin backt morgens 24 Muffins und n')
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

from pbrl.answers import normalize_answer
from pbrl.data.example import Example
from pbrl.languages import LANGUAGES as LANGUAGES_KNOWN
from pbrl.languages import check_languages

NAME = "demo"
DEMO_LANGUAGES = ("en", "de", "fr", "es", "ru", "zh", "ja", "sw", "bn")
DEMO_LEVELS = ("one-step", "multi-step")
LANGUAGES = DEMO_LANGUAGES  # the name every dataset module exports
PROBLEMS_FILE = "problems.jsonl"


@lru_cache(maxsize=1)
def load_problems() -> tuple[dict, ...]:
    """The raw rows of problems.jsonl: {id, answer, level, solution_en, question: {lang: text}}."""
    text = (files("pbrl.data") / "demo" / PROBLEMS_FILE).read_text(encoding="utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def load_demo(langs: list[str]) -> list[Example]:
    """Every demo problem in each of `langs`, language by language, problems in file order."""
    for code in map(str, langs):
        if code not in LANGUAGES_KNOWN:  # check_languages would list every known code, not the demo's
            choices = ", ".join(sorted(DEMO_LANGUAGES))
            raise ValueError(f"unknown language '{code}' for dataset '{NAME}'; choose from: {choices}")
    langs = check_languages(langs, available=DEMO_LANGUAGES, dataset=NAME)
    problems = load_problems()
    return [
        Example(
            id=row["id"],
            lang=lang,
            question=row["question"][lang],
            question_en=row["question"]["en"],
            answer=normalize_answer(row["answer"]),
            solution_en=row["solution_en"],
            level=row["level"],
        )
        for lang in langs
        for row in problems
    ]
