"""GRPO, Dr. GRPO, DAPO (TRL's `GRPOTrainer`) and RLOO (TRL's `RLOOTrainer`).

The variants differ only in TRL arguments (`loss_type`, `scale_rewards`, `beta`, `epsilon_high`...),
which the `algo/*.yaml` presets set under `args:`; this module just wires them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pbrl.algos.interface import Trained
from pbrl.algos.shared_prompt import SharedPromptLogps
from pbrl.algos.trl_training import sampling_kwargs, train_trl, training_arguments
from pbrl.generation import share_prefill


def config_class(trainer: str):
    from trl import GRPOConfig, RLOOConfig

    return RLOOConfig if trainer == "rloo" else GRPOConfig


@cache
def trainer_class(trainer: str):
    """TRL's trainer, scoring completions with each distinct prompt run once (`SharedPromptLogps`)."""
    from trl import GRPOTrainer, RLOOTrainer

    base = RLOOTrainer if trainer == "rloo" else GRPOTrainer
    return type(base.__name__, (SharedPromptLogps, base), {"__module__": __name__})


def build_config(
    algo_cfg, output_dir: Path, seed: int, device: str, reward_weights: list[float], gradient_checkpointing: bool = False
):
    kwargs = training_arguments(
        algo_cfg, output_dir, seed, device, gradient_checkpointing,
        num_generations=algo_cfg.num_generations,
        max_completion_length=algo_cfg.max_completion_length,
        temperature=algo_cfg.temperature,
        beta=algo_cfg.beta,
        reward_weights=reward_weights,
        shuffle_dataset=False,  # the pipeline orders the rows (pbrl.data.order)
    )
    return config_class(algo_cfg.trainer)(**kwargs)


def train(policy, train_dataset, reward_set, algo_cfg, run_dir: Path, tracker, seed: int) -> Trained:
    device = policy.model.device.type
    checkpoints = run_dir / "checkpoints"
    config = build_config(
        algo_cfg, checkpoints, seed, device, list(reward_set.weights), policy.gradient_checkpointing
    )
    config.generation_kwargs = sampling_kwargs(config, policy.model.generation_config)  # vLLM rollouts' stop tokens
    trainer_cls = trainer_class(algo_cfg.trainer)
    trainer = trainer_cls(
        model=policy.model,
        reward_funcs=list(reward_set.funcs),
        args=config,
        train_dataset=train_dataset,
        processing_class=policy.tokenizer,
        peft_config=policy.peft_config,
    )
    share_prefill(trainer.model)  # rollouts: each prompt (TRL repeats it num_generations times) and exemplar once
    return train_trl(trainer, policy.tokenizer, run_dir, tracker, reward_set)
