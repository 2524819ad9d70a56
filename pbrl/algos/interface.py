"""The interface every algo module (`pbrl/algos/<algo>.py`) implements, and what its `train` returns.

`pbrl.algos.trainer_module` picks the module named by `algo.trainer`; a new algorithm is a module
with these two functions, listed in `pbrl.algos.TRAINER_MODULES`:

    from pbrl.algos import train
    trained = train(policy, dataset, reward_set, cfg.algo, run_dir, tracker, seed=0)
    trained.path    # run_dir/checkpoints/final: the saved adapter or full model, with the tokenizer
    trained.model   # the trained model in memory (a PEFT model when the policy has LoRA)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Trained:
    """What training produces: the model in memory and where its final weights were saved."""

    model: Any
    path: Path


@runtime_checkable
class TrainerModule(Protocol):
    """A module behind `algo.trainer` (grpo.py, ppo.py, sft.py).

    The policy's model is trained in place of a copy (PEFT wraps it, as TRL does); the trained model
    comes back in `Trained.model`, and the caller decides what to do with it.
    """

    def config_class(self, trainer: str) -> type:
        """The dataclass that `algo.args` is passed to verbatim (TRL's GRPOConfig, SFTConfig, PPOConfig...)."""

    def train(self, policy, train_dataset, reward_set, algo_cfg, run_dir: Path, tracker, seed: int) -> Trained:
        """Train, one `metrics.jsonl` line per logged step, resuming from the last complete checkpoint."""
