"""Completion log-probabilities for TRL's GRPO and RLOO trainers with each distinct prompt run once.

TRL scores a rollout by running every row (prompt + completion) through the model: a GRPO group's
prompt, repeated `num_generations` times, is computed once per repeat, and on devices without
Triton its fused LM head projects every position, prompt included, onto the vocabulary (49k wide for
SmolLM2) forward and backward. `SharedPromptLogps` overrides the one method that does this: the
distinct prompts run once (with gradients, so LoRA weights under the prompt still learn from every
completion), their key/value cache is copied to the rows that repeat them, and the rows' last prompt
token and completions run on top through TRL's own fused head, which then scores completion tokens
only. Same positions, masks and loss; log-probabilities equal TRL's up to floating-point rounding
(tests/unit/test_shared_prompt.py). Multimodal rows, MoE auxiliary losses and gradient
checkpointing (which drops caches) go to TRL's method unchanged.
"""

from __future__ import annotations

import torch

from pbrl.generation import CACHE_ARGUMENT


def completion_logps(model, input_ids, attention_mask, completion_length: int, compute_entropy: bool,
                     prompt_model=None):
    """(log-probs, entropies or None), each [rows, completion_length], of the last `completion_length`
    tokens of `input_ids` (prompt then completion, as TRL concatenates them). `prompt_model` runs the
    prompts (default `model`): under DDP, the wrapped module, so that one DDP forward feeds one backward."""
    from transformers import DynamicCache

    prompt_ids, prompt_mask = input_ids[:, :-completion_length], attention_mask[:, :-completion_length]
    distinct, row_of = distinct_rows(prompt_ids, prompt_mask)
    cache = DynamicCache()
    if prompt_ids.shape[1] > 1:
        # no position ids, as in TRL's forward: positions count from the first (padded) column
        (prompt_model or model)(input_ids=prompt_ids[distinct, :-1], attention_mask=prompt_mask[distinct, :-1],
                                use_cache=True, logits_to_keep=1, **{CACHE_ARGUMENT: cache})
        cache.batch_select_indices(row_of)
    tail = input_ids[:, prompt_ids.shape[1] - 1:]  # the last prompt token predicts the first completion token
    labels = tail.masked_fill(attention_mask[:, prompt_ids.shape[1] - 1:] == 0, -100)
    labels[:, 0] = -100
    outputs = model(input_ids=tail, attention_mask=attention_mask, labels=labels, fused_lm_head=True,
                    **{CACHE_ARGUMENT: cache})
    entropy = outputs.entropy[:, -completion_length:] if compute_entropy else None
    return outputs.log_probs[:, -completion_length:], entropy


def distinct_rows(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices of the distinct rows, for each row the position of its distinct row among them).

    Example:
        >>> ids = torch.tensor([[0, 5], [0, 5], [7, 8]]); distinct_rows(ids, torch.ones_like(ids))
        (tensor([0, 2]), tensor([0, 0, 1]))
    """
    seen: dict[tuple, int] = {}
    first: list[int] = []
    row_of: list[int] = []
    for i, key in enumerate(zip(map(tuple, ids.tolist()), map(tuple, mask.tolist()))):
        if key not in seen:
            seen[key] = len(first)
            first.append(i)
        row_of.append(seen[key])
    return torch.tensor(first, device=ids.device), torch.tensor(row_of, device=ids.device)


class SharedPromptLogps:
    """Mixin for `trl.GRPOTrainer` / `trl.RLOOTrainer` (put it first among the bases)."""

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **multimodal):
        # TRL's own path where a layer may run twice (checkpointing: its recompute replays the cache writes) or
        # is sharded (FSDP, whichever checkpointing its config asks for)
        if (compute_aux_loss or any(v is not None for v in multimodal.values()) or self.args.gradient_checkpointing
                or getattr(self, "is_fsdp_enabled", False) or input_ids.shape[1] <= logits_to_keep):
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              batch_size, compute_entropy, compute_aux_loss,
                                                              **multimodal)
        inner = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else None
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            rows = slice(start, start + batch_size)
            with self.accelerator.autocast():
                chunk_logps, chunk_entropy = completion_logps(model, input_ids[rows], attention_mask[rows],
                                                              logits_to_keep, compute_entropy, prompt_model=inner)
            logps.append(chunk_logps)
            entropies.append(chunk_entropy)
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None
