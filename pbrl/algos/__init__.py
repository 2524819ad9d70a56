"""Training algorithms behind `algo=`: TRL's GRPO family and SFT, and pbrl's own critic PPO.

Every algo module implements `pbrl.algos.interface.TrainerModule`: it takes the same inputs (policy,
training dataset, reward set), writes one metrics line per optimizer step to `metrics.jsonl`, saves
the trained weights in `<run_dir>/checkpoints/final` and returns both as a `Trained`.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

from pbrl.algos.interface import Trained, TrainerModule
from pbrl.config import AlgoConfig, as_schema
from pbrl.errors import ConfigError, unknown_key_message

TRAINER_MODULES = {"grpo": "pbrl.algos.grpo", "rloo": "pbrl.algos.grpo", "ppo": "pbrl.algos.ppo", "sft": "pbrl.algos.sft"}


def trainer_module(algo_cfg) -> TrainerModule:
    try:
        return importlib.import_module(TRAINER_MODULES[algo_cfg.trainer])
    except KeyError:
        raise ConfigError(
            f"unknown algo.trainer '{algo_cfg.trainer}'; choose one of: {', '.join(TRAINER_MODULES)}"
        ) from None


def check_trainer_args(algo_cfg) -> None:
    """`algo.args` goes verbatim into the trainer's config dataclass: reject keys it lacks."""
    config_cls = trainer_module(algo_cfg).config_class(algo_cfg.trainer)
    allowed = {f.name for f in dataclasses.fields(config_cls)}
    for key in algo_cfg.args or {}:
        if key not in allowed:
            raise ConfigError(unknown_key_message(f"algo.args.{key}", allowed, where=config_cls.__name__))


def train(policy, train_dataset, reward_set, algo_cfg, run_dir: Path, tracker, seed: int) -> Trained:
    """Train with the module behind `algo.trainer`; the algo node (an AlgoConfig, a DictConfig or a
    dict of its keys) reaches it as the typed AlgoConfig, the schema's defaults filled in."""
    algo = as_schema(AlgoConfig, algo_cfg)
    return trainer_module(algo).train(policy, train_dataset, reward_set, algo, Path(run_dir), tracker, seed)
