"""The model side of pbrl's critic PPO: rollouts (`sample`), the value head, and the forward passes
that give the completion tokens' log-probabilities and values for the policy and its reference.

Forward passes, and what they cost. One PPO step forwards each rollout 2 + ppo_epochs times (old
log-probs and values, the reference, then one pass per epoch, each with a backward). Three things
keep that close to one GRPO step on a CPU:
- Logits only for the completion tokens (`logits_to_keep`); the 49k-wide vocabulary never meets the
  prompt.
- Backpropagation stops at the lowest trainable layer. The embedding output is made to require grad
  only under gradient checkpointing, which needs it (as TRL does); otherwise autograd would record,
  and backpropagate through, every frozen layer below the adapters.
- The frozen trunk runs once per rollout. When the policy trains only its top layers (the laptop
  preset: LoRA on layers 24-29 of 30), the layers below the first trainable one compute the same
  hidden states in every pass, for the policy and for the adapter-disabled reference alike. `encode`
  runs them once; each pass then runs only the top layers from those hidden states, through the
  model's own forward (its decoder's `layers` temporarily narrowed to the top ones, given the cached
  hidden states as `inputs_embeds`). At start a self-check compares this split forward with the full
  one on a small batch and falls back to the full forward if they differ (a model that rescales
  `inputs_embeds`, a layer-type-dependent mask) or if the model is not a plain decoder stack.
  With LoRA on every layer or full fine-tuning there is nothing to cache and every pass is a full one.
  (The trunk is computed in eval mode, so dropout in frozen layers, 0 in the supported models'
  configs, would not apply during the epochs; LoRA dropout in the adapted layers still does.)
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


class ValueHead(torch.nn.Module):
    """A linear value head on the policy's last (normed) hidden state, zero-initialised (V = 0)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden.float()).squeeze(-1)


# ---------------------------------------------------------------- batches and rollouts


def collate(prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int):
    """Left-pad prompts, right-pad completions: returns input_ids, attention_mask, completion mask, P."""
    n = len(prompt_ids)
    P = max(len(p) for p in prompt_ids)
    T = max(len(c) for c in completion_ids)
    input_ids = torch.full((n, P + T), pad_id, dtype=torch.long)
    attention = torch.zeros((n, P + T), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        input_ids[i, P - len(p) : P] = torch.tensor(p, dtype=torch.long)
        input_ids[i, P : P + len(c)] = torch.tensor(c, dtype=torch.long)
        attention[i, P - len(p) : P + len(c)] = 1
    return input_ids, attention, attention[:, P:].float(), P


def completion_lengths(completions: torch.Tensor, eos_ids: set[int]) -> list[int]:
    """Tokens up to and including the first end-of-sequence token (all of them if none)."""
    is_eos = torch.isin(completions, torch.tensor(sorted(eos_ids), dtype=completions.dtype))
    has_eos = is_eos.any(dim=1)
    first = is_eos.int().argmax(dim=1)
    return [int(f) + 1 if h else completions.shape[1] for f, h in zip(first, has_eos)]


def eos_token_ids(model, tokenizer) -> set[int]:
    """The ids that end a completion: the model's `generation_config.eos_token_id` (pbrl's
    `stop_at_newline` adds the line-break tokens there) and the tokenizer's end-of-sequence token."""
    eos = model.generation_config.eos_token_id
    eos = eos if isinstance(eos, (list, tuple)) else [eos]
    ids = {int(e) for e in eos if e is not None}
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


@torch.no_grad()
def sample(model, tokenizer, prompt_ids: list[list[int]], *, max_new_tokens: int, temperature: float,
           top_p: float, top_k: int, eos_ids: set[int]) -> list[list[int]]:
    """One sampled completion per prompt, the whole rollout in one `generate` call continuing from
    `pbrl.generation.prefill` (prompts that start alike share their prefix's computation), each cut
    after its first end token. The sampling settings are exactly the policy the loss assumes
    (temperature, top_p, top_k; no other logits processor of the model's defaults)."""
    from transformers import GenerationConfig

    from pbrl.generation import CACHE_ARGUMENT, onednn_linears, prefill

    generation_config = GenerationConfig(
        do_sample=True, temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=sorted(eos_ids), use_cache=True,
    )
    with onednn_linears(model):
        input_ids, attention, cache = prefill(model, prompt_ids, tokenizer.pad_token_id)
        out = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=generation_config,
                             **{CACHE_ARGUMENT: cache})
    generated = out[:, input_ids.shape[1]:].cpu()
    return [row[:length] for row, length in zip(generated.tolist(), completion_lengths(generated, eos_ids))]


# ---------------------------------------------------------------- forward passes


@dataclass
class Encoded:
    """Token ids (left-padded prompts, right-padded completions) on the model's device, with the
    hidden states of the frozen trunk when there is one. A rollout is encoded once; `select` takes a
    micro-batch of its rows, without the columns that are padding in all of them."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    prompt_len: int
    trunk: torch.Tensor | None = None  # hidden states entering the first trainable layer
    offset: int = 0  # the first column's index in the rollout this was selected from

    @property
    def completion_ids(self) -> torch.Tensor:
        return self.input_ids[:, self.prompt_len :]

    @property
    def completion_mask(self) -> torch.Tensor:
        return self.attention_mask[:, self.prompt_len :].float()

    def by_length(self, rows=None) -> list[int]:
        """`rows` (default: all) ordered by prompt length, so that consecutive rows batched together
        need little padding (prompts in different languages differ in length up to 4x)."""
        rows = range(len(self.input_ids)) if rows is None else rows
        lengths = self.attention_mask[:, : self.prompt_len].sum(dim=1).tolist()
        return sorted(rows, key=lambda row: lengths[row])

    def select(self, rows) -> "Encoded":
        rows = list(rows)
        attention = self.attention_mask[rows]
        used = attention.any(dim=0).nonzero().flatten()
        # every prompt has its last token at prompt_len - 1 and every completion at least one token
        lo, hi = min(int(used[0]), self.prompt_len - 1), max(int(used[-1]) + 1, self.prompt_len + 1)
        return Encoded(self.input_ids[rows, lo:hi], attention[:, lo:hi], self.position_ids[rows, lo:hi],
                       self.prompt_len - lo, None if self.trunk is None else self.trunk[rows, lo:hi], self.offset + lo)


def _trainable(module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def frozen_depth(lm) -> int:
    """How many bottom decoder layers of `lm` (a transformers causal LM) are frozen with frozen
    embeddings below them, so their output is a function of the input alone; 0 when the model is
    not a plain decoder stack (`get_decoder().layers` and `.norm`) or its layers differ in type."""
    try:
        decoder = lm.get_decoder()
        layers, embeddings = decoder.layers, lm.get_input_embeddings()
        decoder.norm  # noqa: B018 - the split forward swaps it
    except (AttributeError, NotImplementedError):
        return 0
    if not isinstance(layers, torch.nn.ModuleList) or embeddings is None or _trainable(embeddings):
        return 0
    if len(set(getattr(lm.config, "layer_types", None) or ["one"])) > 1:  # masks chosen by layer index
        return 0
    for index, layer in enumerate(layers):
        if _trainable(layer):
            return index
    return 0


class PolicyForward:
    """Completion log-probs (at the sampling temperature) and values of the policy, or of its
    reference: `ref_model` when given (full fine-tuning), else `model` with its adapter disabled."""

    def __init__(self, model, temperature: float, ref_model=None, gradient_checkpointing: bool = False):
        self.model = model
        self.ref_model = ref_model
        self.temperature = temperature
        self.gradient_checkpointing = gradient_checkpointing
        self.device = next(model.parameters()).device
        lm = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.decoder = lm.get_decoder() if hasattr(lm, "get_decoder") else None
        self.split = frozen_depth(lm)
        if self.split and not self._split_matches_full():
            log.warning("ppo: the split forward (frozen trunk cached) differs from the full forward for %s; "
                        "using full forwards", type(lm).__name__)
            self.split = 0
        if gradient_checkpointing and not self.split:
            # checkpointed blocks only backpropagate when their input requires grad (TRL does the same)
            model.enable_input_require_grads()

    @contextlib.contextmanager
    def _layers(self, start: int, stop: int | None, norm: bool):
        """The decoder with only layers[start:stop] (and its final norm or none) while inside."""
        decoder = self.decoder
        layers, final_norm = decoder.layers, decoder.norm
        decoder.layers = layers[start:stop]
        if not norm:
            decoder.norm = torch.nn.Identity()
        try:
            yield
        finally:
            decoder.layers, decoder.norm = layers, final_norm

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, prompt_len: int,
               chunk: int | None = None) -> Encoded:
        """The batch on the device, with its frozen-trunk hidden states computed `chunk` rows at a time."""
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # what generate used under left padding
        batch = Encoded(input_ids, attention_mask, position_ids, prompt_len)
        if not self.split:
            return batch
        n = len(input_ids)
        chunk = chunk or n
        order = batch.by_length()
        trunk = None
        with torch.no_grad(), self._layers(0, self.split, norm=False):
            for start in range(0, n, chunk):
                rows = order[start : start + chunk]
                part = batch.select(rows)
                hidden = self.decoder(input_ids=part.input_ids, attention_mask=part.attention_mask,
                                      position_ids=part.position_ids, use_cache=False).last_hidden_state
                if trunk is None:
                    trunk = hidden.new_zeros((n, input_ids.shape[1], hidden.shape[-1]))
                trunk[torch.tensor(rows, device=hidden.device)[:, None],
                      torch.arange(part.offset, part.offset + hidden.shape[1], device=hidden.device)] = hidden
        batch.trunk = trunk
        return batch

    def encode_rollout(self, prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
                       chunk: int) -> Encoded:
        input_ids, attention, _, prompt_len = collate(prompt_ids, completion_ids, pad_id)
        return self.encode(input_ids, attention, prompt_len, chunk)

    def _run(self, model, batch: Encoded, values: bool, trunk: bool):
        kwargs = dict(attention_mask=batch.attention_mask, position_ids=batch.position_ids, use_cache=False,
                      output_hidden_states=values, logits_to_keep=batch.completion_ids.shape[1] + 1)
        if not trunk:
            return model(input_ids=batch.input_ids, **kwargs)
        hidden = batch.trunk
        if self.gradient_checkpointing and torch.is_grad_enabled():
            hidden = hidden.detach().requires_grad_(True)  # a fresh leaf per pass: checkpointed blocks need one
        with self._layers(self.split, None, norm=True):
            return model(inputs_embeds=hidden, **kwargs)

    def __call__(self, batch: Encoded, head=None, reference: bool = False):
        """(log-probs, values) of the completion tokens, (batch, T) each; values None without a head."""
        from trl.trainer.utils import selective_log_softmax

        if reference and self.ref_model is not None:
            out = self._run(self.ref_model, batch, values=False, trunk=False)
        elif reference:
            with self.model.disable_adapter():
                out = self._run(self.model, batch, values=False, trunk=batch.trunk is not None)
        else:
            out = self._run(self.model, batch, values=head is not None, trunk=batch.trunk is not None)
        logits = out.logits[:, :-1].float() / self.temperature
        logprobs = selective_log_softmax(logits, batch.completion_ids)
        values = None
        if head is not None and not reference:
            values = head(out.hidden_states[-1][:, batch.prompt_len - 1 : -1])
        return logprobs, values

    @torch.no_grad()
    def _split_matches_full(self) -> bool:
        """The split forward's log-probs equal the full forward's on a small left-padded batch."""
        vocab = self.model.get_input_embeddings().num_embeddings
        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(0, vocab, (2, 12), generator=generator)
        attention = torch.ones_like(ids)
        attention[1, :3] = 0  # a left-padded row
        was_training = self.model.training
        self.model.eval()
        try:
            batch = self.encode(ids, attention, prompt_len=8, chunk=1)  # chunks: the trunk's write-back too
            split, _ = self(batch)
            full, _ = self(Encoded(batch.input_ids, batch.attention_mask, batch.position_ids, 8))
        except Exception as error:  # noqa: BLE001 - any failure of the split forward means: do not use it
            log.warning("ppo: split forward failed (%s)", error)
            return False
        finally:
            self.model.train(was_training)
        tolerance = 1e-4 if next(self.model.parameters()).dtype == torch.float32 else 5e-2
        return bool(torch.allclose(split, full, atol=tolerance, rtol=tolerance))
