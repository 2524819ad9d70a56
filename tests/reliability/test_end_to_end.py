"""Through the real command line: bad input stops before anything is written, W&B follows the
environment, and no credential lands in any file a run writes (W&B's offline files included)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = ["policy=tiny", "eval=quick", "algo.max_steps=1", "algo.save_steps=1", "algo.max_completion_length=8",
        "algo.per_device_batch_size=2", "algo.gradient_accumulation_steps=1", "algo.num_generations=2",
        "data.train_size=2", "data.eval_size=1", "eval.max_new_tokens=4", "threads=1"]
WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"
HF_TOKEN = "hf_reliabilitytestNOTAREALTOKEN0123456789"


def pbrl_run(tmp_path: Path, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "pbrl.run", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path, env=full_env)


def written(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "args,names",
    [
        (["policy=tiny", "reward=mt", "reward.components.mt.translator=bergamot",  # was: a traceback after 43 s,
          "reward.components.mt.translator_model=null"], "no translator covers de"),  # printed twice
        (["-m", "policy=tiny", "algo.learning_rate=1e-5,nan"], "algo.learning_rate=nan"),  # 2nd job of a sweep
        (["policy=tiny", "+logger.api_key=abc"], "logger.api_key"),
        (["policy=tiny", "paths.data_root=/nonexistent"], "paths.data_root=/nonexistent"),
    ],
    ids=["untranslatable language", "sweep's 2nd job", "secret override", "missing data root"],
)
def test_bad_input_stops_the_command_at_start(args, names, tmp_path):
    start = time.perf_counter()
    proc = pbrl_run(tmp_path, *args, f"paths.runs={tmp_path}/runs")
    seconds = time.perf_counter() - start
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pbrl: error: ") and names in lines[0], lines
    assert written(tmp_path) == [], "nothing may be written (no run dir, no multirun.yaml, no outputs/)"
    print(f"\n{args}: exit 2 after {seconds:.1f} s")


def test_wandb_environment_wins_over_logger_mode(monkeypatch):
    from omegaconf import OmegaConf

    from pbrl.tracking import NullTracker, make_tracker, wandb_mode

    monkeypatch.setenv("WANDB_API_KEY", WANDB_KEY)  # a key is set: auto alone would go online
    monkeypatch.delenv("WANDB_DISABLED", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_mode("auto") == "offline" and wandb_mode("online") == "offline"
    monkeypatch.delenv("WANDB_MODE")
    assert wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_DISABLED", "true")
    assert wandb_mode("auto") == "disabled"
    logger = OmegaConf.create({"backend": "wandb", "mode": "auto"})
    assert isinstance(make_tracker(logger, Path("unused"), {}), NullTracker)


def test_no_secret_in_any_file_a_run_writes(tmp_path, tiny_cache, data_root):
    """A tiny run with logger=wandb, WANDB_MODE=offline and credentials in the environment (a W&B key
    that would make logger.mode=auto go online, an HF token): the run stays offline, and neither
    credential appears in .hydra/, logs, summaries, the run directory's name or W&B's files."""
    home = tmp_path / "home"
    env = {"WANDB_API_KEY": WANDB_KEY, "HF_TOKEN": HF_TOKEN, "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "HOME": str(home), "WANDB_DIR": str(tmp_path / "runs"), "WANDB_CONFIG_DIR": str(home / "wandb-config"),
           "WANDB_CACHE_DIR": str(home / "wandb-cache"), "WANDB_DATA_DIR": str(home / "wandb-data"),
           "PBRL_DATA_ROOT": str(data_root), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = pbrl_run(tmp_path, *TINY, "logger=wandb", f"paths.runs={tmp_path}/runs", f"paths.cache={tiny_cache}",
                    env=env)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = written(tmp_path)
    assert any(p.suffix == ".wandb" and p.parent.name.startswith("offline-run-") for p in files), \
        "WANDB_MODE=offline must win over logger.mode=auto with a key set"
    assert any(p.parts[-2:] == (".hydra", "config.yaml") for p in files)
    assert not any(p.name == ".pbrl.lock" for p in files), "the run-directory lock is released at the end"
    for secret in (WANDB_KEY, HF_TOKEN):
        assert secret not in proc.stdout + proc.stderr
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"{secret[:6]}... found in {path}"
            assert secret not in str(path)
    print(f"\nsecrets test: {len(files)} files grepped, run took {seconds:.1f} s")
