"""The untrained policy's greedy answers are cached by what they depend on and reused across runs."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

import pbrl.generation
from pbrl.data.example import Example
from pbrl.data.prompts import Prompter
from pbrl.evaluation import evaluate


@pytest.fixture(scope="module")
def tiny(tiny_cache):
    from pbrl.policy import load_policy

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    return load_policy(cfg, tiny_cache, "cpu")


EXAMPLES = [Example(f"x{i}", lang, f"{i} + 2?", f"{i} + 2?", str(i + 2)) for i in range(3) for lang in ("en", "de")]
EVAL = OmegaConf.create({"max_new_tokens": 6, "batch_size": 4, "few_shot": 0})


def test_second_evaluation_reuses_the_cached_answers(tiny, tmp_path, monkeypatch):
    first = evaluate(tiny.model, tiny.tokenizer, EXAMPLES, EVAL, prompter=Prompter("plain"),
                     cache_key="tiny@None", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("greedy-*.json"))) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("generated although the answers were cached")

    monkeypatch.setattr(pbrl.generation, "generate", no_generation)
    again = evaluate(tiny.model, tiny.tokenizer, EXAMPLES, EVAL, prompter=Prompter("plain"),
                     cache_key="tiny@None", cache_dir=tmp_path)
    assert again["predictions"] == first["predictions"]
    assert again["languages"] == first["languages"]
    assert (first["responses_reused"], again["responses_reused"]) == (False, True)


@pytest.mark.parametrize("change", ["prompt", "model", "length"])
def test_anything_the_answers_depend_on_misses_the_cache(tiny, tmp_path, change):
    evaluate(tiny.model, tiny.tokenizer, EXAMPLES, EVAL, prompter=Prompter("plain"), cache_key="tiny@None",
             cache_dir=tmp_path)
    prompter, key, cfg = Prompter("plain"), "tiny@None", EVAL
    if change == "prompt":
        prompter = Prompter("chat")
    elif change == "model":
        key = "tiny@other-revision"
    else:
        cfg = OmegaConf.create({"max_new_tokens": 7, "batch_size": 4, "few_shot": 0})
    evaluate(tiny.model, tiny.tokenizer, EXAMPLES, cfg, prompter=prompter, cache_key=key, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("greedy-*.json"))) == 2
