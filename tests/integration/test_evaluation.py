"""evaluate(): prompts → pbrl.generation.generate → per-language scores, with a scripted and a real tiny model."""

from __future__ import annotations

import pytest

import pbrl.generation
from pbrl.data import load_examples
from pbrl.evaluation import evaluate
from pbrl.languages import LANGUAGES

EVAL_CFG = {"max_new_tokens": 8, "batch_size": 4, "few_shot": 0}


def _examples(langs, n):
    per_lang = load_examples("demo", langs)
    return [e for lang in langs for e in per_lang[lang][:n]]


def test_scripted_model_scores_per_language(monkeypatch):
    examples = _examples(["en", "de", "sw"], 3)
    seen = {}

    def scripted(
        model, tokenizer, prompts, max_new_tokens, batch_size, temperature=0.0, num_return_sequences=1, seed=0, desc="",
        max_batch_tokens=None,
    ):
        seen.update(n=len(prompts), temperature=temperature, max_new_tokens=max_new_tokens)
        out = []
        for prompt, example in zip(prompts, examples):
            assert prompt[-1]["content"].startswith(LANGUAGES[example.lang].question_prefix)
            if example.lang == "sw":  # right answer, wrong language
                out.append([f"The total is computed step by step here. The answer is {example.answer}."])
            elif example.lang == "de":  # German, wrong answer
                out.append(["Wir rechnen Schritt für Schritt. Die Antwort ist 100000."])
            else:
                out.append([f"We add the numbers step by step. The answer is {example.answer}."])
        return out

    monkeypatch.setattr(pbrl.generation, "generate", scripted)
    result = evaluate(None, None, examples, EVAL_CFG, desc="test")
    assert seen == {"n": 9, "temperature": 0.0, "max_new_tokens": 8}
    langs = result["languages"]
    assert (langs["en"]["accuracy"], langs["de"]["accuracy"], langs["sw"]["accuracy"]) == (1.0, 0.0, 1.0)
    assert (langs["en"]["fidelity"], langs["de"]["fidelity"], langs["sw"]["fidelity"]) == (1.0, 1.0, 0.0)
    assert result["aggregate"]["gap_to_en"] == pytest.approx(0.5)
    assert set(result["predictions"][0]) >= {"id", "lang", "response", "pred", "correct", "detected_lang"}


@pytest.mark.slow
def test_tiny_model_end_to_end(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pbrl.models.tiny import build_tiny

    path = build_tiny(tmp_path)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    examples = _examples(["en", "de"], 2)
    result = evaluate(model, tokenizer, examples, EVAL_CFG, desc="tiny")
    assert {lang: m["n"] for lang, m in result["languages"].items()} == {"en": 2, "de": 2}
    assert all(0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["fidelity"] <= 1.0 for m in result["languages"].values())
    assert len(result["predictions"]) == 4
