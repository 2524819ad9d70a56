"""Batched generation with left padding, shared by the pivot, evaluation and benchmarks.

Prompts are sorted before batching so each batch pads little and shares its prompts' common start;
results come back in the caller's order.
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


MIN_SHARED_PREFIX = 16  # tokens a batch's prompts must share before their prefix is computed once


def _cache_argument() -> str:
    """`generate`'s name for a prefilled key/value cache: `cache` since transformers 5.24 (where
    `past_key_values` is deprecated), `past_key_values` before."""
    import transformers
    from packaging.version import Version

    return "cache" if Version(transformers.__version__) >= Version("5.24") else "past_key_values"


CACHE_ARGUMENT = _cache_argument()


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
    share_prefix: bool = True,
    max_batch_tokens: int | None = None,
) -> list[list[str]]:
    """Return `num_return_sequences` completions for each prompt (greedy when temperature == 0).

    Prompts are sorted by their tokens, so prompts that start alike (few-shot exemplars, a system
    prompt) share a batch; with `share_prefix`, the tokens all prompts of a batch start with are run
    through the model once and their key/value cache is copied to every row, instead of once per
    prompt (few-shot prompts on a CPU: most of the work). Answers equal those of plain batched
    generation up to floating-point rounding. With `max_batch_tokens`, a batch also holds no more
    than that many prompt tokens (rows x longest prompt): long prompts (Bengali: 3x the tokens of
    German) come in smaller batches, which bounds the prefill's transient memory.
    """
    texts = [render_prompt(tokenizer, p) for p in prompts]
    token_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: token_ids[i])
    results: list[list[str]] = [[] for _ in texts]
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
        logits_to_keep=1,  # not the prompt's logits (49k wide per token); a PEFT wrapper hides this default
    )
    if min_new_tokens:
        gen_kwargs["min_new_tokens"] = min_new_tokens
    if sampling:
        gen_kwargs.update(temperature=temperature, top_p=top_p)
    else:
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    try:
        torch.manual_seed(seed)
        batches = token_budget_batches([len(token_ids[i]) for i in order], batch_size, max_batch_tokens)
        for batch in tqdm(batches, desc=desc, unit="batch", leave=False):
            idx = [order[j] for j in batch]
            rows = [token_ids[i] for i in idx]
            shared = shared_prefix_length(rows) if share_prefix and num_return_sequences == 1 else 0
            inputs = padded_batch(rows, shared if shared >= MIN_SHARED_PREFIX else 0, tokenizer.pad_token_id)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            if shared >= MIN_SHARED_PREFIX:
                prefix = model(input_ids=inputs["input_ids"][:1, :shared], use_cache=True).past_key_values
                prefix.batch_repeat_interleave(len(rows))
                inputs[CACHE_ARGUMENT] = prefix
            out = model.generate(**inputs, **gen_kwargs)
            decoded = tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            for j, i in enumerate(idx):
                results[i] = [d.strip() for d in decoded[j * num_return_sequences : (j + 1) * num_return_sequences]]
    finally:
        model.train(was_training)
    return results


def token_budget_batches(lengths: list[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Consecutive positions grouped into batches of at most `batch_size` rows and (if given)
    `max_tokens` = rows x longest row; a row longer than the budget gets a batch of its own."""
    batches: list[list[int]] = []
    for position, length in enumerate(lengths):
        current = batches[-1] if batches else []
        widest = max([length, *(lengths[p] for p in current)])
        if not current or len(current) == batch_size or (max_tokens and (len(current) + 1) * widest > max_tokens):
            batches.append([position])
        else:
            current.append(position)
    return batches


def shared_prefix_length(rows: list[list[int]]) -> int:
    """How many leading tokens every row has in common, leaving each row at least one of its own."""
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


def padded_batch(rows: list[list[int]], shared: int, pad_id: int) -> dict:
    """input_ids/attention_mask with the shared prefix first and each row's padding after it:
    [prefix, pad…, rest]. Masked padding in the middle leaves position ids and attention as with
    left padding, and keeps the prefix in the same place in every row, so one cache fits all."""
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        pad = width - len(row)
        input_ids[i, :shared] = torch.tensor(row[:shared])
        input_ids[i, shared + pad :] = torch.tensor(row[shared:])
        attention[i, :shared] = 1
        attention[i, shared + pad :] = 1
    return {"input_ids": input_ids, "attention_mask": attention}


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


def prefill_repeated_prompts(model) -> None:
    """Make `model.generate` run each distinct prompt through the model once when the batch repeats
    prompts (GRPO/RLOO generate `num_generations` completions per prompt as repeated rows): the
    prompt's key/value cache is computed for the distinct rows and copied to their repeats. On a
    CPU, prefilling few-shot prompts is most of a rollout's cost; the answers equal those of plain
    generation up to floating-point rounding (tests/unit/test_generation_stop.py)."""
    plain_generate = model.generate

    def generate_once_per_prompt(input_ids=None, attention_mask=None, **kwargs):
        if input_ids is None or attention_mask is None or CACHE_ARGUMENT in kwargs or "past_key_values" in kwargs:
            return plain_generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        distinct, row_of = repeated_rows(input_ids, attention_mask)
        if len(distinct) == len(row_of) or input_ids.shape[1] < 2:
            return plain_generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        ids, mask = input_ids[distinct, :-1], attention_mask[distinct, :-1]
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            cache = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                          logits_to_keep=1).past_key_values
        cache.batch_select_indices(torch.tensor(row_of, device=input_ids.device))
        kwargs[CACHE_ARGUMENT] = cache
        return plain_generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    model.generate = generate_once_per_prompt


def repeated_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[list[int], list[int]]:
    """(indices of the distinct rows, for each row the position of its distinct row in that list)."""
    seen: dict[tuple, int] = {}
    distinct: list[int] = []
    row_of: list[int] = []
    for i, (ids, mask) in enumerate(zip(input_ids.tolist(), attention_mask.tolist())):
        key = (tuple(ids), tuple(mask))
        if key not in seen:
            seen[key] = len(distinct)
            distinct.append(i)
        row_of.append(seen[key])
    return distinct, row_of
