"""MSVAMP (microsoft/MathOctopus): 1,000 SVAMP problems in 10 languages (no Telugu).

Files: <data_root>/msvamp/test_<Language>.json (JSONL), rows {m_query, query (English), equation,
response}; the English file has no `query`. Answers are floats like `8.0`. Hub: Mathoctopus/MSVAMP.
"""

from __future__ import annotations

from pathlib import Path

from pbrl.answers import normalize_answer
from pbrl.data.example import Example
from pbrl.data.files import read_jsonl_file, require_fields, require_number, require_text
from pbrl.data.hub import load_hub_rows
from pbrl.languages import LANGUAGES as ALL_LANGUAGES

NAME = "msvamp"
HUB_ID = "Mathoctopus/MSVAMP"
LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "th", "zh")


def file_name(lang: str) -> str:
    return f"test_{ALL_LANGUAGES[lang].name}.json"


def _rows(lang: str, data_root, hub_id: str) -> list[dict]:
    if data_root is None:
        rows = load_hub_rows(hub_id, None, "train", data_files=file_name(lang))
        path = f"{hub_id}/{file_name(lang)}"
    else:
        path = Path(data_root) / "msvamp" / file_name(lang)

        def check(row, lineno):
            require_fields(row, ("m_query", "response"), path, NAME, lineno)
            require_text(row["m_query"], "m_query", NAME, path, lineno)
            require_number(row["response"], "response", NAME, path, lineno)

        rows = read_jsonl_file(path, NAME, check=check)
    for i, row in enumerate(rows):
        require_fields(row, ("m_query", "response"), path, NAME, i)
    return rows


def load(lang: str, data_root: str | Path | None, hub_id: str = HUB_ID) -> list[Example]:
    """MSVAMP in `lang` with ids `msvamp-<row>` (rows are parallel across languages)."""
    if lang not in LANGUAGES:
        raise ValueError(
            f"language '{lang}' is not in dataset 'msvamp'; it has: {', '.join(LANGUAGES)} (set langs=... accordingly)"
        )
    rows = _rows(lang, data_root, hub_id)
    english = rows if lang == "en" else _rows("en", data_root, hub_id)
    return [
        Example(
            id=f"msvamp-{i}",
            lang=lang,
            question=row["m_query"].strip(),
            question_en=(row.get("query") or english[i]["m_query"]).strip(),
            answer=normalize_answer(row["response"]),
        )
        for i, row in enumerate(rows)
    ]
