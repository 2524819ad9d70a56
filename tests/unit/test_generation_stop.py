"""`stop_at_newline` ends generation at the first line break (one-line answers)."""

from __future__ import annotations

import pytest

from pbrl.generation import generate, newline_token_ids, stop_at_newline


@pytest.fixture(scope="module")
def tiny(tiny_cache):
    from pbrl.policy import load_policy
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    return load_policy(cfg, tiny_cache, "cpu")


def test_newline_tokens_are_whitespace_with_a_line_break(tiny):
    ids = newline_token_ids(tiny.tokenizer)
    assert ids, "a byte-level vocabulary always has a newline token"
    for token_id in ids:
        text = tiny.tokenizer.decode([token_id])
        assert "\n" in text and not text.strip()
    assert tiny.tokenizer.convert_tokens_to_ids(tiny.tokenizer.tokenize("a b")[-1]) not in ids


def test_generation_stops_at_the_first_newline(tiny):
    prompts = ["Question: 2 + 2?\nAnswer:"] * 3
    free = generate(tiny.model, tiny.tokenizer, prompts, max_new_tokens=40, temperature=1.0, seed=1)
    stop_at_newline(tiny.model, tiny.tokenizer)
    assert tiny.tokenizer.eos_token_id in tiny.model.generation_config.eos_token_id
    stopped = generate(tiny.model, tiny.tokenizer, prompts, max_new_tokens=40, temperature=1.0, seed=1)
    # same seed, same samples: the stopped text is the free text up to its first line break
    assert [s[0] for s in stopped] == [f[0].split("\n")[0].strip() for f in free]


def test_shared_prefix_generation_gives_the_same_answers(tiny):
    """Few-shot prompts of one language share their exemplars: computing them once changes nothing."""
    prefix = "Question: 1 + 1?\nAnswer: 1 + 1 = 2. The answer is 2.\n\n" * 3
    prompts = [prefix + f"Question: {a} + {b}?\nAnswer:" for a, b in [(2, 3), (10, 4), (7, 7), (12, 30), (5, 1)]]
    shared = generate(tiny.model, tiny.tokenizer, prompts, max_new_tokens=12, batch_size=3, share_prefix=True)
    plain = generate(tiny.model, tiny.tokenizer, prompts, max_new_tokens=12, batch_size=3, share_prefix=False)
    assert shared == plain


def test_prefix_layout_puts_each_groups_prefix_first_and_every_row_last():
    from pbrl.generation import PrefixLayout, shared_prefix_length

    rows = [[5, 6, 7, 8, 9], [5, 6, 7, 1], [5, 6, 2], [3, 4]]
    assert shared_prefix_length(rows[:3]) == 2
    assert shared_prefix_length([[1, 2], [1, 2]]) == 1, "every row keeps a token of its own"
    layout = PrefixLayout.of(rows, pad_id=0, min_shared=2)
    assert layout.groups == [(2, [0, 1, 2]), (0, [3])]
    assert layout.prefix_width == 2
    assert layout.input_ids.tolist() == [[5, 6, 7, 8, 9], [5, 6, 0, 7, 1], [5, 6, 0, 0, 2], [0, 0, 0, 3, 4]]
    assert layout.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 1, 1], [1, 1, 0, 0, 1], [0, 0, 0, 1, 1]]
    plain = PrefixLayout.of(rows, pad_id=0, share=False)
    assert plain.prefix_width == 0 and plain.input_ids[2].tolist() == [0, 0, 5, 6, 2], "left padding"


def test_prefix_groups_follow_the_shared_start_of_sorted_rows():
    from pbrl.generation import prefix_groups

    rows = sorted([[1, 2, 3, 9], [1, 2, 3, 4, 5], [7, 7, 7, 1], [7, 7, 7, 2], [8, 1]])
    assert prefix_groups(rows, min_shared=3) == [[0, 1], [2, 3], [4]]


def _prompts_of_two_languages():
    de = "Frage: 1 + 1?\nAntwort: 1 + 1 = 2. Die Antwort ist 2.\n\n" * 2
    fr = "Question : 3 + 1 ?\nRéponse : 3 + 1 = 4. La réponse est 4.\n\n" * 2
    return ([de + f"Frage: {a} + {b}?\nAntwort:" for a, b in [(2, 3), (10, 4), (7, 7)]]
            + [fr + f"Question : {a} + {b} ?\nRéponse :" for a, b in [(12, 30), (5, 1)]] + ["Q: 9 - 2?\nA:"])


def test_prefill_gives_the_logits_of_a_plain_forward(tiny):
    """Two groups of different prefix lengths, a repeated row and a row of its own, stitched into one
    cache: the next-token logits equal those of running every (left-padded) prompt whole."""
    import torch

    from pbrl.generation import CACHE_ARGUMENT, prefill

    tokenizer, model = tiny.tokenizer, tiny.model.eval()
    rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in _prompts_of_two_languages()]
    rows.append(rows[0])
    head_calls = []
    hook = model.get_output_embeddings().register_forward_hook(lambda *args: head_calls.append(1))
    ids, mask, cache = prefill(model, rows, tokenizer.pad_token_id)
    hook.remove()
    assert not head_calls, "a prefill fills the cache; the LM head (49k x hidden) is not run"
    assert ids.shape[0] == len(rows) and cache.get_seq_length() == ids.shape[1] - 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        shared = model(input_ids=ids[:, -1:], attention_mask=mask, position_ids=positions[:, -1:],
                       **{CACHE_ARGUMENT: cache}).logits[:, -1]
        padded = tokenizer([tokenizer.decode(r) for r in rows], return_tensors="pt", padding=True, padding_side="left",
                           add_special_tokens=False)
        plain = model(**padded, position_ids=(padded["attention_mask"].cumsum(-1) - 1).clamp(min=0)).logits[:, -1]
    assert torch.allclose(shared, plain, atol=1e-4)


def test_greedy_decode_equals_generate_and_drops_finished_rows(tiny):
    """pbrl's greedy loop (finished rows leave the batch) gives model.generate's greedy answers."""
    import torch

    from pbrl.generation import generate

    tokenizer, model = tiny.tokenizer, tiny.model.eval()
    prompts = _prompts_of_two_languages()
    ours = generate(model, tokenizer, prompts, max_new_tokens=12, batch_size=4)
    batch = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    theirs = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert [o[0] for o in ours] == [t.strip() for t in theirs]


def test_distinct_rows_maps_each_row_to_its_first_copy():
    import torch

    from pbrl.algos.shared_prompt import distinct_rows

    ids = torch.tensor([[0, 5, 6], [0, 5, 6], [7, 8, 9], [0, 5, 6], [7, 8, 9]])
    mask = torch.tensor([[0, 1, 1], [0, 1, 1], [1, 1, 1], [0, 1, 1], [1, 1, 1]])
    first, row_of = distinct_rows(ids, mask)
    assert first.tolist() == [0, 2] and row_of.tolist() == [0, 0, 1, 0, 1]


@pytest.mark.parametrize("sampling", [False, True])
def test_rollouts_with_shared_prefill_give_the_same_completions(tiny_cache, sampling):
    """GRPO's rollout: (left-padded) prompts of two languages, each repeated num_generations times,
    through a LoRA wrapper as TRL generates; computing each prompt and each exemplar once must not
    change a token."""
    import torch
    from omegaconf import OmegaConf
    from peft import LoraConfig, get_peft_model

    from pbrl.generation import share_prefill
    from pbrl.policy import load_policy

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    policy = load_policy(cfg, tiny_cache, "cpu")
    tokenizer = policy.tokenizer
    tokenizer.padding_side = "left"
    model = get_peft_model(policy.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.eval()
    prompts = _prompts_of_two_languages()[2:5]
    batch = tokenizer([p for p in prompts for _ in range(3)], return_tensors="pt", padding=True, add_special_tokens=False)
    assert (batch["attention_mask"] == 0).any(), "the shorter prompts are left-padded"
    kwargs = dict(max_new_tokens=10, do_sample=sampling, pad_token_id=tokenizer.pad_token_id)
    kwargs.update(dict(temperature=1.0, top_p=None, top_k=None) if sampling else dict(temperature=None, top_p=None, top_k=None))

    def rollout():
        torch.manual_seed(0)
        return model.generate(**batch, **kwargs)

    plain = rollout()
    forwards = []
    model.get_decoder().register_forward_hook(lambda module, args, kwargs, out: forwards.append(kwargs["input_ids"].shape),
                                              with_kwargs=True)
    share_prefill(model)
    once = rollout()
    assert torch.equal(plain, once)
    assert forwards[0][0] == 1, "the French exemplar runs once, for both French prompts"
    assert forwards[1][0] == 3, "then each distinct prompt's own tokens once, not once per repeat"


def test_token_budget_batches_split_long_prompts_only():
    from pbrl.generation import token_budget_batches

    assert token_budget_batches([10] * 5, batch_size=2) == [[0, 1], [2, 3], [4]]
    assert token_budget_batches([10, 10, 10, 40, 40, 40], batch_size=4, max_tokens=80) == [[0, 1, 2], [3, 4], [5]]
    assert token_budget_batches([100, 5], batch_size=4, max_tokens=50) == [[0], [1]]


def test_roomy_cache_gives_the_logits_of_a_dynamic_cache(tiny, monkeypatch):
    """Decoding through `RoomyLayer`s (written in place, regrown when full, rebuilt after a row leaves
    or a crop) gives a `DynamicCache`'s logits step by step, and keeps the same keys."""
    import torch
    from transformers import DynamicCache

    from pbrl.generation import CACHE_ARGUMENT, RoomyLayer, roomy_cache

    monkeypatch.setattr(RoomyLayer, "ROOM", 2)  # regrow every few steps
    model = tiny.model.eval()
    ids = torch.randint(3, model.config.vocab_size, (4, 7), generator=torch.Generator().manual_seed(0))
    caches = {"dynamic": DynamicCache(), "roomy": roomy_cache()}
    logits = {}
    with torch.no_grad():
        for name, cache in caches.items():
            steps = []
            out = model(input_ids=ids, use_cache=True, **{CACHE_ARGUMENT: cache}).logits[:, -1]
            for step in range(6):
                if step == 2:
                    cache.batch_select_indices(torch.tensor([0, 2, 3]))  # a row ends
                    out = out[[0, 2, 3]]
                if step == 4:
                    cache.crop(-1)  # drop the last position, then feed it again
                    out = model(input_ids=token, use_cache=True, **{CACHE_ARGUMENT: cache}).logits[:, -1]
                token = out.argmax(-1, keepdim=True)
                out = model(input_ids=token, use_cache=True, **{CACHE_ARGUMENT: cache}).logits[:, -1]
                steps.append(out)
            logits[name] = steps
    assert all(torch.allclose(r, d, atol=1e-5) for r, d in zip(logits["roomy"], logits["dynamic"], strict=True))
    dynamic, roomy = caches["dynamic"].layers[0], caches["roomy"].layers[0]
    assert isinstance(roomy, RoomyLayer) and torch.equal(roomy.keys, dynamic.keys)
    assert roomy.keys.shape[-2] == caches["roomy"].get_seq_length() == 7 + 6


def test_onednn_linears_keep_logits_answers_and_gradients(tiny, monkeypatch):
    """Inside `onednn_linears` a no-grad forward runs every float32 linear layer through oneDNN (the
    same logits up to rounding, the same greedy answers); a forward that records gradients keeps
    `F.linear` (oneDNN's op has no backward), and leaving restores each layer's own forward."""
    import torch

    import pbrl.generation
    from pbrl.generation import onednn_linears

    if not pbrl.generation._has_onednn_linear():
        pytest.skip("this PyTorch build has no oneDNN linear op")
    model = tiny.model.eval()
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    onednn = torch.ops.mkldnn._linear_pointwise
    calls = []
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda *a: calls.append(a[1].shape) or onednn(*a))
    ids = torch.randint(3, model.config.vocab_size, (3, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        with onednn_linears(model):
            fast = model(input_ids=ids).logits
    assert len(calls) == len(linears) and torch.allclose(fast, plain, atol=1e-5)

    def gradients():
        model.zero_grad(set_to_none=True)
        model(input_ids=ids).logits.logsumexp(-1).sum().backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    expected, calls[:] = gradients(), []
    with onednn_linears(model):
        assert all(torch.equal(a, b) for a, b in zip(gradients(), expected, strict=True)) and not calls
    assert all("forward" not in m.__dict__ for m in linears)

    prompts = [f"Question: {a} + {b}?\nAnswer:" for a, b in [(2, 3), (10, 4), (7, 7), (12, 30)]]
    fast_answers = generate(model, tiny.tokenizer, prompts, max_new_tokens=12, batch_size=2)
    monkeypatch.setattr(pbrl.generation, "_has_onednn_linear", lambda: False)
    assert generate(model, tiny.tokenizer, prompts, max_new_tokens=12, batch_size=2) == fast_answers
