"""The same entrypoint under torchrun with 2 CPU processes (gloo): rank 0 alone writes the run dir."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(torchrun is None, reason="torchrun not installed next to this python")
def test_two_process_cpu_run(tmp_path, tiny_cache):
    cmd = [torchrun, "--nproc_per_node", "2", "-m", "pbrl.run", "policy=tiny", "eval=quick", "reward=accuracy",
           "algo.max_steps=2", "data.train_size=4", "data.eval_size=2", "algo.max_completion_length=16", "threads=1",
           f"paths.runs={tmp_path}/runs", f"paths.cache={tiny_cache}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next((tmp_path / "runs" / "default").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2], "one metrics line per step, written by rank 0 only"
    assert proc.stdout.count("| en |") == 1, "only rank 0 prints the report"
    assert (run_dir / "checkpoints" / "final").is_dir()
