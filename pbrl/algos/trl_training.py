"""The TRL training loop of the GRPO family and SFT: TrainingArguments from an `algo` node, then
`trainer.train()` with pbrl's metrics, resume and atomic final save around it."""

from __future__ import annotations

from pathlib import Path

from pbrl.algos.checkpoints import last_complete_checkpoint, save_final
from pbrl.algos.interface import Trained


def training_arguments(algo_cfg, output_dir: Path, seed: int, device: str, gradient_checkpointing: bool, **extra) -> dict:
    """Keyword arguments of a TRL config (a transformers `TrainingArguments`) from an `algo` node;
    `algo.args` is applied last, so it overrides anything here."""
    cuda = device == "cuda"
    kwargs = dict(
        gradient_checkpointing=gradient_checkpointing,  # TRL defaults to True: slow, and costly on CPU
        output_dir=str(output_dir),
        max_steps=algo_cfg.max_steps,
        learning_rate=algo_cfg.learning_rate,
        per_device_train_batch_size=algo_cfg.per_device_batch_size,
        gradient_accumulation_steps=algo_cfg.gradient_accumulation_steps,
        save_steps=algo_cfg.save_steps,
        save_strategy="steps",
        logging_steps=algo_cfg.logging_steps,
        seed=seed,
        data_seed=seed,
        report_to="none",  # pbrl's tracker logs (W&B run naming, offline mode, secrets)
        use_cpu=not cuda,
        bf16=cuda,
        save_only_model=False,
        disable_tqdm=False,
        **extra,
    )
    kwargs.update(dict(algo_cfg.args or {}))
    return kwargs


def train_trl(trainer, tokenizer, run_dir: Path, tracker, reward_set=None) -> Trained:
    """Run a TRL trainer the pbrl way: metrics.jsonl per step, resume from the last complete
    checkpoint (dropping metrics logged after it), atomic `checkpoints/final`, rank 0 writes.

        trained = train_trl(GRPOTrainer(...), policy.tokenizer, run_dir, tracker, reward_set)
    """
    from pbrl.algos.callbacks import MetricsCallback, truncate_metrics

    checkpoints = run_dir / "checkpoints"
    main = trainer.accelerator.is_main_process
    metrics_path = run_dir / "metrics.jsonl"
    trainer.add_callback(MetricsCallback(metrics_path, tracker, reward_set, main))
    resume = last_complete_checkpoint(checkpoints)
    if main:
        truncate_metrics(metrics_path, int(resume.name.split("-")[1]) if resume else 0)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    final = checkpoints / "final"
    if main:
        save_final(trainer.model, tokenizer, final)
    trainer.accelerator.wait_for_everyone()
    return Trained(model=trainer.model, path=final)
