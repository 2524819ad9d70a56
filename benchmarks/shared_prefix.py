"""Evaluation prompts of one language: prefilled whole vs their shared exemplar once, then each prompt's own tokens.

    python benchmarks/shared_prefix.py [--lang de] [--n 16] [--threads 2] [--repeats 3] [overrides ...]

The policy and prompts are those of `python -m pbrl.run` with the same overrides (the default:
SmolLM2-135M-Instruct in the dtype `policy.dtype=auto` picks, one worked example in the question's
language; `policy=tiny` for a smoke test), on `--n` held-out problems in `--lang`, in one batch.
"whole": `pbrl.generation.prefill` with `share=False`, one forward over the left-padded prompts, as
plain batched generation prefills; "shared": `prefill` as evaluation runs it, the tokens all prompts
start with (the exemplar) once and the prompts' own tokens on copies of its key/value cache. Both
then compute the next-token logits at the last prompt token (the first decoding step). The two
alternate (whole, shared, whole, ...); prints the median seconds, their ratio and the largest
difference between the two sides' logits.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lang", default="de")
    parser.add_argument("--n", type=int, default=16, help="held-out problems (prompts in the batch)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="pbrl.run overrides, e.g. policy=tiny policy.dtype=float32")
    args = parser.parse_args()
    import torch

    from pbrl.config import compose_config
    from pbrl.data import load_splits
    from pbrl.data.prompts import make_prompter
    from pbrl.generation import CACHE_ARGUMENT, prefill, render_prompt, shared_prefix_length
    from pbrl.policy import load_policy

    torch.set_num_threads(args.threads)
    cfg = compose_config(args.overrides)
    cache = Path(cfg.paths.cache).expanduser()
    split = load_splits(cfg.data, list(cfg.langs.train), [args.lang], cfg.paths.data_root, cache / "translations")
    prompter = make_prompter(cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset, [args.lang],
                             cfg.paths.data_root)
    policy = load_policy(cfg.policy, cache, "cpu")
    model, tokenizer = policy.model.eval(), policy.tokenizer
    rows = [tokenizer(render_prompt(tokenizer, prompter(e)), add_special_tokens=False)["input_ids"]
            for e in split["eval"][: args.n]]
    pad_id = tokenizer.pad_token_id

    @torch.no_grad()
    def first_logits(share: bool):
        ids, mask, cache = prefill(model, rows, pad_id, share=share)
        position = mask.sum(-1, keepdim=True) - 1
        return model(input_ids=ids[:, -1:], attention_mask=mask, position_ids=position, logits_to_keep=1,
                     **{CACHE_ARGUMENT: cache}).logits[:, -1].float()

    outputs = {share: first_logits(share) for share in (False, True)}  # warm-up
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for share in (False, True):
            start = time.perf_counter()
            first_logits(share)
            seconds[share].append(time.perf_counter() - start)
    whole, shared = statistics.median(seconds[False]), statistics.median(seconds[True])
    difference = (outputs[True] - outputs[False]).abs().max().item()
    tokens = sum(map(len, rows)) / len(rows)
    print(f"policy {cfg.policy.model} ({next(model.parameters()).dtype}), {len(rows)} {args.lang} prompts, "
          f"{tokens:.0f} tokens each on average, {shared_prefix_length(rows)} of them shared; {args.threads} threads, "
          f"medians of {args.repeats}")
    print(f"{'prefill':<28} {'seconds':>8}")
    print(f"{'whole prompts':<28} {whole:8.3f}")
    print(f"{'shared prefix once + rest':<28} {shared:8.3f}")
    print(f"whole/shared = {whole / shared:.2f}x; max |Δ logit| {difference:.1e}")


if __name__ == "__main__":
    main()
