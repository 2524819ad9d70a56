"""benchmarks/machine_limits.py end to end at a tiny size: limits, pbrl's share per phase, stages, one table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_machine_limits_prints_one_table(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "machine_limits.py"), "--threads", "1", "--seconds", "0.1",
         "policy=tiny", "algo.max_steps=2", "data.eval_size=2", f"paths.cache={tmp_path}/cache"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    text = "\n".join(table)
    for row in ("matmul peak, float32", "matmul peak, bfloat16", "memory read rate", "eval_before prefill",
                "eval_before decode", "train prefill", "train decode", "train forward with grad", "eval_after decode",
                "stage eval_before", "wall (the run)"):
        assert f"| {row}" in text, (row, proc.stdout[-3000:])
    decode = next(line for line in table if line.startswith("| eval_before decode"))
    assert "ms a step (bounds: arithmetic" in decode and "x the larger bound" in decode
    assert "its matmuls alone" in decode
    prefill = next(line for line in table if line.startswith("| eval_before prefill"))
    assert "useful GFLOP/s" in prefill and "% of the" in prefill
