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
