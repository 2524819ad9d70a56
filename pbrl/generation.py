"""Batched generation shared by the evaluation, the pivot and the trainers' rollouts.

Few-shot prompts of one language start with the same worked example (~60 % of a default prompt's
tokens), and a GRPO rollout repeats each prompt `num_generations` times. `prefill` runs what rows
share through the model once: rows are grouped by the tokens they start with, each group's prefix
is computed once and its key/value cache copied to the group's rows, then every row's own tokens are
added on top, all through transformers' cache API (`DynamicCache`). `generate` uses it for greedy
answers (`greedy_decode`, which also drops each row from the batch as soon as it ends) and for
sampling (`model.generate` continuing from the prefilled cache); `share_prefill` makes a model's own
`generate` do the same for the trainers (TRL's GRPO/RLOO rollouts, pbrl's PPO rollouts). The cache's
layers (`RoomyLayer`) keep room for the positions to come, so a decode step writes one in place instead
of copying the whole cache; on a CPU in float32 the linear layers run through oneDNN (`onednn_linears`).
Answers equal those of plain batched generation up to floating-point rounding.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Sequence

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

MIN_SHARED_PREFIX = 16  # tokens rows must share before their prefix is computed once for all of them


def render_prompt(tokenizer, prompt) -> str:
    """A chat message list goes through the tokenizer's chat template; a string is used as is."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)


def _cache_argument() -> str:
    """The name under which forward/`generate` take a key/value cache: `cache` since transformers 5.24
    (where `past_key_values` is deprecated), `past_key_values` before."""
    import transformers
    from packaging.version import Version

    return "cache" if Version(transformers.__version__) >= Version("5.24") else "past_key_values"


CACHE_ARGUMENT = _cache_argument()


def _decoder(model):
    """The transformer stack under the LM head: a prefill needs only the cache it fills, not logits.
    Skipping the head also avoids a PyTorch slow path: the head applied to the last position of a
    prefilled batch (a strided slice) with frozen weights (LoRA training, a merged model) goes through
    a batched matmul that copies the 49k x hidden matrix once per row (1 s and ~1 GB at 16 rows)."""
    get_decoder = getattr(model, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    return decoder if isinstance(decoder, torch.nn.Module) else model


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

    Prompts are sorted by their tokens, so prompts that start alike (a language's few-shot
    exemplar, a system prompt) come together; with `share_prefix` such a group's common start is
    computed once (`prefill`) and no batch mixes two groups. A batch holds at most `batch_size`
    prompts and, with `max_batch_tokens`, at most that many key/value positions (sequences x
    (longest prompt + max_new_tokens)): long prompts (Bengali: 3x the tokens of German) come in
    smaller batches, which bounds the cache's memory. Greedy batches drop each row as soon as it ends.
    """
    texts = [render_prompt(tokenizer, p) for p in prompts]
    token_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: token_ids[i])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    k = num_return_sequences
    widths = [(len(token_ids[i]) + max_new_tokens) * k for i in order]
    groups = prefix_groups([token_ids[i] for i in order]) if share_prefix else [list(range(len(order)))]
    batches = [[group[j] for j in batch] for group in groups
               for batch in token_budget_batches([widths[p] for p in group], batch_size, max_batch_tokens)]
    results: list[list[str]] = [[] for _ in texts]
    was_training = model.training
    model.eval()
    stop_ids = _stop_ids(model, tokenizer)
    prefixes: dict[tuple, list] = {}  # a group's prefix cache, computed once for all its batches
    try:
        with onednn_linears(model):
            torch.manual_seed(seed)
            for batch in tqdm(batches, desc=desc, unit="batch", leave=False):
                idx = [order[j] for j in batch]
                rows = [token_ids[i] for i in idx for _ in range(k)]
                ids, mask, cache = prefill(model, rows, tokenizer.pad_token_id, share=share_prefix, prefixes=prefixes)
                if temperature == 0 and k == 1:
                    new = greedy_decode(model, ids, mask, cache, max_new_tokens, stop_ids)
                else:
                    new = _sample(model, tokenizer, ids, mask, cache, max_new_tokens, temperature, top_p, min_new_tokens)
                decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
                for j, i in enumerate(idx):
                    results[i] = [d.strip() for d in decoded[j * k : (j + 1) * k]]
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


def prefix_groups(sorted_rows: list[list[int]], min_shared: int = MIN_SHARED_PREFIX) -> list[list[int]]:
    """Consecutive positions of lexicographically sorted rows, grouped while they share at least
    `min_shared` leading tokens with the group's first row (a language's exemplar).

    Example:
        >>> prefix_groups([[1, 2, 3, 4], [1, 2, 3, 5], [7, 8, 9]], min_shared=2)
        [[0, 1], [2]]
    """
    groups: list[list[int]] = []
    for position, row in enumerate(sorted_rows):
        if groups and shared_prefix_length([sorted_rows[groups[-1][0]], row]) >= min_shared:
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def shared_prefix_length(rows: list[list[int]]) -> int:
    """How many leading tokens every row has in common, leaving each row at least one of its own."""
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


@dataclass
class PrefixLayout:
    """Where each row's tokens go: [its group's prefix, padding, its own tokens]. Every group's
    prefix sits in the same columns of each of its rows, and every row ends in the last column;
    position ids from the mask (cumsum - 1) are those of left padding. Without groups: left padding."""

    input_ids: torch.Tensor  # [rows, width]
    attention_mask: torch.Tensor  # [rows, width]
    prefix_width: int  # columns [0, prefix_width) come from the groups' prefix caches
    groups: list[tuple[int, list[int]]]  # (shared length, its rows); every row in exactly one group

    @classmethod
    def of(cls, rows: list[list[int]], pad_id: int, share: bool = True,
           min_shared: int = MIN_SHARED_PREFIX) -> "PrefixLayout":
        by_start: dict[tuple, list[int]] = {}
        for i, row in enumerate(rows):
            by_start.setdefault(tuple(row[:min_shared]) if share else (), []).append(i)
        groups = []
        for members in by_start.values():
            shared = shared_prefix_length([rows[i] for i in members]) if share and len(members) > 1 else 0
            groups.append((shared if shared >= min_shared else 0, members))
        shared_of = {i: shared for shared, members in groups for i in members}
        prefix_width = max(shared_of.values())
        width = prefix_width + max(len(row) - shared_of[i] for i, row in enumerate(rows))
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            shared = shared_of[i]
            own = row[shared:]
            input_ids[i, :shared] = torch.tensor(row[:shared], dtype=torch.long)
            input_ids[i, width - len(own):] = torch.tensor(own, dtype=torch.long)
            mask[i, :shared] = 1
            mask[i, width - len(own):] = 1
        return cls(input_ids, mask, prefix_width, groups)


def can_share_prefix(model) -> bool:
    """Prefix caches are stitched together layer by layer, which needs every layer to keep all of
    its keys and values: full attention (no sliding window, no recurrent state)."""
    config = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return all(t == "full_attention" for t in layer_types)
    return not getattr(config, "sliding_window", None)


def prefill(model, rows: list[list[int]], pad_id: int, share: bool = True, prefixes: dict | None = None):
    """(input_ids, attention_mask, cache) to generate after `rows` (token ids), the cache holding
    every column but the last. Repeated rows are computed once; with `share`, each group of rows
    that start alike has its prefix computed once (kept in `prefixes` for later batches); then all
    rows' own tokens but the last run on top of the groups' caches in one forward.

    Example: a GRPO rollout of 2 prompts x 4 generations whose prompts share a 90-token exemplar:
    the exemplar runs once (batch 1), each prompt's question once (batch 2), and the 8 rows copy
    the resulting cache; `greedy_decode` or `model.generate` then feeds the last column.
    """
    distinct: dict[tuple, int] = {}
    row_of = [distinct.setdefault(tuple(row), len(distinct)) for row in rows]
    unique = [list(row) for row in distinct]
    layout = PrefixLayout.of(unique, pad_id, share=share and can_share_prefix(model))
    device = next(model.parameters()).device
    ids, mask = layout.input_ids.to(device), layout.attention_mask.to(device)
    start = layout.prefix_width
    cache = roomy_cache(_prefix_caches(model, layout, ids, prefixes) if start else None)
    if ids.shape[1] - 1 > start:
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        _decoder(model)(input_ids=ids[:, start:-1], attention_mask=mask[:, :-1], position_ids=positions[:, start:-1],
                        use_cache=True, **{CACHE_ARGUMENT: cache})
    if len(unique) < len(rows):
        index = torch.tensor(row_of, device=device)
        cache.batch_select_indices(index)
        ids, mask = ids[index], mask[index]
    return ids, mask, cache


def _prefix_caches(model, layout: PrefixLayout, ids: torch.Tensor, prefixes: dict | None):
    """Per layer, (keys, values) of columns [0, prefix_width) for every row: its group's prefix,
    computed once per group, then zeros (masked out) up to the widest prefix."""
    prefixes = {} if prefixes is None else prefixes
    keys: list[torch.Tensor] = []
    values: list[torch.Tensor] = []
    for shared, members in layout.groups:
        if not shared:
            continue
        prefix = ids[members[0], :shared]
        key = tuple(prefix.tolist())
        if key not in prefixes:
            cache = DynamicCache()
            _decoder(model)(input_ids=prefix[None], use_cache=True, **{CACHE_ARGUMENT: cache})
            prefixes[key] = [(layer[0], layer[1]) for layer in cache]
        index = torch.tensor(members, device=ids.device)
        for layer_idx, (k, v) in enumerate(prefixes[key]):
            if layer_idx == len(keys):
                shape = (len(ids), k.shape[1], layout.prefix_width, k.shape[3])
                keys.append(k.new_zeros(shape))
                values.append(v.new_zeros(shape))
            keys[layer_idx][index, :, :shared] = k
            values[layer_idx][index, :, :shared] = v
    return list(zip(keys, values))


def roomy_cache(layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> DynamicCache:
    """A `DynamicCache` of `RoomyLayer`s, filled with `layers` ((keys, values) per layer) if given."""
    cache = DynamicCache()
    cache.layer_class_to_replicate = RoomyLayer
    for layer_idx, (keys, values) in enumerate(layers or []):
        cache.update(keys, values, layer_idx)
    return cache


class RoomyLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values are views of buffers with `ROOM` free positions after
    them: a decode step writes its position in place, where `DynamicLayer` copies the whole cache
    (`torch.cat`) to add it. What another method leaves behind (`batch_select_indices` after a row
    ends, `crop`, ...) is a plain tensor, which the next `update` copies into a new buffer."""

    ROOM = 64

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        start = self.keys.shape[-2] if self.keys.dim() == 4 else 0
        end = start + key_states.shape[-2]
        if self.keys is not getattr(self, "_view", None) or end > self._buffers[0].shape[-2]:
            self._buffers = (_with_room(self.keys, key_states, start, end + self.ROOM),
                             _with_room(self.values, value_states, start, end + self.ROOM))
        key_buffer, value_buffer = self._buffers
        key_buffer[..., start:end, :] = key_states
        value_buffer[..., start:end, :] = value_states
        self.keys, self.values = key_buffer[..., :end, :], value_buffer[..., :end, :]
        self._view = self.keys
        return self.keys, self.values


@contextmanager
def onednn_linears(model):
    """Inside, the model's float32 `nn.Linear`s on a CPU run through oneDNN's matmul, the kernel
    PyTorch already picks for bfloat16, instead of MKL's sgemm: on a 2-core AMD Zen 2 (AVX2) a decode
    step's matmuls take 0.6x the time at 1-25 rows and a prefill's 0.75x at 256, the same results up
    to float32 rounding; the default's evaluation 0.84x (`benchmarks/cpu_speedups.py`). Like every
    oneDNN op it keeps each shape it has run (~0.7 MB each, up to 1024; the default run: +0.3 GB peak
    RSS). The op has no backward, so a forward that records gradients keeps `F.linear`; nothing
    changes on a GPU, in bfloat16, or where the op is missing."""
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear and m.weight.device.type == "cpu"
               and m.weight.dtype == torch.float32] if _has_onednn_linear() else []
    saved = [m.__dict__.get("forward") for m in linears]
    for m in linears:
        m.forward = partial(_onednn_linear, m)
    try:
        yield
    finally:
        for m, forward in zip(linears, saved):
            if forward is None:
                del m.forward
            else:
                m.forward = forward


def _onednn_linear(module: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() or x.dtype != torch.float32:
        return torch.nn.functional.linear(x, module.weight, module.bias)
    return torch.ops.mkldnn._linear_pointwise(x, module.weight, module.bias, "none", [], "")


def _has_onednn_linear() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _with_room(cached: torch.Tensor, like: torch.Tensor, length: int, capacity: int) -> torch.Tensor:
    """A buffer shaped like `like` but `capacity` positions long, starting with `cached`'s `length`."""
    buffer = like.new_empty((*like.shape[:-2], capacity, like.shape[-1]))
    if length:
        buffer[..., :length, :] = cached
    return buffer


@torch.no_grad()
def greedy_decode(model, input_ids, attention_mask, cache, max_new_tokens: int, stop_ids) -> list[list[int]]:
    """Greedy continuation of each row (the new token ids, a stop token included), where `cache`
    holds every column of `input_ids` but the last (`prefill`). A row leaves the batch when it emits
    a stop token: `model.generate` keeps computing finished rows until the batch's longest answer
    ends, and on a CPU each row adds to a step's cost (SmolLM2, float32: ~30 ms a step + ~3.5 ms a row).
    """
    stop = torch.tensor(sorted(stop_ids), device=input_ids.device)
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)
    new: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
    tokens, mask = input_ids[:, -1:], attention_mask
    position = mask.sum(-1, keepdim=True) - 1
    for _ in range(max_new_tokens):
        logits = model(input_ids=tokens, attention_mask=mask, position_ids=position, use_cache=True,
                       logits_to_keep=1, **{CACHE_ARGUMENT: cache}).logits
        chosen = logits[:, -1].max(-1).indices  # argmax's first maximum, 4x faster on bfloat16 logits
        for row, token in zip(rows.tolist(), chosen.tolist()):
            new[row].append(token)
        going = ~torch.isin(chosen, stop)
        if not going.any():
            break
        if not going.all():
            keep = going.nonzero().squeeze(-1)
            cache.batch_select_indices(keep)
            rows, chosen, mask, position = rows[keep], chosen[keep], mask[keep], position[keep]
        tokens = chosen[:, None]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        position = position + 1
    return new


def _sample(model, tokenizer, input_ids, attention_mask, cache, max_new_tokens, temperature, top_p, min_new_tokens):
    """`model.generate` continuing from a prefilled cache; returns the new tokens."""
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=temperature > 0, pad_token_id=tokenizer.pad_token_id,
                  logits_to_keep=1)  # not the prompt's logits (49k wide per token); a PEFT wrapper hides this default
    if min_new_tokens:
        kwargs["min_new_tokens"] = min_new_tokens
    if temperature > 0:
        kwargs.update(temperature=temperature, top_p=top_p)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, **{CACHE_ARGUMENT: cache}, **kwargs)
    return out[:, input_ids.shape[1]:]


def _stop_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    return set([eos] if isinstance(eos, int) else eos)


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


def share_prefill(model) -> None:
    """Make `model.generate` start from `prefill`: each distinct prompt computed once (GRPO and
    RLOO repeat every prompt `num_generations` times) and the tokens several prompts start with (a
    language's few-shot exemplar) once for all of them. The caller's left-padded prompt columns come
    back unchanged in front of the generated ones; sampling continues from the prefilled cache, so
    completions equal those of plain generation up to floating-point rounding."""
    plain_generate = model.generate

    def generate_with_shared_prefill(input_ids=None, attention_mask=None, **kwargs):
        if (input_ids is None or attention_mask is None or input_ids.shape[1] < 2 or CACHE_ARGUMENT in kwargs
                or "past_key_values" in kwargs or kwargs.get("return_dict_in_generate")):
            return plain_generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        rows = [ids[m.bool()].tolist() for ids, m in zip(input_ids, attention_mask)]
        with torch.no_grad(), onednn_linears(model):
            ids, mask, cache = prefill(model, rows, pad_id=int(model.generation_config.pad_token_id or 0))
            out = plain_generate(input_ids=ids, attention_mask=mask, **{CACHE_ARGUMENT: cache}, **kwargs)
        return torch.cat([input_ids, out[:, ids.shape[1]:]], dim=1)

    model.generate = generate_with_shared_prefill
