"""Reading the data root's files with one-line errors that name the file and the fix."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def require_file(path: Path, dataset: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset} file {path} not found; set paths.data_root (env PBRL_DATA_ROOT) to the folder "
            f"holding {path.parent.name}/, or paths.data_root=null to load {dataset} from the hub"
        )
    return path


def read_jsonl_file(path: Path, dataset: str) -> list[dict]:
    rows = []
    with open(require_file(path, dataset), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"corrupt {dataset} file {path} line {lineno}: {err.msg}; re-download it") from None
            if not isinstance(row, dict):
                raise ValueError(f"corrupt {dataset} file {path} line {lineno}: not a JSON object; re-download it")
            rows.append(row)
    return rows


def read_tsv_file(path: Path, dataset: str, columns: int) -> list[list[str]]:
    rows = []
    with open(require_file(path, dataset), encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row:
                continue
            if len(row) != columns:
                raise ValueError(
                    f"corrupt {dataset} file {path} line {lineno}: {len(row)} columns, expected {columns}; re-download it"
                )
            rows.append(row)
    return rows


def require_fields(row: dict, fields: tuple[str, ...], path, dataset: str, index: int) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(
            f"corrupt {dataset} row {index} in {path}: missing field(s) {', '.join(missing)}; re-download it"
        )
