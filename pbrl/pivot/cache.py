"""On-disk cache of pivot samples: one JSONL file per (model, generation settings), one line per question.

A line is appended after every batch (pbrl.cache.JsonlCache; a torn last line is dropped on read),
so a run killed mid-generation resumes with the questions it had not finished.
"""

from __future__ import annotations

from pathlib import Path

from pbrl.cache import JsonlCache, digest


class SampleCache(JsonlCache):
    """Samples by question key in `cache_dir`/pivot-<settings hash>.jsonl.

    settings: everything that changes the samples besides the question (model, backend, k,
    temperature, max_new_tokens, seed). The question key hashes the id and the rendered prompt,
    so a changed prompt template is a cache miss, never a stale hit.
    """

    def __init__(self, cache_dir: str | Path, settings: dict):
        settings = dict(settings)
        super().__init__(Path(cache_dir).expanduser() / f"pivot-{digest(settings)[:20]}.jsonl", settings)

    @staticmethod
    def question_key(question_id: str, prompt) -> str:
        return digest([question_id, prompt])

    def samples(self, key: str) -> list[str] | None:
        row = self.get(key)
        return row["samples"] if row else None
