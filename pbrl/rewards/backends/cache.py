"""In-memory text-keyed caches with an optional atomic on-disk copy (one JSON file per backend)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from pbrl.rewards.base import text_hash
from pbrl.rundir import atomic_write_json


class TextCache:
    """Maps text → value, keyed by the SHA-1 of the text; counts hits and misses.

    With `path`, entries are loaded from it on first use and `flush()` rewrites it atomically
    (pbrl.rundir), so a run killed mid-write keeps the previous complete file.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path).expanduser() if path else None
        self.data: dict[str, object] = {}
        self.hits = 0
        self.misses = 0
        self._dirty = False
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.path is not None and self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                stored = json.load(f)
            self.data.update({k: self.decode(v) for k, v in stored.items()})

    def get(self, text: str):
        self._load()
        value = self.data.get(text_hash(text))
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, text: str, value) -> None:
        self._load()
        self.data[text_hash(text)] = value
        self._dirty = True

    def __contains__(self, text: str) -> bool:
        self._load()
        return text_hash(text) in self.data

    def __len__(self) -> int:
        self._load()
        return len(self.data)

    def flush(self) -> None:
        if self.path is None or not self._dirty:
            return
        atomic_write_json(self.path, {k: self.encode(v) for k, v in self.data.items()})
        self._dirty = False

    def stats(self) -> dict[str, int]:
        return {"size": len(self), "hits": self.hits, "misses": self.misses}

    def encode(self, value):
        return value

    def decode(self, value):
        return value


class VectorCache(TextCache):
    """A TextCache of float32 vectors, stored on disk as base64 (exact and compact)."""

    def encode(self, value):
        return base64.b64encode(np.asarray(value, dtype=np.float32).tobytes()).decode("ascii")

    def decode(self, value):
        return np.frombuffer(base64.b64decode(value), dtype=np.float32).copy()


def cache_file(cache_dir: str | Path | None, kind: str, backend_key: str) -> Path | None:
    """`<cache_dir>/<kind>-<hash of backend key>.json`, or None when no cache_dir is set."""
    if not cache_dir:
        return None
    return Path(cache_dir).expanduser() / f"{kind}-{text_hash(backend_key)[:12]}.json"
