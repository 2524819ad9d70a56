"""Pivot references with a fake generator: verification, caching, resume after a kill."""

from __future__ import annotations

import pytest

import pbrl.generation
from pbrl.data.example import Example
from pbrl.pivot import build_references, english, gold_reference, verify_samples
from pbrl.pivot.cache import SampleCache

EXAMPLES = [Example(f"p-{i}", "en", f"What is {i} + {i}?", f"What is {i} + {i}?", str(2 * i)) for i in range(6)]


class FakeGenerate:
    """Answers question i with 'The answer is 2i' (correct) except for ids in `wrong`; can die after N batches."""

    def __init__(self, wrong=(), die_after=None):
        self.wrong, self.die_after, self.prompts_seen, self.batches = set(wrong), die_after, 0, 0

    def __call__(
        self,
        model,
        tokenizer,
        prompts,
        max_new_tokens,
        batch_size,
        temperature=0.0,
        num_return_sequences=1,
        seed=0,
        desc="",
    ):
        if self.die_after is not None and self.batches >= self.die_after:
            raise KeyboardInterrupt("killed")
        self.batches += 1
        self.prompts_seen += len(prompts)
        out = []
        for messages in prompts:
            i = int(messages[-1]["content"].split("What is ")[1].split(" ")[0])
            answer = 2 * i + (1 if i in self.wrong else 0)
            out.append([f"{i} + {i} = {answer}. The answer is {answer}."] * num_return_sequences)
        return out


def cfg(**kw):
    return {
        "kind": "model",
        "model": "fake-model",
        "num_samples": 1,
        "temperature": 0.0,
        "max_new_tokens": 32,
        "batch_size": 2,
        "backend": "transformers",
    } | kw


@pytest.fixture
def fake(monkeypatch):
    def install(**kw):
        gen = FakeGenerate(**kw)
        monkeypatch.setattr(pbrl.generation, "generate", gen)
        return gen

    return install


def test_model_references_keep_only_verified(fake, tmp_path):
    fake(wrong={1, 4})
    rows = build_references(cfg(), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    assert [r["id"] for r in rows] == ["p-0", "p-2", "p-3", "p-5"]
    assert rows[1] == {
        "id": "p-2",
        "reference": "2 + 2 = 4. The answer is 4.",
        "reference_answer": "4",
        "verified": True,
        "source": "model:fake-model",
    }


def test_cache_hit_generates_nothing(fake, tmp_path):
    first = fake()
    build_references(cfg(), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    assert first.prompts_seen == 6
    second = fake()
    again = build_references(cfg(), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    assert second.prompts_seen == 0 and len(again) == 6


def test_changed_settings_miss_the_cache(fake, tmp_path):
    fake()
    build_references(cfg(), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    gen = fake()
    build_references(cfg(max_new_tokens=64), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    assert gen.prompts_seen == 6


def test_killed_run_resumes_where_it_stopped(fake, tmp_path):
    fake(die_after=2)  # two batches of 2 questions written, then killed
    with pytest.raises(KeyboardInterrupt):
        build_references(cfg(), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    cache = SampleCache(
        tmp_path,
        {
            "model": "fake-model",
            "backend": "transformers",
            "num_samples": 1,
            "temperature": 0.0,
            "max_new_tokens": 32,
            "seed": 0,
        },
    )
    assert len(cache) == 4
    with open(cache.path, "a") as f:
        f.write('{"key": "torn')  # a line cut by the kill
    resumed = fake()
    rows = build_references(cfg(), EXAMPLES, tmp_path, model=object(), tokenizer=object())
    assert resumed.prompts_seen == 2 and len(rows) == 6


def test_self_kind_uses_the_policy_model(fake, tmp_path):
    fake()
    rows = build_references(
        cfg(kind="self", model=None), EXAMPLES[:2], tmp_path, self_model="policy", model=object(), tokenizer=object()
    )
    assert {r["source"] for r in rows} == {"self:policy"}


VERIFY_CASES = [
    (["The answer is 5.", "The answer is 4."], "4", ("The answer is 4.", "4", True)),  # first matching gold
    (["The answer is 5.", "The answer is 6."], "4", ("The answer is 5.", "5", False)),  # none matches gold
    (["It is 7.", "So 7.", "Maybe 8."], "", ("It is 7.", "7", True)),  # no gold: 2/3 majority
    (["It is 7.", "Maybe 8."], "", ("It is 7.", "7", False)),  # no gold: a tie is no majority
    ([], "4", ("", None, False)),  # no samples
]


@pytest.mark.parametrize("samples,gold,expected", VERIFY_CASES)
def test_verify_samples(samples, gold, expected):
    assert verify_samples(samples, gold) == expected


def test_gold_references_strip_nothing_and_end_with_the_answer():
    example = Example("mgsm-0", "de", "F?", "Q?", "18", "She makes 9 * 2 = $18.")
    assert gold_reference(example)["reference"] == "She makes 9 * 2 = $18.\nThe answer is 18."
    assert gold_reference(Example("m", "en", "Q?", "Q?", "3"))["verified"] is False


def test_gold_kind_without_solutions_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no English worked solution"):
        build_references({"kind": "gold"}, EXAMPLES, tmp_path)


CONFIG_ERRORS = [
    (cfg(kind="oracle"), "unknown pivot.kind 'oracle'"),  # bad kind
    (cfg(model=None), "needs pivot.model"),  # model kind without a model
    (cfg(num_samples=4, temperature=0.0), "identical samples"),  # greedy with k > 1
    (cfg(backend="sglang"), "unknown pivot.backend 'sglang'"),  # bad backend
]


@pytest.mark.parametrize("pivot_cfg,message", CONFIG_ERRORS)
def test_config_errors(pivot_cfg, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        build_references(pivot_cfg, EXAMPLES, tmp_path, model=object(), tokenizer=object())


def test_vllm_missing_is_one_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(ImportError, match="pivot.backend=vllm needs vllm"):
        build_references(cfg(backend="vllm"), EXAMPLES, tmp_path)


def test_english_dedupes_problems():
    de = Example("p-0", "de", "Was ist 0 + 0?", "What is 0 + 0?", "0")
    assert [(e.id, e.lang, e.question) for e in english([de, EXAMPLES[0], de])] == [("p-0", "en", "What is 0 + 0?")]
