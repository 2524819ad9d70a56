"""Framework overhead: seconds per GRPO step of `python -m pbrl.run` vs bare TRL scripts.

    python benchmarks/grpo_overhead.py [--steps 12] [--repeats 3] [--threads 1]

Three sides train the tiny policy on the same rows in the same order (the prompts pbrl built, in its
training order, unshuffled), with the same reward (pbrl's accuracy reward), batch, generation settings
(every completion exactly 32 tokens, so all do equal work) and seed:
  pbrl           `python -m pbrl.run`: TRL's GRPOTrainer with pbrl's two speed-ups, `SharedPromptLogps`
                 (each distinct prompt scored once, `pbrl.algos.grpo.trainer_class`) and `share_prefill`
                 (each rollout prompt prefilled once, the exemplar once for all prompts that share it);
  TRL+speed-ups  a bare TRL script with the same two speed-ups;
  bare TRL       a bare TRL script with a plain `trl.GRPOTrainer`.
pbrl / TRL+speed-ups is the framework's overhead (target <= 1.05); pbrl / bare TRL is what a user
gains or loses against plain TRL (below 1: pbrl is faster). Each side runs in its own process, in
turn, and the per-step time is TRL's own `train_runtime / max_steps`, so only the training loop is
compared.
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

COMPLETION_TOKENS = 32

BARE_SCRIPT = r'''
import json, sys, torch, datasets
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer
from pbrl.algos.grpo import trainer_class
from pbrl.generation import share_prefill
from pbrl.rewards.accuracy import AccuracyReward
model_dir, rows_path, out_dir, threads, steps, tokens, speedups = sys.argv[1:8]
torch.set_num_threads(int(threads))
rows = [json.loads(line) for line in open(rows_path)]
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
args = GRPOConfig(output_dir=out_dir, max_steps=int(steps), learning_rate=1e-4, per_device_train_batch_size=8,
                  gradient_accumulation_steps=1, num_generations=4, max_completion_length=int(tokens),
                  temperature=1.0, beta=0.0, save_strategy="no", logging_steps=1, seed=0, data_seed=0,
                  report_to="none", use_cpu=True, bf16=False, loss_type="grpo", scale_rewards="group",
                  gradient_checkpointing=False, shuffle_dataset=False,
                  generation_kwargs={"min_new_tokens": int(tokens)})
Trainer = trainer_class("grpo") if speedups == "1" else GRPOTrainer  # TRL's + SharedPromptLogps, or TRL's
trainer = Trainer(model=model, reward_funcs=[AccuracyReward()], args=args,
                  train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)
if speedups == "1":
    share_prefill(trainer.model)
trainer.train()
'''

RUNTIME = re.compile(r"'train_runtime': '?([0-9.]+)")


def pbrl_overrides(steps: int, threads: int, cache: Path) -> list[str]:
    """Every setting the bare script hard-codes, pinned here too (the presets' values may change)."""
    return ["policy=tiny", "reward=accuracy", "eval=none", "algo=grpo", f"algo.max_steps={steps}",
            "algo.save_steps=1000", "algo.learning_rate=1e-4", "algo.per_device_batch_size=8",
            "algo.gradient_accumulation_steps=1", "algo.num_generations=4",
            f"algo.max_completion_length={COMPLETION_TOKENS}", "algo.temperature=1.0", "algo.beta=0.0",
            "algo.args.loss_type=grpo", "algo.args.scale_rewards=group",
            f"+algo.args.generation_kwargs.min_new_tokens={COMPLETION_TOKENS}",  # equal work: every completion full
            "data.stop_at_newline=false",  # the bare side's generation config stops only at EOS
            "seed=0", f"threads={threads}", f"paths.cache={cache}"]


def train_runtime(output: str) -> float:
    match = RUNTIME.findall(output)
    if not match:
        raise RuntimeError(f"no train_runtime in output:\n{output[-2000:]}")
    return float(match[-1])


def seconds_per_step(cmd: list[str], env: dict, steps: int) -> float:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return train_runtime(proc.stdout + proc.stderr) / steps


def write_bare_rows(run_dir: Path, overrides: list[str], path: Path) -> None:
    """The rows pbrl trained on, in its order, built as `pbrl.pipeline.run_pipeline` builds them."""
    from pbrl.config import compose_config
    from pbrl.data import Example
    from pbrl.data.order import training_order
    from pbrl.data.prompts import make_prompter
    from pbrl.pipeline import training_rows
    from pbrl.rundir import read_jsonl

    cfg = compose_config(overrides)
    examples = [Example(**{k: v for k, v in r.items() if k != "split"})
                for r in read_jsonl(run_dir / "examples.jsonl") if r["split"] == "train"]
    prompter = make_prompter(cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset,
                             [*cfg.langs.train, *cfg.langs.eval], cfg.paths.data_root)
    rows = training_rows(examples, read_jsonl(run_dir / "references.jsonl"), prompter)
    rows = [rows[i] for i in training_order([r["lang"] for r in rows], cfg.seed, cfg.data.train_order)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}

    from pbrl.models.tiny import build_tiny

    with tempfile.TemporaryDirectory(prefix="pbrl-overhead-") as tmp:
        work = Path(tmp)
        overrides = pbrl_overrides(args.steps, args.threads, work / "cache")
        model_dir = build_tiny(work / "cache")
        rows_path = work / "rows.jsonl"
        times: dict[str, list[float]] = {"pbrl": [], "TRL+speed-ups": [], "bare TRL": []}
        for repeat in range(args.repeats):
            runs = work / f"runs{repeat}"
            pbrl = [sys.executable, "-m", "pbrl.run", *overrides, f"paths.runs={runs}"]
            times["pbrl"].append(seconds_per_step(pbrl, env, args.steps))
            if repeat == 0:
                write_bare_rows(next((runs / "default").iterdir()), overrides, rows_path)
            for name, speedups in (("TRL+speed-ups", "1"), ("bare TRL", "0")):
                bare = [sys.executable, "-c", BARE_SCRIPT, model_dir, str(rows_path), str(work / f"bare{repeat}"),
                        str(args.threads), str(args.steps), str(COMPLETION_TOKENS), speedups]
                times[name].append(seconds_per_step(bare, env, args.steps))
            print(f"repeat {repeat}: " + ", ".join(f"{name} {t[-1]:.3f}" for name, t in times.items()) + " s/step",
                  flush=True)

    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"\nseconds per GRPO step (median of {args.repeats}, {args.threads} thread(s), tiny policy, "
          f"{args.steps} steps)")
    print(f"{'side':<14} {'s/step':>7}  what runs")
    for name, what in (("pbrl", "python -m pbrl.run: TRL's GRPOTrainer + SharedPromptLogps + share_prefill"),
                       ("TRL+speed-ups", "bare script: TRL's GRPOTrainer + SharedPromptLogps + share_prefill"),
                       ("bare TRL", "bare script: TRL's GRPOTrainer as shipped")):
        print(f"{name:<14} {median[name]:7.3f}  {what}")
    print(f"framework overhead pbrl / TRL+speed-ups = {median['pbrl'] / median['TRL+speed-ups']:.3f} (target <= 1.05)")
    print(f"pbrl / bare TRL = {median['pbrl'] / median['bare TRL']:.3f} (below 1: pbrl is faster than plain TRL)")

if __name__ == "__main__":
    main()
