"""Wall seconds per stage and peak RSS of the default run (`python -m pbrl.run`, no overrides).

    python benchmarks/default_run.py [--fresh-cache] [--threads 2] [overrides ...]

Runs the pipeline in this process with timers around the pieces of a training step (generation,
reward, the rest = forward/backward/update), so the stages add up to the wall time. `--fresh-cache`
materializes SmolLM2 into an empty cache first, as a first-time user would.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

TIMERS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed(name, fn):
    def wrapper(*args, **kwargs):
        CALLS[name] += 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMERS[name] += time.perf_counter() - start

    wrapper.__name__ = getattr(fn, "__name__", name)
    return wrapper


def check_timers_fired() -> None:
    """A renamed TRL or pbrl method leaves its timer at 0 and the table silently wrong: fail instead."""
    silent = [name for name in ("train: generation", "train: reward") if not CALLS[name]]
    if silent:
        raise SystemExit(f"default_run.py: the timers {silent} never ran; the methods they wrap "
                         "(GRPOTrainer._generate, ComponentReward.__call__) are no longer called")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh-cache", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch

    torch.set_num_threads(args.threads)
    from trl import GRPOTrainer

    from pbrl.config import compose_config
    from pbrl.models import resolve_model
    from pbrl.pipeline import run_pipeline
    from pbrl.rewards.base import ComponentReward

    work = Path(tempfile.mkdtemp(prefix="pbrl-bench-"))
    cache = work / "cache" if args.fresh_cache else None
    overrides = [f"paths.runs={work}/runs", f"device={args.device}", *args.overrides]
    if cache:
        overrides.append(f"paths.cache={cache}")
    cfg = compose_config(overrides)

    wall_start = time.perf_counter()
    start = time.perf_counter()
    resolve_model(cfg.policy.model, Path(cfg.paths.cache).expanduser())
    TIMERS["materialize"] = time.perf_counter() - start

    GRPOTrainer._generate = timed("train: generation", GRPOTrainer._generate)
    ComponentReward.__call__ = timed("train: reward", ComponentReward.__call__)
    summary = run_pipeline(cfg, work / "runs" / "default" / "default")
    wall = time.perf_counter() - wall_start
    if cfg.algo.trainer == "grpo":  # the timers wrap GRPO's methods
        check_timers_fired()

    stages = summary["stage_timings"]
    train = stages["train"]["seconds"]
    rows = [
        ("materialize", TIMERS["materialize"]),
        ("data", stages["data"]["seconds"]),
        ("references (pivot)", stages["pivot"]["seconds"]),
        ("eval before", stages.get("eval_before", {}).get("seconds", 0.0)),
        ("train: generation", TIMERS["train: generation"]),
        ("train: reward", TIMERS["train: reward"]),
        ("train: forward/backward/update", train - TIMERS["train: generation"] - TIMERS["train: reward"]),
        ("eval after", stages.get("eval_after", {}).get("seconds", 0.0)),
        ("report", stages["report"]["seconds"]),
    ]
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    child_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    device = summary["device"] if summary["device"] == "cpu" else torch.cuda.get_device_name(0)
    print(f"\ndefault run on {device}, {args.threads} CPU threads, fresh cache: {args.fresh_cache}")
    print(f"{'stage':34s} {'seconds':>8s}")
    for name, seconds in rows:
        print(f"{name:34s} {seconds:8.1f}")
    print(f"{'wall (total)':34s} {wall:8.1f}")
    print(f"peak RSS: {rss_gb:.2f} GB (largest child process: {child_gb:.2f} GB)")
    first, last = summary["first_metrics"], summary["final_metrics"]
    print(f"reward/mean first step {first.get('reward/mean')}, last step {last.get('reward/mean')}")
    print(f"run dir: {summary['run_dir']}")


if __name__ == "__main__":
    sys.exit(main())
