"""Write one `metrics.jsonl` line per optimizer step (and forward it to the tracker)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from transformers import TrainerCallback

from pbrl.rundir import append_jsonl, atomic_write_jsonl, read_jsonl

# TRL's names -> the run-directory contract's names
RENAMES = {"reward": "reward/mean", "reward_std": "reward/std", "train_loss": "loss"}


def truncate_metrics(path: Path, last_step: int) -> None:
    """On resume, drop lines logged after the checkpoint we restart from (they will be redone)."""
    rows = read_jsonl(path)
    kept = [r for r in rows if r.get("step", 0) <= last_step]
    if len(kept) != len(rows) or (path.exists() and not rows):
        atomic_write_jsonl(path, kept)


def metrics_row(step: int, logs: dict, reward_stats: dict, seconds: float) -> dict:
    row = {"step": step}
    for key, value in logs.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row[RENAMES.get(key, key)] = float(value) if math.isfinite(value) else None
    for name, stats in reward_stats.items():
        row[f"rewards/{name}/none"] = stats["none"]
        # within-prompt-group spread: a component at frac_zero_std 1 gives GRPO no signal
        for key in ("group_std", "frac_zero_std"):
            if key in stats:
                row[f"rewards/{name}/{key}"] = stats[key]
    row.setdefault("kl", None)  # TRL logs KL only when beta > 0; the contract always has the key
    row["seconds"] = round(seconds, 3)
    return row


class MetricsCallback(TrainerCallback):
    def __init__(self, path: Path, tracker, reward_set=None, is_main_process: bool = True):
        self.path = Path(path)
        self.tracker = tracker
        self.reward_set = reward_set
        self.is_main_process = is_main_process
        self._start = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "train_runtime" in logs or not self.is_main_process:
            return
        stats = self.reward_set.pop_stats() if self.reward_set is not None else {}
        row = metrics_row(state.global_step, logs, stats, time.perf_counter() - self._start)
        append_jsonl(self.path, row)
        self.tracker.log(row, step=state.global_step)
