"""A run directory belongs to one process tree: a second one fails at once naming the holder; a dead
holder's lock (a killed run, a SLURM requeue) never blocks a restart."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pbrl.rundir import LOCK_NAME, RunDirLock, RunDirLocked

HOLD = """
import sys, time
from pbrl.rundir import RunDirLock
lock = RunDirLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
"""


def hold(run_dir: Path, seconds: float = 60) -> subprocess.Popen:
    """Another process holding `run_dir` (returns once it holds the lock)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir), str(seconds)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def write_lock(run_dir: Path, **record) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / LOCK_NAME).write_text(json.dumps(record))


def test_second_process_fails_naming_the_holder_then_takes_over_after_it_dies(tmp_path):
    holder = hold(tmp_path / "run")
    try:
        start = time.perf_counter()
        with pytest.raises(RunDirLocked) as info:
            RunDirLock(tmp_path / "run").acquire()
        assert time.perf_counter() - start < 1.0
        assert f"PID {holder.pid} on {socket.gethostname()}" in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    with RunDirLock(tmp_path / "run") as lock:  # killed holder: stale, taken over
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # released


def test_lock_is_released_when_the_holder_exits(tmp_path):
    holder = hold(tmp_path / "run", seconds=0)
    holder.wait(timeout=30)
    assert not (tmp_path / "run" / LOCK_NAME).exists()


def test_recycled_pid_is_not_the_holder(tmp_path):
    # A live PID (our parent) with another start time: the holder died and its PID was reused.
    write_lock(tmp_path / "run", pid=os.getppid(), host=socket.gethostname(), start="1", slurm_job_id=None)
    RunDirLock(tmp_path / "run").acquire().release()


def test_live_holder_on_another_host_blocks(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    write_lock(tmp_path / "run", pid=12345, host="node-elsewhere", start="9", slurm_job_id="77")
    with pytest.raises(RunDirLocked, match="PID 12345 on node-elsewhere"):
        RunDirLock(tmp_path / "run").acquire()


def test_slurm_requeue_of_the_same_job_takes_over(tmp_path, monkeypatch):
    """A requeued job may land on another node while its old lock still names the old one."""
    write_lock(tmp_path / "run", pid=12345, host="node-elsewhere", start="9", slurm_job_id="77")
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    RunDirLock(tmp_path / "run").acquire().release()
    monkeypatch.setenv("SLURM_JOB_ID", "78")  # another job: blocked
    write_lock(tmp_path / "run", pid=12345, host="node-elsewhere", start="9", slurm_job_id="77")
    with pytest.raises(RunDirLocked):
        RunDirLock(tmp_path / "run").acquire()


def test_half_written_lock_is_stale(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK_NAME).write_text('{"pid": 12')
    RunDirLock(tmp_path / "run").acquire().release()


def test_pbrl_run_on_a_held_run_dir_fails_at_once_and_writes_nothing(tmp_path):
    """`python -m pbrl.run` while another process holds its run directory: exit 2, one line naming the
    holder, and neither `.hydra/` nor a log is written into the holder's directory."""
    run_dir = tmp_path / "runs" / "held"
    holder = hold(run_dir)
    try:
        cmd = [sys.executable, "-m", "pbrl.run", "policy=tiny", "eval=quick", f"paths.runs={tmp_path}/runs",
               f"hydra.run.dir={run_dir}"]
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pbrl: error: run directory"), lines
    assert f"PID {holder.pid} on {socket.gethostname()}" in lines[0]
    assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_NAME]


def test_hydra_callback_locks_each_job_of_a_sweep_and_the_run(tmp_path):
    """`HoldRunDir` through Hydra's callback order: per job in -m (basic launcher: one process, jobs
    in turn), for the whole run otherwise."""
    from omegaconf import OmegaConf

    from pbrl.run import HoldRunDir

    callback = HoldRunDir()
    for i in range(2):
        job = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(tmp_path / f"job{i}")}}})
        callback.on_job_start(job)
        assert (tmp_path / f"job{i}" / LOCK_NAME).exists()
        callback.on_job_end(job)
        assert not (tmp_path / f"job{i}" / LOCK_NAME).exists()
    run = OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path / "run")},
                                      "runtime": {"output_dir": str(tmp_path / "run")}}})
    callback.on_run_start(run)
    callback.on_job_start(run)
    callback.on_job_end(run)
    assert (tmp_path / "run" / LOCK_NAME).exists()
    callback.on_run_end(run)
    assert not (tmp_path / "run" / LOCK_NAME).exists()
