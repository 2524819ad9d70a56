"""A materialized model folder's contract: a checksummed `pbrl_manifest.json`, and a lock so that
parallel jobs sharing a cache build a model once (the folder itself is written by
`pbrl.rundir.atomic_directory`).

    check_manifest("~/.cache/pbrl/models/smollm2-135m-instruct")   # -> None when complete, else why not
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tqdm.auto import tqdm

from pbrl.rundir import atomic_write_json, read_json

MANIFEST_NAME = "pbrl_manifest.json"
_HASH_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike, desc: str | None = None) -> str:
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                     desc=desc or f"sha256 {path.name}", disable=desc is None) as bar:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def check_manifest(folder: str | os.PathLike, full: bool = False) -> str | None:
    """Return why `folder` is not a complete materialized model, or None if it is.

    The fast check compares file sizes with the manifest; `full=True` also re-hashes every file.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return f"no {MANIFEST_NAME} in {folder}"
    try:
        files = read_json(manifest_path)["files"]
    except (ValueError, KeyError, TypeError):
        return f"unreadable {manifest_path}"
    for rel, meta in files.items():
        path = folder / rel
        if not path.is_file():
            return f"missing file {path}"
        if path.stat().st_size != meta["size"]:
            return f"size of {path} is {path.stat().st_size}, manifest says {meta['size']}"
        if full and sha256_file(path, desc=f"verify {rel}") != meta["sha256"]:
            return f"sha256 of {path} does not match the manifest"
    return None


def write_manifest(folder: Path, extra: dict) -> dict:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME):
        rel = path.relative_to(folder).as_posix()
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path, desc=f"sha256 {rel}")}
    manifest = {**extra, "files": files}
    atomic_write_json(folder / MANIFEST_NAME, manifest)
    return manifest


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    # Parallel jobs sharing a cache wait for one builder instead of each converting the model.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
