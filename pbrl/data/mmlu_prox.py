"""MMLU-ProX (li-lab/MMLU-ProX): MMLU-Pro's 10-option multiple choice in many languages; hub only.

Hub rows: {question_id, question, option_0..option_9 (or options: list), answer (letter),
answer_index, cot_content, category, src}; config = language, split = test.
"""

from __future__ import annotations

import re

from pbrl.answers import CHOICE_LETTERS
from pbrl.data.example import Example
from pbrl.data.hub import load_hub_rows

NAME = "mmlu_prox"
HUB_ID = "li-lab/MMLU-ProX"
LANGUAGES = ("ar", "bn", "de", "en", "es", "fr", "hi", "id", "it", "ja", "ko", "pt", "ru", "sw", "te", "th", "vi", "zh")
_COT_LEAD = re.compile(r"^\s*A:\s*Let's think step by step\.?\s*")


def choices_of(row: dict) -> list[str]:
    """The options in letter order, without the 'N/A' padding some versions add."""
    if row.get("options") is not None:
        options = list(row["options"])
    else:
        options = [row.get(f"option_{i}") for i in range(len(CHOICE_LETTERS))]
    return [str(o) for o in options if o is not None and str(o).strip() not in ("", "N/A")]


def row_to_example(row: dict, lang: str, question_en: str = "", solution_en: str = "") -> Example:
    """One MMLU-ProX hub row as an Example whose answer is the option letter."""
    answer = str(row.get("answer") or "").strip().upper()
    if (len(answer) != 1 or answer not in CHOICE_LETTERS) and row.get("answer_index") is not None:
        answer = CHOICE_LETTERS[int(row["answer_index"])]
    question = str(row["question"]).strip()
    return Example(
        id=f"mmlu_prox-{row['question_id']}",
        lang=lang,
        question=question,
        question_en=question_en or (question if lang == "en" else ""),
        answer=answer,
        solution_en=solution_en,
        choices=choices_of(row),
    )


def load(lang: str, data_root=None, hub_id: str = HUB_ID) -> list[Example]:
    """MMLU-ProX test in `lang` from the hub (a local data root has no copy of it)."""
    if lang not in LANGUAGES:
        raise ValueError(
            f"language '{lang}' is not in dataset 'mmlu_prox'; it has: {', '.join(LANGUAGES)} (set langs=... accordingly)"
        )
    english = {row["question_id"]: row for row in load_hub_rows(hub_id, "en", "test")}
    rows = list(english.values()) if lang == "en" else load_hub_rows(hub_id, lang, "test")
    examples = []
    for row in rows:
        en_row = english.get(row["question_id"], {})
        solution = _COT_LEAD.sub("", str(en_row.get("cot_content") or ""))
        examples.append(row_to_example(row, lang, str(en_row.get("question", "")).strip(), solution))
    return examples
