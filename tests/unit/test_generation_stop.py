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


def test_padded_batch_puts_the_shared_prefix_first():
    from pbrl.generation import padded_batch, shared_prefix_length

    rows = [[5, 6, 7, 8, 9], [5, 6, 7, 1], [5, 6, 2]]
    assert shared_prefix_length(rows) == 2
    assert shared_prefix_length([[1, 2], [1, 2]]) == 1, "every row keeps a token of its own"
    batch = padded_batch(rows, 2, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9], [5, 6, 0, 7, 1], [5, 6, 0, 0, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 1, 1], [1, 1, 0, 0, 1]]


def test_repeated_rows_maps_each_row_to_its_first_copy():
    import torch

    from pbrl.generation import repeated_rows

    ids = torch.tensor([[0, 5, 6], [0, 5, 6], [7, 8, 9], [0, 5, 6], [7, 8, 9]])
    mask = torch.tensor([[0, 1, 1], [0, 1, 1], [1, 1, 1], [0, 1, 1], [1, 1, 1]])
    assert repeated_rows(ids, mask) == ([0, 2], [0, 0, 1, 0, 1])


@pytest.mark.parametrize("sampling", [False, True])
def test_repeated_prompts_prefilled_once_give_the_same_completions(tiny_cache, sampling):
    """GRPO's rollout: each (left-padded) prompt repeated num_generations times, through a LoRA
    wrapper as TRL generates; prefilling each prompt once must not change a token."""
    import torch
    from omegaconf import OmegaConf
    from peft import LoraConfig, get_peft_model

    from pbrl.generation import prefill_repeated_prompts
    from pbrl.policy import load_policy

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    policy = load_policy(cfg, tiny_cache, "cpu")
    tokenizer = policy.tokenizer
    tokenizer.padding_side = "left"
    model = get_peft_model(policy.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.eval()
    prompts = ["Question: 1 + 1?\nAnswer: 2\n\nQuestion: 12 + 30?\nAnswer:", "Question: 7 + 7?\nAnswer:"]
    batch = tokenizer([p for p in prompts for _ in range(3)], return_tensors="pt", padding=True, add_special_tokens=False)
    assert (batch["attention_mask"] == 0).any(), "the shorter prompt is left-padded"
    kwargs = dict(max_new_tokens=10, do_sample=sampling, pad_token_id=tokenizer.pad_token_id)
    kwargs.update(dict(temperature=1.0, top_p=None, top_k=None) if sampling else dict(temperature=None, top_p=None, top_k=None))

    def rollout():
        torch.manual_seed(0)
        return model.generate(**batch, **kwargs)

    plain = rollout()
    forwards = []
    model.register_forward_hook(lambda module, args, kwargs, out: forwards.append(kwargs["input_ids"].shape), with_kwargs=True)
    prefill_repeated_prompts(model)
    once = rollout()
    assert torch.equal(plain, once)
    assert forwards[0][0] == 2, "the prompts run through the model once each, not once per repeat"


def test_token_budget_batches_split_long_prompts_only():
    from pbrl.generation import token_budget_batches

    assert token_budget_batches([10] * 5, batch_size=2) == [[0, 1], [2, 3], [4]]
    assert token_budget_batches([10, 10, 10, 40, 40, 40], batch_size=4, max_tokens=80) == [[0, 1, 2], [3, 4], [5]]
    assert token_budget_batches([100, 5], batch_size=4, max_tokens=50) == [[0], [1]]
