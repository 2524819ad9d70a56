"""Reading the data root's files with one-line errors that name the file and the fix."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from pbrl.answers import normalize_answer, to_number

# Called with (row, line number) for every row read; raises `corrupt(...)` on a bad value.
RowCheck = Callable[[object, int], None]


def require_file(path: Path, dataset: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset} file {path} not found; set paths.data_root (env PBRL_DATA_ROOT) to the folder "
            f"holding {path.parent.name}/, or paths.data_root=null to load {dataset} from the hub"
        )
    return path


def corrupt(dataset: str, path, lineno: int, problem: str) -> ValueError:
    """The one-line error for a bad row: file, line, what is wrong, and the fix."""
    return ValueError(f"corrupt {dataset} file {path} line {lineno}: {problem}; re-download it")


def require_number(value, field: str, dataset: str, path, lineno: int) -> None:
    """A gold answer that is not a number (or fraction) would make every prediction wrong."""
    if to_number(normalize_answer(value)) is None:
        raise corrupt(dataset, path, lineno, f"{field} {str(value)[:40]!r} is not a number")


def require_text(value, field: str, dataset: str, path, lineno: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise corrupt(dataset, path, lineno, f"{field} {str(value)[:40]!r} is empty or not text")


def read_json_objects(path: Path, bad_line: Callable[[int, str | None], Exception],
                      check: RowCheck | None = None) -> list[dict]:
    """Every non-blank line of the JSONL file `path` as a dict, strictly: a line that is not JSON, or
    not an object, raises `bad_line(line number, the JSON error or None for "not an object")`;
    `check(row, line number)` may raise on a bad value. Never a silently shortened input."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise bad_line(lineno, err.msg) from None
            if not isinstance(row, dict):
                raise bad_line(lineno, None)
            if check is not None:
                check(row, lineno)
            rows.append(row)
    return rows


def read_jsonl_file(path: Path, dataset: str, check: RowCheck | None = None) -> list[dict]:
    def bad_line(lineno: int, json_error: str | None) -> ValueError:
        return corrupt(dataset, path, lineno, json_error or "not a JSON object")

    return read_json_objects(require_file(path, dataset), bad_line, check)


def read_tsv_file(path: Path, dataset: str, columns: int, check: RowCheck | None = None) -> list[list[str]]:
    rows = []
    with open(require_file(path, dataset), encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row:
                continue
            if len(row) != columns:
                raise corrupt(dataset, path, lineno, f"{len(row)} columns, expected {columns}")
            if check is not None:
                check(row, lineno)
            rows.append(row)
    return rows


def require_fields(row: dict, fields: tuple[str, ...], path, dataset: str, index: int) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(
            f"corrupt {dataset} row {index} in {path}: missing field(s) {', '.join(missing)}; re-download it"
        )
