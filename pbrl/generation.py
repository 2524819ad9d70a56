"""Batched generation with left padding, shared by the pivot, evaluation and benchmarks.

Prompts are sorted by length before batching so each batch pads little; results come back in the
caller's order.
"""

from __future__ import annotations

from typing import Sequence

import torch
from tqdm.auto import tqdm


def render_prompt(tokenizer, prompt) -> str:
    """A chat message list goes through the tokenizer's chat template; a string is used as is."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: Sequence,
    max_new_tokens: int,
    batch_size: int = 16,
    temperature: float = 0.0,
    num_return_sequences: int = 1,
    seed: int = 0,
    desc: str = "generate",
    top_p: float = 1.0,
    min_new_tokens: int = 0,
) -> list[list[str]]:
    """Return `num_return_sequences` completions for each prompt (greedy when temperature == 0)."""
    texts = [render_prompt(tokenizer, p) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    results: list[list[str]] = [[] for _ in texts]
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sampling = temperature > 0
    gen_kwargs = dict(
        max_new_tokens=max_new_tokens,
        do_sample=sampling,
        num_return_sequences=num_return_sequences,
        pad_token_id=tokenizer.pad_token_id,
    )
    if min_new_tokens:
        gen_kwargs["min_new_tokens"] = min_new_tokens
    if sampling:
        gen_kwargs.update(temperature=temperature, top_p=top_p)
    else:
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    try:
        torch.manual_seed(seed)
        for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False):
            idx = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model.generate(**batch, **gen_kwargs)
            decoded = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            for j, i in enumerate(idx):
                results[i] = [d.strip() for d in decoded[j * num_return_sequences : (j + 1) * num_return_sequences]]
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return results


def newline_token_ids(tokenizer) -> list[int]:
    """Ids of the tokens that decode to whitespace holding a line break."""
    ids = []
    for token, token_id in tokenizer.get_vocab().items():
        text = tokenizer.convert_tokens_to_string([token])
        if "\n" in text and not text.strip():
            ids.append(token_id)
    return sorted(ids)


def stop_at_newline(model, tokenizer) -> None:
    """End every generation (pbrl's and TRL's, which both read `model.generation_config`) at the
    first line break, for tasks whose answers are one line: without it a few-shot prompted model
    goes on writing the next "Question:" until `max_new_tokens`, and GRPO's completions are clipped."""
    config = model.generation_config
    eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos)
    config.eos_token_id = list(dict.fromkeys([*eos, *newline_token_ids(tokenizer)]))
