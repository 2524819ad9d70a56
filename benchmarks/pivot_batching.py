"""Pivot generation throughput: batched (one generate call per batch) vs one question at a time.

Same model, prompts (first N English MGSM questions, or the demo set without a data root), greedy
decoding and max_new_tokens on both sides; prints questions/second of each and their ratio.
Thread count is fixed (OMP_NUM_THREADS and torch.set_num_threads) because on a shared machine
the default oversubscribes the cores and timings swing tenfold.

    OMP_NUM_THREADS=1 python benchmarks/pivot_batching.py --models pbrl:tiny pbrl:smollm2-135m-instruct \\
        --questions 8 --max-new-tokens 32 --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def load_prompts(n: int, data_root: str | None) -> list[list[dict]]:
    from pbrl.data import build_prompt, load_examples

    dataset = "mgsm" if data_root else "demo"
    examples = load_examples(dataset, ["en"], data_root)["en"][:n]
    return [build_prompt(e) for e in examples]


def load_model(name: str, cache_dir: str | None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pbrl.models import resolve_model

    path = resolve_model(name, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return model, tokenizer


def time_generation(model, tokenizer, prompts, batch_size: int, max_new_tokens: int) -> tuple[float, int]:
    """(seconds, generated tokens) for all prompts at `batch_size`."""
    from pbrl.generation import generate

    start = time.perf_counter()
    outputs = generate(
        model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, desc=f"bs={batch_size}",
        min_new_tokens=max_new_tokens,  # equal work on both sides, even for a model that stops at once
    )
    seconds = time.perf_counter() - start
    tokens = sum(len(tokenizer(o[0], add_special_tokens=False)["input_ids"]) for o in outputs)
    return seconds, tokens


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["pbrl:tiny", "pbrl:smollm2-135m-instruct"])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=None, help="default: all questions in one batch")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-root", default=os.environ.get("PBRL_DATA_ROOT"))
    parser.add_argument("--cache-dir", default=None, help="pbrl cache (default: $PBRL_CACHE or ~/.cache/pbrl)")
    args = parser.parse_args(argv)

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    prompts = load_prompts(args.questions, args.data_root)
    batch_size = args.batch_size or len(prompts)
    print(
        f"{len(prompts)} questions, max_new_tokens={args.max_new_tokens}, threads={args.threads}, torch {torch.__version__}"
    )
    for name in args.models:
        model, tokenizer = load_model(name, args.cache_dir)
        time_generation(model, tokenizer, prompts[:2], 2, 4)  # warm-up: first-call allocations
        batched_s, batched_tokens = time_generation(model, tokenizer, prompts, batch_size, args.max_new_tokens)
        single_s, single_tokens = time_generation(model, tokenizer, prompts, 1, args.max_new_tokens)
        print(
            f"{name}: batched (bs={batch_size}) {len(prompts) / batched_s:.2f} q/s ({batched_tokens} tokens, {batched_s:.1f} s); "
            f"one at a time {len(prompts) / single_s:.2f} q/s ({single_tokens} tokens, {single_s:.1f} s); "
            f"throughput ratio {single_s / batched_s:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
