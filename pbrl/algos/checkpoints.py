"""What all trainers share: transformers TrainingArguments, checkpoint discovery, atomic final save."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

STEP_DIR = re.compile(r"^checkpoint-(\d+)$")
COMPLETE_MARKER = "trainer_state.json"  # transformers' Trainer writes it last in a checkpoint


def last_complete_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The newest checkpoint that finished writing; partial ones (killed mid-save) are removed."""
    if not checkpoints_dir.exists():
        return None
    found = sorted(
        (int(m.group(1)), p) for p in checkpoints_dir.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()
    )
    for _, path in reversed(found):
        if (path / COMPLETE_MARKER).exists():
            return path
        shutil.rmtree(path, ignore_errors=True)
    return None


def save_final(model, tokenizer, final_dir: Path) -> Path:
    """Save the trained weights (adapter or full model) + tokenizer into `final_dir` atomically."""
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=".final-"))
    model = getattr(model, "module", model)  # unwrap DDP
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.chmod(tmp, 0o755)
    if final_dir.exists():
        shutil.rmtree(final_dir)
    os.replace(tmp, final_dir)
    return final_dir


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


def train_trl(trainer, policy, run_dir: Path, tracker, reward_set=None) -> Path:
    """Run a TRL trainer the pbrl way: metrics.jsonl per step, resume from the last complete
    checkpoint (dropping metrics logged after it), atomic `checkpoints/final`, rank 0 writes."""
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
        save_final(trainer.model, policy.tokenizer, final)
    trainer.accelerator.wait_for_everyone()
    policy.model = trainer.model
    return final
