"""The default `python -m pbrl.run` (no overrides): SmolLM2 + LoRA, GRPO, hybrid reward, generated word problems.

Runs once, offline, with the model materialized into PBRL_CACHE (CI shares it across tests).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from pbrl.config import compose_config


@pytest.mark.slow
def test_default_command_runs_end_to_end(tmp_path):
    cfg = compose_config([])
    assert (cfg.policy.name, cfg.pivot.name, cfg.reward.name, cfg.algo.name, cfg.data.name) == (
        "smollm2_135m", "gold", "hybrid", "grpo", "wordproblems"
    ), "the default is the offline laptop run"
    env = {k: v for k, v in os.environ.items() if k not in ("PBRL_DATA_ROOT", "WANDB_API_KEY")}
    proc = subprocess.run(
        [sys.executable, "-m", "pbrl.run", f"paths.runs={tmp_path}/runs"],
        capture_output=True, text=True, timeout=1800, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    run_dir = tmp_path / "runs" / "default" / "default"
    for name in (".hydra/config.yaml", "references.jsonl", "metrics.jsonl", "eval.json", "summary.json",
                 "report.png", "report.md", "checkpoints/final/adapter_config.json"):
        assert (run_dir / name).exists(), name

    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, cfg.algo.max_steps + 1)), "one line per step"
    for row in metrics:
        for key in ("reward/mean", "rewards/embed/mean", "rewards/accuracy/mean", "rewards/language/mean"):
            assert row[key] is not None and math.isfinite(row[key]), (row["step"], key)

    # the semantic reward has signal: nonzero and different between completions of one prompt at most steps
    assert sum(m["rewards/embed/mean"] > 0 for m in metrics) > len(metrics) / 2
    assert sum(m["rewards/embed/frac_zero_std"] < 1 for m in metrics) > len(metrics) / 2
    # one-line answers end inside the completion budget
    assert sum(m["completions/clipped_ratio"] for m in metrics) / len(metrics) < 0.5

    evals = json.loads((run_dir / "eval.json").read_text())
    assert list(evals["languages"]) == ["en", "bn", "de", "es", "fr", "ja", "ru", "sw", "zh"]
    for lang, by_when in evals["languages"].items():
        assert by_when["before"]["n"] == by_when["after"]["n"] == cfg.data.eval_size
        lo, hi = by_when["after"]["accuracy_ci"]
        assert lo <= by_when["after"]["accuracy"] <= hi
    assert {"delta", "aggregate"} <= set(evals) and "non_en_avg" in evals["delta"]
    assert "| en |" in proc.stdout and "| bn |" in proc.stdout, "per-language table printed"
    summary = json.loads((run_dir / "summary.json").read_text())
    print(f"\ndefault run: {summary['wall_seconds']} s; reward/mean step 1 = {metrics[0]['reward/mean']:.3f}, "
          f"step {len(metrics)} = {metrics[-1]['reward/mean']:.3f}\n{(run_dir / 'report.md').read_text()}")
