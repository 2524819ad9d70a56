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
