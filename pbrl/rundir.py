"""Atomic file and folder writes, JSONL helpers and the run-directory lock for run directories and caches.

Every file or folder a stage produces is written to a temporary sibling and renamed into place, so a
run killed mid-write never leaves a half file that a restarted run would mistake for finished work.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator


def share_with_umask(path: str | os.PathLike) -> None:
    """Give `path` (a folder: with everything in it) the permissions the umask allows: mkstemp and
    mkdtemp make private 0600/0700 ones, and run directories and caches are read by others."""
    umask = os.umask(0)
    os.umask(umask)
    path = Path(path)
    for item in [path, *(path.rglob("*") if path.is_dir() else ())]:
        item.chmod((0o777 if item.is_dir() else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """Write the folder `target` all at once: fill the temporary sibling this yields; when the block
    ends it is renamed to `target`. An error inside the block removes it and leaves `target` as it was.

    replace: an existing `target` is replaced; with False, an existing `target` (another process
    finished the same folder first) stands and this copy is dropped.

    Example:
        >>> with atomic_directory("runs/x/checkpoints/final") as tmp:
        ...     model.save_pretrained(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield tmp
        share_with_umask(tmp)
        if replace and target.exists():
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if replace or not target.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished `target` first: theirs stands
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Write the file `path` all at once: write the temporary sibling this yields (same suffix, so
    writers that go by it, such as savefig, see the real one); when the block ends it is flushed to
    disk and renamed to `path`. An error inside the block removes it and leaves `path` as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        share_with_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_safe(obj: Any) -> Any:
    """`obj` with NaN and ±inf floats as None: JSON has no NaN (Python writes a bare `NaN` that
    other readers reject), and a missing value is what a non-finite score means."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs) -> str:
    return json.dumps(json_safe(obj), ensure_ascii=False, default=str, allow_nan=False, **kwargs)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps(obj, indent=2) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(dumps(r) + "\n" for r in rows))


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    """Append one line; a torn last line (killed mid-append) is dropped by `read_jsonl`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    rows = []
    path = Path(path)
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # torn final line of an interrupted append
    return rows


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- run-directory lock ------------------------------------------------------------------------

LOCK_NAME = ".pbrl.lock"


class RunDirLocked(RuntimeError):
    """Another live process tree holds the run directory."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux /proc), so a recycled PID is not taken for the holder."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    now = _process_start(pid)
    return start is None or now is None or now == start


class RunDirLock:
    """`<run_dir>/.pbrl.lock`: one process tree (its rank 0) per run directory.

    The lock file records PID, host, process start time and SLURM job id. It is stale, and taken
    over, when its holder ran on this host and that process is gone (a killed run restarted), or
    when it belongs to this same SLURM job id (a requeued job, wherever it lands). A live holder,
    or one on another host that cannot be checked from here, makes `acquire` raise RunDirLocked
    naming its PID and host. Created with O_EXCL, so two starts at once cannot both win.

    Example:
        >>> with RunDirLock("runs/default/x"):
        ...     ...   # a second RunDirLock("runs/default/x").acquire() elsewhere raises RunDirLocked
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK_NAME
        self.held = False

    def _record(self) -> dict:
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid()),
                "slurm_job_id": os.environ.get("SLURM_JOB_ID")}

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, OSError):
            return {}  # half-written by a holder killed while creating it: stale

    def _stale(self, holder: dict) -> bool:
        import socket

        if not holder or not isinstance(holder.get("pid"), int):
            return True
        job = os.environ.get("SLURM_JOB_ID")
        if job and holder.get("slurm_job_id") == job:
            return True  # this job, requeued: its previous run is dead
        if holder.get("host") != socket.gethostname():
            return False
        return not _alive(holder["pid"], holder.get("start"))

    def acquire(self) -> RunDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = json.dumps(self._record())
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is None:
                    continue  # released meanwhile
                if holder.get("pid") == os.getpid() and holder.get("host") == self._record()["host"]:
                    self.held = True  # this process already holds it
                    return self
                if not self._stale(holder):
                    raise RunDirLocked(
                        f"run directory {self.path.parent} is in use by PID {holder.get('pid')} on "
                        f"{holder.get('host')} (lock {self.path}); wait for it to finish, give this run "
                        f"another name=..., or delete the lock if that process is gone"
                    ) from None
                self._remove_stale(holder)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(record)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            return self
        raise RunDirLocked(f"could not take the lock {self.path}: other processes keep replacing it")

    def _remove_stale(self, seen: dict) -> None:
        """Move the stale lock aside; if another process replaced it meanwhile, put theirs back."""
        aside = self.path.with_name(f"{LOCK_NAME}.stale.{os.getpid()}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        try:
            moved = json.loads(aside.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError):
            moved = {}
        if moved != seen:
            try:
                os.link(aside, self.path)  # fails if yet another process created one: theirs stands
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        if not self.held:
            return
        holder = self.holder()
        if holder and holder.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
