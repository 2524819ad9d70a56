"""How a command fails on bad input: one line on stderr, exit status 2, nothing written.

    pbrl: error: <what is wrong, naming the value>; <the fix>

`fail` prints it; `one_line_errors()` turns a ConfigError/ValueError/FileNotFoundError raised inside
into it; `explain_composition_error` turns Hydra's and OmegaConf's many-line composition errors
(an unknown key, a wrong type) into that one line.

Example:
    >>> with one_line_errors():
    ...     raise ValueError("n=0 must be an integer >= 1")
    pbrl: error: n=0 must be an integer >= 1
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import NoReturn

from omegaconf import DictConfig, OmegaConf

from pbrl.errors import unknown_key_message
from pbrl.hub_errors import exception_chain


def fail(message: str) -> NoReturn:
    print(f"pbrl: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(2)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Bad input raised inside becomes one `pbrl: error:` line and exit status 2."""
    try:
        yield
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, ImportError, TypeError) as exc:
        fail(str(exc) or type(exc).__name__)


def explain_composition_error(exc: BaseException, overrides: list[str]) -> str:
    """Hydra/OmegaConf errors span many lines and suggest `+key`; users need one line."""
    from pbrl.config import compose_config

    text = "\n".join(str(e) for e in exception_chain(exc))
    full_key = re.search(r"full_key: (\S+)", text)
    key = full_key.group(1) if full_key else None
    if key and ("not in struct" in text or "Key '" in text and "not" in text):
        parent_key, _, _ = key.rpartition(".")
        try:
            base = compose_config([o for o in overrides if not o.lstrip("+~").startswith(key)
                                   and not o.startswith(("hydra.", "hydra/"))])
            node = OmegaConf.select(base, parent_key) if parent_key else base
            allowed = list(node.keys()) if isinstance(node, DictConfig) else []
        except Exception:
            allowed = []
        if key.startswith("algo.args."):  # free-form trainer arguments: new ones need Hydra's '+'
            return f"'{key}' is not in this algo preset; add trainer arguments with +{key}=..."
        return unknown_key_message(key, allowed)
    first_lines = [line for e in exception_chain(exc) for line in str(e).splitlines()[:1] if line.strip()]
    detail = first_lines[-1] if first_lines else type(exc).__name__
    return f"bad value for '{key}': {detail}" if key else detail
