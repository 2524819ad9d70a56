"""Framework overhead: seconds per GRPO step of `python -m pbrl.run` vs a bare TRL script.

    python benchmarks/grpo_overhead.py [--steps 12] [--repeats 3] [--threads 1]

Both sides train the same tiny model on the same rows with the same reward (pbrl's accuracy
reward), batch, generation settings (every completion exactly 32 tokens, so both do equal work) and seed; each runs in its own process, alternating, and the
per-step time is TRL's own `train_runtime / max_steps`, so only the training loop is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BARE_SCRIPT = r'''
import json, sys, torch, datasets
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer
from pbrl.rewards.accuracy import AccuracyReward
torch.set_num_threads(int(sys.argv[4]))
model_dir, rows_path, out_dir, _, steps = sys.argv[1:6]
rows = [json.loads(line) for line in open(rows_path)]
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
args = GRPOConfig(output_dir=out_dir, max_steps=int(steps), learning_rate=1e-4, per_device_train_batch_size=8,
                  gradient_accumulation_steps=1, num_generations=4, max_completion_length=32, temperature=1.0,
                  beta=0.0, save_strategy="no", logging_steps=1, seed=0, data_seed=0, report_to="none",
                  use_cpu=True, bf16=False, loss_type="grpo", scale_rewards="group", gradient_checkpointing=False,
                  generation_kwargs={"min_new_tokens": 32})
trainer = GRPOTrainer(model=model, reward_funcs=[AccuracyReward()], args=args,
                      train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)
trainer.train()
'''

RUNTIME = re.compile(r"'train_runtime': '?([0-9.]+)")


def train_runtime(output: str) -> float:
    match = RUNTIME.findall(output)
    if not match:
        raise RuntimeError(f"no train_runtime in output:\n{output[-2000:]}")
    return float(match[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    work = Path(tempfile.mkdtemp(prefix="pbrl-overhead-"))
    cache = work / "cache"
    # Every setting the bare script hard-codes, pinned here too (the presets' values may change).
    common = ["policy=tiny", "reward=accuracy", "eval=none", "algo=grpo", f"algo.max_steps={args.steps}",
              "algo.save_steps=1000", "algo.learning_rate=1e-4", "algo.per_device_batch_size=8",
              "algo.gradient_accumulation_steps=1", "algo.num_generations=4", "algo.max_completion_length=32",
              "algo.temperature=1.0", "algo.beta=0.0", "algo.args.loss_type=grpo", "algo.args.scale_rewards=group",
              "+algo.args.generation_kwargs.min_new_tokens=32",  # equal work: every completion 32 tokens
              f"threads={args.threads}", f"paths.cache={cache}"]

    from pbrl.models.tiny import build_tiny

    model_dir = build_tiny(cache)
    pbrl_times, bare_times = [], []
    for repeat in range(args.repeats):
        runs = work / f"runs{repeat}"
        proc = subprocess.run([sys.executable, "-m", "pbrl.run", *common, f"paths.runs={runs}"],
                              capture_output=True, text=True, env=env)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
        pbrl_times.append(train_runtime(proc.stdout + proc.stderr) / args.steps)
        if repeat == 0:  # the exact rows pbrl trained on, for the bare script
            from pbrl.data import Example
            from pbrl.pipeline import training_rows
            from pbrl.rundir import read_jsonl

            run_dir = next((runs / "default").iterdir())
            examples = [Example(**{k: v for k, v in r.items() if k != "split"})
                        for r in read_jsonl(run_dir / "examples.jsonl") if r["split"] == "train"]
            rows = training_rows(examples, read_jsonl(run_dir / "references.jsonl"))
            rows_path = work / "rows.jsonl"
            rows_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        proc = subprocess.run([sys.executable, "-c", BARE_SCRIPT, model_dir, str(rows_path), str(work / f"bare{repeat}"),
                               str(args.threads), str(args.steps)], capture_output=True, text=True, env=env)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
        bare_times.append(train_runtime(proc.stdout + proc.stderr) / args.steps)
        print(f"repeat {repeat}: pbrl {pbrl_times[-1]:.3f} s/step, bare TRL {bare_times[-1]:.3f} s/step", flush=True)

    pbrl_s, bare_s = statistics.median(pbrl_times), statistics.median(bare_times)
    print(f"\nseconds per GRPO step (median of {args.repeats}, {args.threads} thread(s), tiny policy, "
          f"{args.steps} steps): pbrl {pbrl_s:.3f}, bare TRL {bare_s:.3f}; ratio pbrl/bare = {pbrl_s / bare_s:.3f} "
          f"(target <= 1.05)")


if __name__ == "__main__":
    main()
