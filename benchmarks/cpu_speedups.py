"""The default run's CPU speed-ups, each an A/B measured side by side in one process.

    python benchmarks/cpu_speedups.py [--threads 2] [--repeats 3] [--langs de,ja,sw] [--n 16] [overrides ...]

The policy, prompts and settings are those of `python -m pbrl.run` with the same overrides (the
default: SmolLM2-135M-Instruct, one worked example in the question's language; `policy=tiny` for a
smoke test), on `--n` held-out problems in each of `--langs`:
1. greedy evaluation (`pbrl.generation.generate` at the run's eval batch sizes): float32 vs bfloat16,
   which `policy.dtype=auto` picks where the CPU multiplies bfloat16 natively;
2. greedy evaluation in float32: every prompt prefilled whole vs each language's shared exemplar
   prefilled once and the prompts' own tokens on its key/value cache (`pbrl.generation.prefill`);
3. greedy evaluation in float32: the linear layers through MKL's sgemm (`F.linear`) vs oneDNN
   (`pbrl.generation.onednn_linears`);
4. scoring one GRPO step's rollout (2 prompts x num_generations sampled completions, forward and
   backward in micro-batches of per_device_batch_size rows, the run's dtype and LoRA): TRL's
   `GRPOTrainer` vs pbrl's (`pbrl.algos.grpo.trainer_class`: TRL's trainer with `SharedPromptLogps`,
   each distinct prompt run once and only completion tokens through TRL's fused head).
Each variant runs once to warm up (its output is what the last column compares), then the variants
alternate (a, b, a, b, ...); prints the median seconds of each and a/b (above 1: b is faster).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock


def compare(name: str, variants: dict, repeats: int, agreement) -> None:
    """Print one table row: each variant's median seconds, their ratio and `agreement(out_a, out_b)`."""
    outputs = {label: fn() for label, fn in variants.items()}
    seconds = {label: [] for label in variants}
    for _ in range(repeats):
        for label, fn in variants.items():
            start = time.perf_counter()
            fn()
            seconds[label].append(time.perf_counter() - start)
    (a, sa), (b, sb) = seconds.items()
    ma, mb = statistics.median(sa), statistics.median(sb)
    print(f"{name:<22} {a:>9} {ma:9.3f}  {b:>13} {mb:9.3f}  {ma / mb:6.2f}x  {agreement(*outputs.values())}",
          flush=True)


def without_onednn(fn):
    """`fn()` with `pbrl.generation.onednn_linears` switched off: every linear layer through `F.linear`."""
    import pbrl.generation

    with mock.patch.object(pbrl.generation, "_has_onednn_linear", return_value=False):
        return fn()


def rollout(tokenizer, prompts, completions, pad_id: int):
    """(input_ids, attention_mask, completion mask) as TRL lays out a rollout: prompts left-padded,
    completions (each ended by EOS) right-padded."""
    import torch

    from pbrl.generation import render_prompt

    prompt_ids = [tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"] for p in prompts]
    completion_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                      for c in completions]
    width, length = max(map(len, prompt_ids)), max(map(len, completion_ids))
    ids = [[pad_id] * (width - len(p)) + p + c + [pad_id] * (length - len(c))
           for p, c in zip(prompt_ids, completion_ids)]
    mask = [[0] * (width - len(p)) + [1] * (len(p) + len(c)) + [0] * (length - len(c))
            for p, c in zip(prompt_ids, completion_ids)]
    ids, mask = torch.tensor(ids), torch.tensor(mask)
    return ids, mask, mask[:, -length:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--langs", default="de,ja,sw")
    parser.add_argument("--n", type=int, default=16, help="held-out problems per language")
    parser.add_argument("overrides", nargs="*", help="pbrl.run overrides, e.g. policy=tiny")
    args = parser.parse_args()
    import datasets
    import torch
    from omegaconf import OmegaConf
    from trl import GRPOTrainer

    from pbrl.algos.grpo import build_config, trainer_class
    from pbrl.config import compose_config
    from pbrl.data import load_splits
    from pbrl.data.prompts import make_prompter
    from pbrl.generation import generate, stop_at_newline
    from pbrl.policy import cpu_has_native_bfloat16, load_policy, resolve_dtype

    torch.set_num_threads(args.threads)
    cfg = compose_config(args.overrides)
    cache = Path(cfg.paths.cache).expanduser()
    langs = args.langs.split(",")
    split = load_splits(cfg.data, list(cfg.langs.train), langs, cfg.paths.data_root, cache / "translations")
    prompter = make_prompter(cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset, langs,
                             cfg.paths.data_root)
    prompts = [prompter(e) for lang in langs for e in [e for e in split["eval"] if e.lang == lang][: args.n]]

    def load(dtype: str):
        policy = load_policy(OmegaConf.merge(cfg.policy, {"dtype": dtype}), cache, "cpu")
        if cfg.data.stop_at_newline:
            stop_at_newline(policy.model, policy.tokenizer)
        return policy

    def evaluate(policy, share_prefix: bool = True):
        return generate(policy.model, policy.tokenizer, prompts, cfg.eval.max_new_tokens, cfg.eval.batch_size,
                        max_batch_tokens=cfg.eval.max_batch_tokens, share_prefix=share_prefix, desc="eval")

    def identical(a, b) -> str:
        return f"{sum(x == y for x, y in zip(a, b))}/{len(a)} identical answers"

    train_dtype = str(resolve_dtype(cfg.policy.dtype, "cpu")).removeprefix("torch.")
    print(f"policy {cfg.policy.model}, {len(prompts)} prompts ({', '.join(langs)}), {args.threads} threads, "
          f"torch {torch.__version__}, native bfloat16: {cpu_has_native_bfloat16()}, medians of {args.repeats}")
    print(f"{'comparison':<22} {'a':>9} {'seconds':>9}  {'b':>13} {'seconds':>9}  {'a/b':>7}  agreement")

    fp32, bf16 = load("float32"), load("bfloat16")
    compare("greedy eval: dtype", {"float32": lambda: evaluate(fp32), "bfloat16": lambda: evaluate(bf16)},
            args.repeats, identical)
    del bf16
    compare("greedy eval: prefill", {"whole": lambda: evaluate(fp32, share_prefix=False),
                                     "shared prefix": lambda: evaluate(fp32)}, args.repeats, identical)
    compare("greedy eval: linears", {"MKL": lambda: without_onednn(lambda: evaluate(fp32)),
                                     "oneDNN": lambda: evaluate(fp32)}, args.repeats, identical)
    del fp32
    gc.collect()

    # Two real trainers from the run's GRPO config, each on its own copy of the policy (TRL adds its
    # fused LM head and the LoRA adapter to the model it is given; fresh adapters are identical: B = 0).
    work = Path(tempfile.mkdtemp(prefix="pbrl-speedups-"))
    config = build_config(cfg.algo, work, cfg.seed, "cpu", [1.0])
    dataset = datasets.Dataset.from_list([{"prompt": p} for p in prompts])

    def no_reward(completions, **_):
        return [0.0] * len(completions)

    trainers = {}
    for label, cls in (("TRL", GRPOTrainer), ("pbrl", trainer_class("grpo"))):
        policy = load(cfg.policy.dtype)
        trainers[label] = cls(model=policy.model, reward_funcs=[no_reward], args=config, train_dataset=dataset,
                              processing_class=policy.tokenizer, peft_config=policy.peft_config)
    tokenizer = policy.tokenizer
    group = [p for p in prompts[:2] for _ in range(cfg.algo.num_generations)]
    completions = generate(trainers["TRL"].model, tokenizer, prompts[:2], cfg.algo.max_completion_length,
                           temperature=cfg.algo.temperature, num_return_sequences=cfg.algo.num_generations,
                           seed=cfg.seed, min_new_tokens=1)
    ids, mask, completion_mask = rollout(tokenizer, group, [c for cs in completions for c in cs],
                                         tokenizer.pad_token_id)
    micro = cfg.algo.per_device_batch_size

    def score(trainer):
        logps = []
        for start in range(0, len(ids), micro):
            rows = slice(start, start + micro)
            chunk, _, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids[rows], mask[rows], completion_mask.shape[1], compute_entropy=True)
            (-(chunk * completion_mask[rows]).sum()).backward()
            logps.append(chunk.detach())
        trainer.model.zero_grad(set_to_none=True)
        return torch.cat(logps)

    def largest_difference(a, b) -> str:
        return f"max |Δ log-prob| {((a - b).abs() * completion_mask).max().item():.1e}"

    compare(f"GRPO scoring ({train_dtype})", {"TRL": lambda: score(trainers["TRL"]),
                                              "pbrl": lambda: score(trainers["pbrl"])},
            args.repeats, largest_difference)
    print(f"(GRPO scoring: {len(ids)} rows = 2 prompts x {cfg.algo.num_generations}, micro-batches of {micro}, "
          f"{ids.shape[1] - completion_mask.shape[1]} prompt + {completion_mask.shape[1]} completion columns)")


if __name__ == "__main__":
    main()
