"""The laptop studies' commands end to end with the tiny policy: `sweeps/unseen_languages.sh` trains
on all languages and on the four of `langs=demo_seen`, and `analysis.report` splits seen from unseen;
`sweeps/seed_reliability.sh` runs the default over seeds on dev, and the report shows each seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = ["policy=tiny", "eval=quick", "algo.max_steps=2", "algo.save_steps=2", "algo.max_completion_length=12",
        "data.train_size=4", "data.eval_size=3", "eval.max_new_tokens=8", "threads=1"]


def run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1", **env)
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=full_env, check=False)


def report(sweep: Path, tmp_path: Path, *args: str) -> str:
    proc = run([sys.executable, "-m", "pbrl.analysis.report", str(sweep), *args], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_unseen_languages_study(tmp_path, tiny_cache):
    proc = run(["bash", str(REPO / "sweeps" / "unseen_languages.sh"), *TINY, f"paths.runs={tmp_path}/runs",
                f"paths.cache={tiny_cache}"], tmp_path, SEEDS="0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| seen avg (es ru sw zh) | 12 |" in proc.stdout     # the per-run table of a 4-language arm
    assert "| unseen avg (bn de fr ja) | 12 |" in proc.stdout
    sweep = tmp_path / "runs" / "unseen_languages"
    assert len([p for p in sweep.iterdir() if p.is_dir()]) == 3
    printed = report(sweep, tmp_path, "baseline=reward=accuracy,langs=demo_seen")
    lines = printed.splitlines()
    assert "**Seen vs unseen languages after training" in printed
    for arm, trained_on in (("reward=hybrid,langs=demo", "all"), ("reward=hybrid,langs=demo_seen", "es ru sw zh"),
                            ("reward=accuracy,langs=demo_seen", "es ru sw zh")):
        assert any(line.startswith(f"| {arm} | 1 | {trained_on} |") for line in lines), arm
    assert any(line.startswith("| no training (before) | 1 | none |") for line in lines)


def test_seed_reliability_study(tmp_path, tiny_cache):
    proc = run(["bash", str(REPO / "sweeps" / "seed_reliability.sh"), *TINY[:-3], "threads=1",
                f"paths.runs={tmp_path}/runs", f"paths.cache={tiny_cache}"], tmp_path, SEEDS="0,1", EVAL_SIZE="3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "runs" / "seed_reliability"
    configs = sorted(sweep.glob("*/.hydra/config.yaml"))
    assert len(configs) == 2 and all("eval_split: dev" in c.read_text() for c in configs)
    printed = report(sweep, tmp_path)
    section = printed.split("**Seed by seed", 1)[1].split("\n**", 1)[0]
    seed_lines = [line for line in section.splitlines() if line.startswith("| seed=")]
    assert [line.split(" |")[0] for line in seed_lines] == ["| seed=0", "| seed=1"]
    assert "non-English gain in" in printed and "of 2 seeds" in printed
