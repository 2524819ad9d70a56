"""The TRL training loop of the GRPO family and SFT: TrainingArguments from an `algo` node, then
`trainer.train()` with pbrl's metrics, resume and atomic final save around it."""

from __future__ import annotations

from pathlib import Path

from pbrl.algos.checkpoints import last_complete_checkpoint, save_final
from pbrl.algos.interface import Trained


def training_arguments(algo_cfg, output_dir: Path, seed: int, device: str, gradient_checkpointing: bool, **extra) -> dict:
    """Keyword arguments of a TRL config (a transformers `TrainingArguments`) from an `algo` node;
    `algo.args` is applied last, so it overrides anything here. On a GPU, mixed precision is bfloat16
    where the GPU has it and float16 elsewhere (V100, T4), like `policy.dtype=auto`."""
    from pbrl.policy import cuda_has_bfloat16

    cuda = device == "cuda"
    bf16 = cuda and cuda_has_bfloat16()
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
        bf16=bf16,
        fp16=cuda and not bf16,
        save_only_model=False,
        disable_tqdm=False,
        **extra,
    )
    kwargs.update(dict(algo_cfg.args or {}))
    return kwargs


def sampling_kwargs(config, generation_config) -> dict | None:
    """`generation_kwargs` for a TRL config whose rollouts run in vLLM (`use_vllm`): the stop tokens pbrl
    put in the model's generation config (`data.stop_at_newline`'s line breaks, the EOS ids) as vLLM's
    `stop_token_ids`; TRL's vLLM sampling never reads the model's generation config. Without vLLM the
    config's own `generation_kwargs` come back unchanged (TRL's transformers path reads the model's).

        config.generation_kwargs = sampling_kwargs(config, policy.model.generation_config)
    """
    kwargs = config.generation_kwargs
    if not getattr(config, "use_vllm", False):
        return kwargs
    eos = generation_config.eos_token_id
    stops = [eos] if isinstance(eos, int) else list(eos or [])
    if not stops:
        return kwargs
    kwargs = dict(kwargs or {})
    kwargs["stop_token_ids"] = list(dict.fromkeys([*kwargs.get("stop_token_ids", []), *stops]))
    return kwargs


def train_trl(trainer, tokenizer, run_dir: Path, tracker, reward_set=None) -> Trained:
    """Run a TRL trainer the pbrl way: metrics.jsonl per step, resume from the last complete
    checkpoint (dropping metrics logged after it), atomic `checkpoints/final`, rank 0 writes.

        trained = train_trl(GRPOTrainer(...), policy.tokenizer, run_dir, tracker, reward_set)
    """
    from pbrl.algos.callbacks import MetricsCallback, truncate_metrics
    from pbrl.isolated import release_accelerator_cache

    checkpoints = run_dir / "checkpoints"
    main = trainer.accelerator.is_main_process
    metrics_path = run_dir / "metrics.jsonl"
    trainer.add_callback(MetricsCallback(metrics_path, tracker, reward_set, main))
    resume = last_complete_checkpoint(checkpoints)
    if main:
        truncate_metrics(metrics_path, int(resume.name.split("-")[1]) if resume else 0)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    final = checkpoints / "final"
    if getattr(trainer, "is_fsdp_enabled", False):
        save_sharded_final(trainer, tokenizer, final)
    elif main:
        save_final(trainer.model, tokenizer, final)
    # Every rank's cached activations back to its GPU: rank 0's evaluation engine may span them (tensor parallel).
    release_accelerator_cache()
    trainer.accelerator.wait_for_everyone()
    return Trained(model=trainer.model, path=final)


def save_sharded_final(trainer, tokenizer, final: Path) -> None:
    """`checkpoints/final` of an FSDP run: every rank takes part in gathering the weights
    (`trainer.save_model`, a collective), rank 0 writes them with the tokenizer, then renames into place."""
    import shutil

    partial = final.with_name(final.name + ".partial")
    trainer.save_model(str(partial))  # rank 0 writes; the adapter alone for a PEFT model
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(partial)
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
