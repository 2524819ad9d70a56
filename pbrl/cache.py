"""pbrl's on-disk cache: where it lives, and the keyed JSONL store that the stages' caches share.

    default_cache_dir()                                   # $PBRL_CACHE, else ~/.cache/pbrl
    cache = JsonlCache(default_cache_dir() / "pivot" / "pivot-1f2e.jsonl")
    cache.put_many([("9a41...", {"id": "mgsm-0", "samples": ["..."]})])   # one line per entry
    cache.get("9a41...")   # -> {"key": "9a41...", "id": "mgsm-0", "samples": ["..."]}, or None

The English pivot's samples (`pbrl.pivot.cache`) and machine-translated training questions
(`pbrl.data.translate`) are JsonlCaches: an entry is appended as soon as it is computed
(pbrl.rundir.append_jsonl) and a torn last line is dropped on read, so a run killed mid-way resumes
with what it had finished. The file's name carries a hash of everything besides the key that the
entries depend on (model, settings), so changed settings are a cache miss, never a stale hit.
(The reward backends' text caches, `pbrl.rewards.backends.cache`, are written by every process of a
multi-GPU run at once, so they keep a whole-file snapshot, rewritten atomically.)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from pbrl.rundir import append_jsonl, atomic_write_json, read_jsonl


def default_cache_dir() -> Path:
    """`$PBRL_CACHE`, else `~/.cache/pbrl`: models, pivot samples, translations and reward caches."""
    return Path(os.environ.get("PBRL_CACHE") or Path.home() / ".cache" / "pbrl").expanduser()


def digest(obj) -> str:
    """SHA-256 (hex) of `obj` as canonical JSON: a cache key or file name for settings."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class JsonlCache:
    """Rows `{"key": key, **fields}` of one JSONL file, by key (the last row of a key wins).

    settings: written next to the file (`<name>.settings.json`) when the file is created, so a
    person can tell what a cache file holds.
    """

    def __init__(self, path: str | Path, settings: dict | None = None):
        self.path = Path(path).expanduser()
        self.settings = settings
        self._rows = {row["key"]: row for row in read_jsonl(self.path) if "key" in row}

    def get(self, key: str) -> dict | None:
        return self._rows.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def put_many(self, items: Iterable[tuple[str, dict]]) -> None:
        """Append one row per (key, fields); call once per computed batch."""
        if self.settings is not None and not self._rows and not self.path.exists():
            atomic_write_json(self.path.with_suffix(".settings.json"), self.settings)
        for key, fields in items:
            row = {"key": key, **fields}
            append_jsonl(self.path, row)
            self._rows[key] = row
