"""SFT baseline (TRL's `SFTTrainer`): imitate the pivot's English reference for each question.

Each training row (a question in its training language, `prompt` chat messages) becomes one
conversational prompt-completion example whose completion is the row's `reference`:

    {"prompt": [{"role": "user", "content": "Frage: ..."}],
     "completion": [{"role": "assistant", "content": "Step-by-step: ... The answer is 8."}]}

so the loss covers the completion tokens only (TRL's `completion_only_loss` default for this format).
Rows without a reference are dropped (and counted in the log). SFT has no rewards: its metrics lines
carry loss, grad_norm, learning_rate, token accuracy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pbrl.algos.interface import Trained
from pbrl.algos.trl_training import train_trl, training_arguments

log = logging.getLogger(__name__)


def config_class(trainer: str):
    from trl import SFTConfig

    return SFTConfig


def build_config(algo_cfg, output_dir: Path, seed: int, device: str, gradient_checkpointing: bool = False):
    from trl import SFTConfig

    return SFTConfig(**training_arguments(algo_cfg, output_dir, seed, device, gradient_checkpointing))


def reference_examples(train_dataset):
    """Prompt-completion examples (question -> pivot reference); rows without a reference are dropped."""
    columns = train_dataset.column_names
    for needed in ("prompt", "reference"):
        if needed not in columns:
            raise ValueError(f"algo sft needs a '{needed}' column in the training dataset (has: {', '.join(columns)})")
    kept = train_dataset.filter(lambda row: bool(row["reference"] and str(row["reference"]).strip()))
    if len(kept) == 0:
        raise ValueError("algo sft: no training row has a reference; run the pivot stage (pivot=gold|self|model) first")
    if len(kept) < len(train_dataset):
        log.warning("sft: %d of %d training rows have no reference and are skipped", len(train_dataset) - len(kept),
                    len(train_dataset))
    return kept.map(reference_completion, remove_columns=[c for c in columns if c != "prompt"])


def reference_completion(row: dict) -> dict:
    """The reference as the completion of the row's prompt: an assistant turn after chat messages, the
    text after a plain-text prompt (which ends at the answer prefix, so a space first)."""
    if isinstance(row["prompt"], str):
        return {"prompt": row["prompt"], "completion": " " + str(row["reference"]).strip()}
    return {"prompt": row["prompt"], "completion": [{"role": "assistant", "content": row["reference"]}]}


def train(policy, train_dataset, reward_set, algo_cfg, run_dir: Path, tracker, seed: int) -> Trained:
    """Fine-tune on the references; `reward_set` is unused (SFT has no reward)."""
    from trl import SFTTrainer

    device = policy.model.device.type
    checkpoints = run_dir / "checkpoints"
    trainer = SFTTrainer(
        model=policy.model,
        args=build_config(algo_cfg, checkpoints, seed, device, policy.gradient_checkpointing),
        train_dataset=reference_examples(train_dataset),
        processing_class=policy.tokenizer,
        peft_config=policy.peft_config,
    )
    return train_trl(trainer, policy.tokenizer, run_dir, tracker, reward_set=None)
