"""Does the run show PB-RLSVR's effect, and when? Stage times, peak RSS, tokens/s and the minutes until
the non-English gain is first significant, for the default run and for a finished sweep.

    python benchmarks/effect.py [--threads 2] [--every 4] [overrides ...]   # runs the default
    python benchmarks/effect.py --runs runs/comparison                    # summarizes a sweep

The default is run end to end as a user runs it (`python -m pbrl.run`, a subprocess: its wall time and
peak RSS are the user's), with a checkpoint every `--every` steps. Each checkpoint is then evaluated on
the run's own held-out problems (the same greedy evaluation), and the paired 95 % interval of the
non-English average's change from the untrained policy tells the first checkpoint where the gain
excludes 0; its minutes = time to the first evaluation + training seconds up to that step + one
evaluation. Checkpoint evaluations are measurements after the fact, not used to choose anything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def generated_tokens(run_dir: Path, tokenizer) -> dict[str, int]:
    """Tokens of the greedy answers in eval_before/after.json."""
    out = {}
    for when in ("before", "after"):
        path = run_dir / f"eval_{when}.json"
        if path.exists():
            preds = json.loads(path.read_text())["predictions"]
            out[when] = sum(len(tokenizer(p["response"], add_special_tokens=False)["input_ids"]) for p in preds)
    return out


def stage_table(run_dir: Path, tokenizer) -> list[tuple[str, float, str]]:
    summary = json.loads((run_dir / "summary.json").read_text())
    stages = summary["stage_timings"]
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    tokens = generated_tokens(run_dir, tokenizer)
    rows = []
    for name, timing in stages.items():
        note = "reused" if timing.get("reused") else ""
        when = name.removeprefix("eval_")
        if when in tokens and timing["seconds"] > 0 and not timing.get("reused"):
            note = f"{tokens[when] / timing['seconds']:.1f} generated tokens/s"
        if name == "train" and metrics and timing["seconds"] > 0 and not timing.get("reused"):
            mean_length = sum(m.get("completions/mean_length") or 0 for m in metrics) / len(metrics)
            note = f"{len(metrics)} steps, {timing['seconds'] / len(metrics):.1f} s/step, mean completion {mean_length:.1f} tokens"
        rows.append((name, timing["seconds"], note))
    return rows


def first_significant(run_dir: Path, cfg_overrides: list[str], every: int) -> list[dict]:
    """Evaluate every checkpoint; paired change of the non-English average vs the untrained policy."""
    import torch

    from pbrl.config import compose_config
    from pbrl.data.example import Example
    from pbrl.data.prompts import make_prompter
    from pbrl.evaluation import evaluate
    from pbrl.generation import stop_at_newline
    from pbrl.policy import load_policy
    from pbrl.stats import paired_changes

    cfg = compose_config(cfg_overrides)
    cache = Path(cfg.paths.cache).expanduser()
    examples = [Example(**{k: v for k, v in row.items() if k != "split"})
                for row in read_jsonl(run_dir / "examples.jsonl") if row["split"] == "eval"]
    prompter = make_prompter(cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset,
                             [*cfg.langs.train, *cfg.langs.eval], cfg.paths.data_root)
    before_result = json.loads((run_dir / "eval_before.json").read_text())
    before = before_result["predictions"]
    steps = {m["step"]: m["seconds"] for m in read_jsonl(run_dir / "metrics.jsonl")}
    summary = json.loads((run_dir / "summary.json").read_text())
    before_timing = summary["stage_timings"]["eval_before"]
    # untrained answers served from the greedy cache took ~0 s; a first run generates them: count one evaluation
    before_cached = before_timing.get("reused") or before_result.get("responses_reused")
    data_seconds = summary["stage_timings"].get("data", {}).get("seconds", 0)
    checkpoints = sorted((run_dir / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    curve = []
    for path in checkpoints:
        step = int(path.name.split("-")[1])
        policy = load_policy(cfg.policy, cache, "cpu", adapter=path)
        if cfg.data.stop_at_newline:
            stop_at_newline(policy.model, policy.tokenizer)
        start = time.perf_counter()
        with torch.no_grad():
            after = evaluate(policy.model, policy.tokenizer, examples, cfg.eval, desc=f"eval {path.name}",
                             prompter=prompter)["predictions"]
        eval_seconds = time.perf_counter() - start
        before_seconds = eval_seconds if before_cached else before_timing["seconds"]
        minutes = (data_seconds + before_seconds + sum(s for k, s in steps.items() if k <= step) + eval_seconds) / 60
        change = paired_changes(before, after)["non_en_avg"]
        curve.append({"step": step, "minutes": round(minutes, 1), "delta": change["delta"],
                      "ci": change["delta_ci"], "significant": change["excludes_0"]})
        print(f"  step {step:3d} ({minutes:5.1f} min): non-English Δ {100 * change['delta']:+.1f} pp "
              f"[{100 * change['delta_ci'][0]:+.1f}, {100 * change['delta_ci'][1]:+.1f}]"
              f"{'  significant' if change['excludes_0'] else ''}", flush=True)
    return curve


def run_default(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="pbrl-effect-"))
    overrides = [f"paths.runs={work}/runs", f"threads={args.threads}", f"algo.save_steps={args.every}",
                 *args.overrides]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", *overrides], env=env, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.returncode)
    rss_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    run_dir = next((work / "runs" / "default").iterdir())
    report(run_dir)
    print(f"{'wall (whole process)':26s} {wall:8.1f}\npeak RSS: {rss_gb:.2f} GB")
    print("minutes until the non-English gain is first significant (checkpoints re-evaluated):")
    curve = first_significant(run_dir, overrides, args.every)
    hits = [c for c in curve if c["significant"] and c["delta"] > 0]
    print(f"first significant gain: {hits[0]['minutes']} min (step {hits[0]['step']})" if hits
          else "the non-English gain is not significant at any checkpoint")


def report(run_dir: Path) -> None:
    from transformers import AutoTokenizer

    from pbrl.models import resolve_model

    summary = json.loads((run_dir / "summary.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(summary["policy_model"]))
    print(f"\n{run_dir}")
    print(f"{'stage':26s} {'seconds':>8s}  notes")
    for name, seconds, note in stage_table(run_dir, tokenizer):
        print(f"{name:26s} {seconds:8.1f}  {note}")
    print(f"{'pipeline wall':26s} {summary['wall_seconds']:8.1f}  peak RSS {summary.get('peak_rss_gb')} GB")
    delta = (json.loads((run_dir / "eval.json").read_text()).get("delta") or {}).get("non_en_avg")
    if delta:
        print(f"non-English Δ {100 * delta['delta']:+.1f} pp [{100 * delta['delta_ci'][0]:+.1f}, "
              f"{100 * delta['delta_ci'][1]:+.1f}]{' significant' if delta['excludes_0'] else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--every", type=int, default=4, help="checkpoint (and re-evaluate) every N steps")
    parser.add_argument("--runs", type=Path, help="summarize the finished runs under this sweep folder instead")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.runs:
        for summary in sorted(args.runs.rglob("summary.json")):
            report(summary.parent)
    else:
        run_default(args)


if __name__ == "__main__":
    main()
