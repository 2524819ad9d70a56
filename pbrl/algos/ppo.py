"""Critic-based PPO for RLHF-style training with pbrl's reward callables (Ziegler et al. 2019;
Ouyang et al. 2022; the N+ implementation details of Huang et al. 2024).

Why our own: TRL removed `PPOTrainer` in 1.13, and it only ever scored completions with a
sequence-classification reward model, never with `reward(prompts, completions, **columns)` callables.
This module is the training loop (config, data order, rollout -> update, checkpoints, metrics); the
math is in `pbrl.algos.ppo_math` (pure tensor functions), the rollouts and forward passes in
`pbrl.algos.ppo_model`. It reuses `model.generate` for rollouts (the model's end tokens, so
`stop_at_newline` applies), TRL's `selective_log_softmax`, transformers' `get_scheduler`, and PEFT's
`disable_adapter` for the reference.

Design
- Value model: a linear head on the policy's last hidden state (shared backbone, as TRL's former
  `AutoModelForCausalLMWithValueHead`). One forward gives logits and values; the value loss (scaled
  by `vf_coef`) also trains the policy's trainable weights. The head is zero-initialised (V = 0).
- Reference policy: with LoRA, the same model with its adapter disabled (no extra memory); with full
  fine-tuning, a frozen copy taken before training. Only used when `kl_coef > 0`.
- Per-token reward: `-kl_coef * (log pi - log pi_ref)` on every completion token, plus the
  completion's total reward (`reward_set.total`) on its last token. Advantages by GAE(gamma, lam)
  over completion tokens (terminal after the last one), returns = advantages + old values,
  advantages whitened over the batch's tokens (`whiten_advantages`).
- Loss per mini-batch: clipped surrogate `max(-A r, -A clip(r, 1 +- cliprange))` plus
  `vf_coef * 0.5 * max((V - R)^2, (V_clip - R)^2)`, both token-level means over the mini-batch.
- A completion whose total reward is None (no component could score it) is left out of the update
  and counted in `reward/none`; it is never scored 0.

Cost per step (see `pbrl.algos.ppo_model`): one `generate` call for the rollout, then 2 + ppo_epochs
forwards of it (old log-probs and values, the reference, one per epoch with a backward). Logits are
computed for completion tokens only, backpropagation stops at the lowest adapted layer, and layers
below it (frozen) run once per rollout, so with the laptop preset (LoRA on the top 6 of 30 layers)
the reference and every epoch cost a 6-layer forward and backward.

Batch semantics: one training step = one rollout of `per_device_batch_size * gradient_accumulation_steps`
prompts with one sampled completion each (the same number of completions per step as a GRPO step with
the same settings; GRPO's `num_generations` groups are not used, the critic is PPO's baseline), then
`ppo_epochs` passes over the rollout in shuffled mini-batches of `mini_batch_size` completions (one
optimizer update each; default: the whole rollout), each forwarded in micro-batches of
`per_device_batch_size` rows of similar prompt length (few padding tokens; the gradient is that of
the whole mini-batch whatever its split). The rollout is generated in one `generate` call (as TRL generates a GRPO
step's completions together). `max_steps`, `save_steps`, `logging_steps` and the learning-rate schedule
count these steps. Prompts are taken in the pipeline's order (pbrl.data.order) on the first pass over the dataset,
in seeded random orders on later ones.

Determinism: the data order and the torch RNG are functions of (seed, step), and checkpoints hold the
weights, value head, optimizer, scheduler and Python/NumPy RNG states, so a run killed and resumed
from `checkpoints/checkpoint-N` ends with the same metrics as one that was never interrupted (CPU).
Single process only: under `torchrun`/`accelerate launch` with several processes it refuses to start.
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from pbrl.algos.callbacks import metrics_row, truncate_metrics
from pbrl.algos.checkpoints import COMPLETE_MARKER, last_complete_checkpoint, save_final
from pbrl.algos.interface import Trained
from pbrl.algos.ppo_math import (
    gae,
    kl_penalty,
    masked_mean,
    masked_whiten,
    policy_loss_terms,
    token_rewards,
    value_loss_terms,
)
from pbrl.algos.ppo_model import PolicyForward, ValueHead, eos_token_ids, sample
from pbrl.config import AlgoConfig, as_schema
from pbrl.rundir import append_jsonl, atomic_write_json, read_json

VALUE_HEAD_FILE = "value_head.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng_state.pth"


@dataclass
class PPOConfig:
    """PPO settings. The first group is the shared `algo` node's (`pbrl.config.AlgoConfig`, where their
    defaults live; the pre-flight checks their ranges), copied by `build_config`; `algo.args` may
    override any field. Defaults of the PPO group follow TRL's former PPOConfig."""

    # from the algo node
    max_steps: int
    learning_rate: float
    per_device_batch_size: int  # micro-batch (memory); rollout = this * gradient_accumulation_steps
    gradient_accumulation_steps: int
    max_completion_length: int
    temperature: float
    kl_coef: float  # algo.beta
    save_steps: int
    logging_steps: int
    # PPO
    gamma: float = 1.0
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    ppo_epochs: int = 4
    mini_batch_size: Optional[int] = None  # completions per optimizer update; None = the whole rollout
    whiten_advantages: bool = True
    value_learning_rate: Optional[float] = None  # value head; None = learning_rate
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    lr_scheduler_type: str = "linear"
    warmup_steps: int = 0
    top_p: float = 1.0
    top_k: int = 0  # 0 = no top-k filtering: sample from the policy the loss assumes

    def __post_init__(self):
        """Ranges of the PPO group (those of the algo node are the pre-flight's)."""
        if self.ppo_epochs < 1:
            raise ValueError(f"algo ppo: ppo_epochs={self.ppo_epochs} must be >= 1")
        for name in ("gamma", "lam", "top_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"algo ppo: {name}={getattr(self, name)} must be in [0, 1]")
        for name in ("cliprange", "cliprange_value", "vf_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"algo ppo: {name}={getattr(self, name)} must be >= 0")
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise ValueError(f"algo ppo: mini_batch_size={self.mini_batch_size} must be >= 1 or null (whole rollout)")

    @property
    def rollout_size(self) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps


def config_class(trainer: str):
    return PPOConfig


def build_config(algo_cfg) -> PPOConfig:
    """The algo node (an AlgoConfig, a DictConfig or a dict of its keys) as PPO settings: its shared
    fields (beta as kl_coef), then `algo.args`."""
    algo = as_schema(AlgoConfig, algo_cfg)
    shared = {f.name for f in fields(PPOConfig)} & {f.name for f in fields(AlgoConfig)}
    return PPOConfig(**({name: getattr(algo, name) for name in shared} | {"kl_coef": algo.beta} | dict(algo.args)))


# ---------------------------------------------------------------- data order


def prompt_order(num_rows: int, seed: int, epoch: int) -> list[int]:
    """The first pass over the rows keeps the pipeline's order (pbrl.data.order); later ones reshuffle."""
    if epoch == 0:
        return list(range(num_rows))
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_rows, generator=generator).tolist()


def step_indices(num_rows: int, rollout_size: int, step: int, seed: int) -> list[int]:
    """Row indices for training step `step` (1-based): consecutive slices of per-epoch permutations."""
    start = (step - 1) * rollout_size
    orders: dict[int, list[int]] = {}
    indices = []
    for position in range(start, start + rollout_size):
        epoch = position // num_rows
        if epoch not in orders:
            orders[epoch] = prompt_order(num_rows, seed, epoch)
        indices.append(orders[epoch][position % num_rows])
    return indices


# ---------------------------------------------------------------- the trainer


class PPOTrainer:
    def __init__(self, policy, reward_set, cfg: PPOConfig, seed: int):
        self.cfg = cfg
        self.seed = seed
        self.reward_set = reward_set
        self.tokenizer = policy.tokenizer
        model = policy.model
        torch.manual_seed(seed)
        if policy.peft_config is not None:
            from peft import get_peft_model

            ref_model = None  # the adapter-disabled model is the reference
            model = get_peft_model(model, policy.peft_config)
        else:
            ref_model = copy.deepcopy(model).eval().requires_grad_(False) if cfg.kl_coef > 0 else None
        self.model = model
        self.ref_model = ref_model
        self.device = next(model.parameters()).device
        self.forward = PolicyForward(model, cfg.temperature, ref_model,
                                     gradient_checkpointing=bool(policy.gradient_checkpointing))
        self.head = ValueHead(model.config.hidden_size).to(self.device)
        self.eos_ids = eos_token_ids(model, self.tokenizer)
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            [{"params": params, "lr": cfg.learning_rate},
             {"params": self.head.parameters(), "lr": cfg.value_learning_rate or cfg.learning_rate}],
            weight_decay=cfg.weight_decay,
        )
        from transformers import get_scheduler

        self.scheduler = get_scheduler(cfg.lr_scheduler_type, self.optimizer, num_warmup_steps=cfg.warmup_steps,
                                       num_training_steps=cfg.max_steps)

    # -- checkpoints

    def save_checkpoint(self, checkpoints: Path, step: int) -> Path:
        from safetensors.torch import save_file

        path = checkpoints / f"checkpoint-{step}"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        self.model.save_pretrained(path, max_shard_size="1000GB")  # one file, so resume finds it
        self.tokenizer.save_pretrained(path)
        save_file(self.head.state_dict(), path / VALUE_HEAD_FILE)
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()},
                   path / OPTIMIZER_FILE)
        torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
                   path / RNG_FILE)
        atomic_write_json(path / COMPLETE_MARKER, {"global_step": step, "max_steps": self.cfg.max_steps,
                                                   "trainer": "pbrl.algos.ppo", "seed": self.seed})
        return path

    def load_checkpoint(self, path: Path) -> int:
        from safetensors.torch import load_file

        if (path / "adapter_model.safetensors").exists():
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.model, load_file(path / "adapter_model.safetensors"))
        else:
            state = load_file(path / "model.safetensors")
            missing, unexpected = self.model.load_state_dict(state, strict=False)
            tied = set(getattr(self.model, "all_tied_weights_keys", None) or {}) | {"lm_head.weight"}
            if unexpected or set(missing) - tied:
                raise ValueError(f"checkpoint {path} does not match the policy (missing {missing}, unexpected "
                                 f"{unexpected}); delete it or use the policy it was trained with")
        self.head.load_state_dict(load_file(path / VALUE_HEAD_FILE))
        state = torch.load(path / OPTIMIZER_FILE, weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rng = torch.load(path / RNG_FILE, weights_only=False)
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        return int(read_json(path / COMPLETE_MARKER)["global_step"])

    # -- one step

    def prompt_ids(self, prompts) -> list[list[int]]:
        from pbrl.generation import render_prompt

        texts = [render_prompt(self.tokenizer, p) for p in prompts]
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def step(self, rows: dict) -> dict:
        cfg = self.cfg
        prompts = rows["prompt"]
        columns = {k: v for k, v in rows.items() if k != "prompt"}
        prompt_ids = self.prompt_ids(prompts)
        self.model.eval()
        completion_ids = sample(self.model, self.tokenizer, prompt_ids, max_new_tokens=cfg.max_completion_length,
                                temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k, eos_ids=self.eos_ids)
        texts = self.tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        conversational = not isinstance(prompts[0], str)
        completions = [[{"role": "assistant", "content": t}] if conversational else t for t in texts]
        totals, per_component = self.reward_set.total(prompts, completions, **columns)

        logs: dict = {"reward/none": float(sum(t is None for t in totals))}
        scored = [t for t in totals if t is not None]
        logs.update(_mean_std("reward", scored))
        for name, values in per_component.items():
            logs.update(_mean_std(f"rewards/{name}", [v for v in values if v is not None]))
        logs["completions/mean_length"] = float(np.mean([len(c) for c in completion_ids]))
        keep = [i for i, t in enumerate(totals) if t is not None]
        logs["learning_rate"] = self.scheduler.get_last_lr()[0]
        if keep:
            logs.update(self.update([prompt_ids[i] for i in keep], [completion_ids[i] for i in keep],
                                    torch.tensor([totals[i] for i in keep], dtype=torch.float32)))
        self.scheduler.step()
        return logs

    def update(self, prompt_ids, completion_ids, scores: torch.Tensor) -> dict:
        cfg = self.cfg
        n = len(prompt_ids)
        micro = cfg.per_device_batch_size
        # the frozen trunk (if any) runs here, once for the rollout: every pass below starts above it
        rollout = self.forward.encode_rollout(prompt_ids, completion_ids, self.tokenizer.pad_token_id, micro)
        mask = rollout.completion_mask
        old_logprobs, old_values = torch.zeros_like(mask), torch.zeros_like(mask)
        ref_logprobs = torch.zeros_like(mask) if cfg.kl_coef > 0 else None
        by_length = rollout.by_length()  # micro-batches of similar prompt lengths: little padding
        with torch.no_grad():
            for start in range(0, n, micro):
                rows = by_length[start : start + micro]
                batch = rollout.select(rows)
                t = batch.completion_ids.shape[1]
                old_logprobs[rows, :t], old_values[rows, :t] = self.forward(batch, self.head)
                if ref_logprobs is not None:
                    ref_logprobs[rows, :t] = self.forward(batch, reference=True)[0]
        rewards = token_rewards(scores.to(mask.device), old_logprobs, ref_logprobs, mask, cfg.kl_coef)
        advantages, returns = gae(rewards, old_values, mask, cfg.gamma, cfg.lam)
        if cfg.whiten_advantages:
            advantages = masked_whiten(advantages, mask)

        self.model.train()
        mini = cfg.mini_batch_size or n
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "loss": 0.0, "clipfrac": 0.0, "grad_norm": 0.0}
        updates = 0
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(n).tolist()  # global RNG, reseeded every step
            for mb_start in range(0, n, mini):
                minibatch = rollout.by_length(order[mb_start : mb_start + mini])  # same rows, less padding
                tokens = mask[minibatch].sum()
                stats = {"policy_loss": 0.0, "value_loss": 0.0, "clipfrac": 0.0}
                self.optimizer.zero_grad(set_to_none=True)
                for start in range(0, len(minibatch), micro):
                    rows = minibatch[start : start + micro]
                    batch = rollout.select(rows)
                    t = batch.completion_ids.shape[1]
                    m = mask[rows, :t]
                    lp, v = self.forward(batch, self.head)
                    pg, clipped = policy_loss_terms(lp, old_logprobs[rows, :t], advantages[rows, :t], cfg.cliprange)
                    vf = value_loss_terms(v, old_values[rows, :t], returns[rows, :t], cfg.cliprange_value)
                    # sums over tokens / the mini-batch's token count = token mean over the mini-batch
                    pg_sum, vf_sum = (pg * m).sum() / tokens, (vf * m).sum() / tokens
                    (pg_sum + cfg.vf_coef * vf_sum).backward()
                    stats["policy_loss"] += pg_sum.item()
                    stats["value_loss"] += vf_sum.item()
                    stats["clipfrac"] += ((clipped * m).sum() / tokens).item()
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    [p for group in self.optimizer.param_groups for p in group["params"]], cfg.max_grad_norm)
                self.optimizer.step()
                updates += 1
                for key in ("policy_loss", "value_loss", "clipfrac"):
                    sums[key] += stats[key]
                sums["loss"] += stats["policy_loss"] + cfg.vf_coef * stats["value_loss"]
                sums["grad_norm"] += float(grad_norm)
        self.optimizer.zero_grad(set_to_none=True)
        logs = {k: v / updates for k, v in sums.items()}
        if ref_logprobs is not None:
            logs["kl"] = float(masked_mean(kl_penalty(old_logprobs, ref_logprobs), mask))
        logs["value/mean"] = float(masked_mean(old_values, mask))
        return logs


def _mean_std(prefix: str, values: list[float]) -> dict:
    if not values:
        return {f"{prefix}/mean": None, f"{prefix}/std": None}
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0  # sample std, as TRL logs it
    return {f"{prefix}/mean": float(np.mean(values)), f"{prefix}/std": std}


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63)


def train(policy, train_dataset, reward_set, algo_cfg, run_dir: Path, tracker, seed: int) -> Trained:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("algo ppo runs in a single process; launch it without torchrun/accelerate (WORLD_SIZE=1)")
    cfg = build_config(algo_cfg)
    if "prompt" not in train_dataset.column_names:
        raise ValueError(f"algo ppo needs a 'prompt' column in the training dataset (has: {train_dataset.column_names})")
    trainer = PPOTrainer(policy, reward_set, cfg, seed)
    checkpoints = run_dir / "checkpoints"
    metrics_path = run_dir / "metrics.jsonl"
    resume = last_complete_checkpoint(checkpoints)
    start = trainer.load_checkpoint(resume) if resume else 0
    truncate_metrics(metrics_path, start)
    reward_set.pop_stats()  # counts from before this run (e.g. a reward warm-up) are not step 1's
    for step in tqdm(range(start + 1, cfg.max_steps + 1), desc="ppo", unit="step", initial=start, total=cfg.max_steps):
        began = time.perf_counter()
        torch.manual_seed(_step_seed(seed, step))
        rows = train_dataset[step_indices(len(train_dataset), cfg.rollout_size, step, seed)]
        logs = trainer.step(rows)
        stats = reward_set.pop_stats()
        if step % cfg.logging_steps == 0:
            row = metrics_row(step, logs, stats, time.perf_counter() - began)
            append_jsonl(metrics_path, row)
            tracker.log(row, step=step)
        if step % cfg.save_steps == 0:
            trainer.save_checkpoint(checkpoints, step)
    final = save_final(trainer.model, policy.tokenizer, checkpoints / "final")
    return Trained(model=trainer.model, path=final)
