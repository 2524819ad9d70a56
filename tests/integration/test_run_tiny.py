"""`python -m pbrl.run policy=tiny ...` runs every stage and writes the run-directory contract."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT = [".hydra/config.yaml", "references.jsonl", "metrics.jsonl", "eval.json", "summary.json", "report.png",
            "checkpoints/final"]
TINY = ["policy=tiny", "eval=quick", "algo.max_steps=3", "algo.save_steps=2", "algo.max_completion_length=24",
        "data.train_size=8", "data.eval_size=4", "threads=2"]


def pbrl_run(tmp_path: Path, *overrides: str, cache: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pbrl.run", *TINY, *overrides, f"paths.runs={tmp_path}/runs", f"paths.cache={cache}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)


def check_contract(run_dir: Path, steps: int) -> dict:
    for name in CONTRACT:
        assert (run_dir / name).exists(), f"missing {name} in {run_dir}"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, steps + 1))
    for row in metrics:
        for key in ("reward/mean", "reward/std", "loss", "learning_rate", "seconds", "kl"):
            assert key in row, key
        assert math.isfinite(row["reward/mean"])
    evals = json.loads((run_dir / "eval.json").read_text())
    assert list(evals["languages"])[0] == "en"
    for lang, by_when in evals["languages"].items():
        assert set(by_when) == {"before", "after"}
        assert {"n", "accuracy", "fidelity"} <= set(by_when["after"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["seed"] == 0 and "torch" in summary["versions"]
    return summary


def test_tiny_run_writes_contract_then_skips_finished_stages(tmp_path, tiny_cache):
    first = pbrl_run(tmp_path, cache=tiny_cache)
    assert first.returncode == 0, first.stderr[-3000:]
    run_dirs = list((tmp_path / "runs" / "default").iterdir())
    assert len(run_dirs) == 1, "one deterministic run directory per set of overrides"
    run_dir = run_dirs[0]
    assert run_dir.name.startswith("algo.max_completion_length=24,algo.max_steps=3")
    summary = check_contract(run_dir, steps=3)
    assert not any(t["reused"] for t in summary["stage_timings"].values())
    print(f"\ntiny end-to-end wall: {summary['wall_seconds']} s; stages: {summary['stage_timings']}")
    assert "| en |" in first.stdout, "the per-language table is printed"

    second = pbrl_run(tmp_path, cache=tiny_cache)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = check_contract(run_dir, steps=3)
    reused = {name for name, t in summary["stage_timings"].items() if t["reused"]}
    assert reused == {"data", "pivot", "eval_before", "train", "eval_after"}


def test_resumes_training_after_a_kill_before_the_end(tmp_path, tiny_cache):
    """A run whose process died after checkpoint 2 continues from it instead of starting over."""
    done = pbrl_run(tmp_path, "eval=none", cache=tiny_cache)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = next((tmp_path / "runs" / "default").iterdir())
    import shutil

    shutil.rmtree(run_dir / "checkpoints" / "final")  # as if killed between the last checkpoint and the end
    shutil.rmtree(run_dir / "checkpoints" / "checkpoint-3", ignore_errors=True)
    (run_dir / "summary.json").unlink()
    again = pbrl_run(tmp_path, "eval=none", cache=tiny_cache)
    assert again.returncode == 0, again.stderr[-3000:]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]
