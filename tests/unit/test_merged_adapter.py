"""`pipeline.merged`: the trained LoRA adapter folded into the weights before evaluation, except where
the weights are FSDP shards (each rank holds a slice; evaluation then reads checkpoints/final)."""

from __future__ import annotations

import torch
from torch.distributed.fsdp import FSDPModule

from pbrl.pipeline import merged


class Adapted(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module):
        super().__init__()
        self.layer = layer
        self.merges = 0

    def merge_and_unload(self):
        self.merges += 1
        return self.layer


class ShardedLinear(FSDPModule, torch.nn.Linear):
    pass


def sharded_linear() -> torch.nn.Module:
    """What `fully_shard` makes of a layer (it swaps the instance's class), without a process group."""
    layer = torch.nn.Linear(2, 2)
    layer.__class__ = ShardedLinear
    return layer


def test_an_adapter_is_merged_into_plain_weights():
    model = Adapted(torch.nn.Linear(2, 2))
    assert merged(model) is model.layer and model.merges == 1


def test_sharded_weights_are_left_as_they_are():
    model = Adapted(sharded_linear())
    assert merged(model) is model and model.merges == 0
