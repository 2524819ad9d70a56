"""On-disk cache of pivot samples: one JSONL file per (model, generation settings), one line per question.

A line is appended after every batch (pbrl.rundir.append_jsonl; a torn last line is dropped on
read), so a run killed mid-generation resumes with the questions it had not finished.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pbrl.rundir import append_jsonl, read_jsonl


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class SampleCache:
    """Samples by question key in `cache_dir`/pivot-<settings hash>.jsonl.

    settings: everything that changes the samples besides the question (model, backend, k,
    temperature, max_new_tokens, seed). The question key hashes the id and the rendered prompt,
    so a changed prompt template is a cache miss, never a stale hit.
    """

    def __init__(self, cache_dir: str | Path, settings: dict):
        self.settings = dict(settings)
        self.path = Path(cache_dir).expanduser() / f"pivot-{_digest(self.settings)[:20]}.jsonl"
        self._rows = {row["key"]: row for row in read_jsonl(self.path) if "key" in row}

    @staticmethod
    def question_key(question_id: str, prompt) -> str:
        return _digest([question_id, prompt])

    def get(self, key: str) -> list[str] | None:
        row = self._rows.get(key)
        return row["samples"] if row else None

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def put_many(self, items: list[tuple[str, str, list[str]]]) -> None:
        """Append (key, question id, samples) rows; call once per generated batch."""
        if not self._rows and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            (self.path.with_suffix(".settings.json")).write_text(json.dumps(self.settings, indent=2, default=str))
        for key, question_id, samples in items:
            row = {"key": key, "id": question_id, "samples": list(samples)}
            append_jsonl(self.path, row)
            self._rows[key] = row
