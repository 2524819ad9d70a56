"""PolyMath (Qwen/PolyMath): 500 problems per language, 125 per level (low, medium, high, top), 18 languages.

Files: <data_root>/polymath/polymath_<lang>.jsonl, rows {id ("<level>-<lang>-<n>"), question, answer
(may be LaTeX), language, level}. Hub: Qwen/PolyMath (config = language, split = level).
Level `low` is 125 MGSM problems again. Scored by DW-ACC (pbrl.evaluation).
"""

from __future__ import annotations

from pathlib import Path

from pbrl.answers import normalize_answer
from pbrl.data.example import Example
from pbrl.data.files import corrupt, read_jsonl_file, require_fields, require_text
from pbrl.data.hub import load_hub_rows

NAME = "polymath"
HUB_ID = "Qwen/PolyMath"
LANGUAGES = ("ar", "bn", "de", "en", "es", "fr", "id", "it", "ja", "ko", "ms", "pt", "ru", "sw", "te", "th", "vi", "zh")
LEVELS = ("low", "medium", "high", "top")


def _rows(lang: str, data_root, hub_id: str) -> list[dict]:
    if data_root is None:
        rows = []
        for level in LEVELS:
            rows += [dict(row, level=level) for row in load_hub_rows(hub_id, lang, level)]
        path = hub_id
    else:
        path = Path(data_root) / "polymath" / f"polymath_{lang}.jsonl"

        def check(row, lineno):
            require_fields(row, ("id", "question", "answer", "level"), path, NAME, lineno)
            require_text(row["question"], "question", NAME, path, lineno)
            require_text(str(row["answer"]), "answer", NAME, path, lineno)  # may be LaTeX: not always a number
            if row["level"] not in LEVELS:
                raise corrupt(NAME, path, lineno, f"level {row['level']!r} is not one of {', '.join(LEVELS)}")

        rows = read_jsonl_file(path, NAME, check=check)
    for i, row in enumerate(rows):
        require_fields(row, ("id", "question", "answer", "level"), path, NAME, i)
    return rows


def problem_id(row: dict) -> str:
    """'polymath-<level>-<n>' from the upstream id '<level>-<lang>-<n>', the same in every language."""
    parts = str(row["id"]).split("-")
    return f"polymath-{parts[0]}-{parts[-1]}"


def load(lang: str, data_root: str | Path | None, hub_id: str = HUB_ID) -> list[Example]:
    if lang not in LANGUAGES:
        raise ValueError(
            f"language '{lang}' is not in dataset 'polymath'; it has: {', '.join(LANGUAGES)} (set langs=... accordingly)"
        )
    rows = _rows(lang, data_root, hub_id)
    english = {problem_id(r): r["question"] for r in (rows if lang == "en" else _rows("en", data_root, hub_id))}
    return [
        Example(
            id=problem_id(row),
            lang=lang,
            question=row["question"].strip(),
            question_en=english.get(problem_id(row), "").strip(),
            answer=normalize_answer(row["answer"]),
            level=row["level"],
        )
        for row in rows
    ]
