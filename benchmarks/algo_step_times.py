"""Seconds per training step and peak memory (RSS) of GRPO, RLOO and PPO on the tiny policy (CPU).

Each algorithm runs in its own subprocess, so its peak RSS is its own; threads are pinned
(OMP_NUM_THREADS and torch.set_num_threads) so numbers compare across algorithms. The presets
(conf/algo/<name>.yaml) are used as they are except for the step count and completion length; at the
presets' learning rate the tiny policy stays near-random, so every completion runs to the length
limit and all algorithms generate the same number of tokens per step (8 completions per step).

    python benchmarks/algo_step_times.py                       # grpo rloo ppo, 12 steps, 2 threads
    python benchmarks/algo_step_times.py --algos ppo --steps 20 --threads 1 --repeats 3 --out times.json

Output: one row per algorithm: median and mean seconds per step (steps after the first, which
includes warm-up), total training seconds, peak RSS in MiB. With --repeats N the algorithms run
round-robin N times and the run with the lowest median is kept (other load on a shared machine only
ever adds time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ALGOS = ("grpo", "rloo", "ppo")


class ReferenceCharsReward:
    """Cheap stand-in reward: fraction of the completion's characters found in the reference."""

    __name__ = "refchars"

    def __call__(self, prompts=None, completions=None, reference=None, **columns):
        from pbrl.rewards.base import completion_text

        texts = [completion_text(c).replace(" ", "") for c in completions]
        return [sum(ch in ref for ch in t) / len(t) if t else None for t, ref in zip(texts, reference)]


def worker(algo: str, steps: int, completion_length: int, threads: int, cache_dir: str) -> dict:
    """Train `algo` in this process and return its timings and peak RSS."""
    import resource

    import torch

    torch.set_num_threads(threads)
    import datasets

    from pbrl.algos import train
    from pbrl.config import compose_config
    from pbrl.policy import load_policy
    from pbrl.rewards.base import RewardSet
    from pbrl.rundir import read_jsonl

    class NullTracker:
        def log(self, row, step=None):
            pass

    cfg = compose_config([f"algo={algo}", "policy=tiny", "device=cpu", f"algo.max_steps={steps}",
                          f"algo.save_steps={steps + 1}", f"algo.max_completion_length={completion_length}"])
    rows = [{"prompt": [{"role": "user", "content": f"Question: what is {i} + {i}?"}], "reference": "aeiou",
             "lang": "en", "id": f"bench-{i}"} for i in range(64)]
    policy = load_policy(cfg.policy, cache_dir, "cpu")
    rewards = RewardSet("refchars", {"refchars": ReferenceCharsReward()})
    with tempfile.TemporaryDirectory() as run_dir:
        began = time.perf_counter()
        train(policy, datasets.Dataset.from_list(rows), rewards, cfg.algo, Path(run_dir), NullTracker(), cfg.seed)
        total = time.perf_counter() - began
        metrics = read_jsonl(Path(run_dir) / "metrics.jsonl")
    seconds = sorted(r["seconds"] for r in metrics[1:])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "algo": algo,
        "steps": steps,
        "completions_per_step": cfg.algo.per_device_batch_size * cfg.algo.gradient_accumulation_steps,
        "max_completion_length": completion_length,
        "threads": threads,
        "median_step_s": seconds[len(seconds) // 2],
        "mean_step_s": sum(seconds) / len(seconds),
        "train_s": total,
        "peak_rss_mib": peak_kib / 1024,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    from pbrl.cache import default_cache_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", nargs="+", default=list(DEFAULT_ALGOS))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--completion-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cache-dir", default=str(default_cache_dir()))
    parser.add_argument("--out", help="also write the rows to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one algorithm in this process
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error(f"--steps {args.steps} leaves no step after warm-up; use 2 or more")

    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, args.completion_length, args.threads, args.cache_dir)))
        return []

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               TOKENIZERS_PARALLELISM="false")
    best: dict[str, dict] = {}
    for _ in range(args.repeats):
        for algo in args.algos:
            cmd = [sys.executable, __file__, "--worker", algo, "--steps", str(args.steps), "--threads",
                   str(args.threads), "--completion-length", str(args.completion_length), "--cache-dir", args.cache_dir]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{algo} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            if algo not in best or row["median_step_s"] < best[algo]["median_step_s"]:
                best[algo] = row
    results = [best[algo] for algo in args.algos]

    print(f"{'algo':<6} {'median s/step':>13} {'mean s/step':>11} {'train s':>8} {'peak RSS MiB':>12}")
    for r in results:
        print(f"{r['algo']:<6} {r['median_step_s']:>13.3f} {r['mean_step_s']:>11.3f} {r['train_s']:>8.1f} "
              f"{r['peak_rss_mib']:>12.0f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
