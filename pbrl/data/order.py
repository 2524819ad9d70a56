"""The order in which trainers see the training rows (they take it as given: no shuffling of their own).

`balanced` (the default): every run of as many rows as there are training languages holds each
language once, in a random order, problems shuffled within each language. With 2 prompts per step,
every 4 steps cover 8 languages, so the reward logged per step (and its first-vs-last-third trend)
compares like with like instead of whichever languages a plain shuffle happened to bunch together:
Bengali prompts score ~0 accuracy and half the embedding reward of the others.
`shuffled`: a plain seeded shuffle.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

from pbrl.config import TRAIN_ORDERS


def training_order(langs: Sequence[str], seed: int, order: str = "balanced") -> list[int]:
    """A permutation of range(len(langs)) (`langs`: each row's language)."""
    if order not in TRAIN_ORDERS:
        raise ValueError(f"unknown data.train_order '{order}'; choose from: {', '.join(TRAIN_ORDERS)}")
    rng = random.Random(seed)
    if order == "shuffled":
        indices = list(range(len(langs)))
        rng.shuffle(indices)
        return indices
    queues: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        queues[lang].append(i)
    for queue in queues.values():
        rng.shuffle(queue)
    result: list[int] = []
    while queues:
        block = sorted(queues)
        rng.shuffle(block)
        for lang in block:
            result.append(queues[lang].pop())
            if not queues[lang]:
                del queues[lang]
    return result
