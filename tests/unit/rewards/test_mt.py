import json
import pickle

import pytest

from pbrl.rewards.backends.translators import (
    NLLB_CODES,
    BergamotTranslator,
    HFTranslator,
    Translator,
    make_translator,
    model_family,
)
from pbrl.rewards.mt import TranslationReward

TABLE = {"Janet": "Janet", "tem": "has", "patos": "ducks", "gatos": "cats", "dezesseis": "sixteen"}
REF = "Janet has sixteen ducks"


@pytest.fixture
def reward(fake_translator):
    """TranslationReward over a word-table fake translator; call with the reward's keyword arguments."""
    return lambda **kwargs: TranslationReward(translator=fake_translator(TABLE), **kwargs)


class TestTranslationReward:
    def test_faithful_translation_scores_higher(self, reward):
        r = reward(metric="chrf")
        good, bad = r(
            completions=["Janet tem dezesseis patos", "Janet tem gatos"], reference=[REF, REF], lang=["pt", "pt"]
        )
        assert good == pytest.approx(1.0)
        assert 0.0 <= bad < good

    def test_bleu(self, reward):
        r = reward(metric="bleu")
        good, bad = r(completions=["Janet tem dezesseis patos", "gatos"], reference=[REF, REF], lang=["pt", "pt"])
        assert good == pytest.approx(1.0) and bad < 0.5

    def test_embed_metric_uses_english_embedder(self, fake_embedder, fake_translator):
        r = TranslationReward(
            translator=fake_translator(TABLE), metric="embed", embed_backend=fake_embedder, embed_calibration="none"
        )
        assert r(completions=["Janet tem dezesseis patos"], reference=[REF], lang=["pt"]) == [
            pytest.approx(1.0, abs=1e-5)
        ]

    def test_english_is_not_translated(self, fake_translator):
        fake = fake_translator(TABLE)
        r = TranslationReward(translator=fake)
        assert r(completions=[REF], reference=[REF], lang=["en"]) == [pytest.approx(1.0)]
        assert fake.lines == []

    def test_none_cases_and_extra_kwargs(self, reward):
        r = reward()
        out = r(
            prompts=[1, 2, 3],
            completions=["", "Janet tem patos", "Janet"],
            reference=[REF, None, REF],
            lang=["pt", "pt", None],
            trainer_state=None,
            completion_ids=[[1]] * 3,
        )
        assert out == [None, None, None]

    def test_unsupported_language_fails_at_construction(self, reward):
        with pytest.raises(ValueError, match="cannot translate 'de'"):
            reward(langs=["pt", "de"])

    def test_bad_metric(self, reward):
        with pytest.raises(ValueError, match="unknown mt metric 'ter'"):
            reward(metric="ter")


class LineCounter(Translator):
    """A real `Translator` subclass (line splitting + cache) over an upper-casing 'model'."""

    backend = "count"

    def __init__(self, cache_dir=None):
        self.calls = []
        super().__init__(cache_dir)

    @property
    def key(self):
        return "count:upper"

    def supports(self, lang):
        return lang == "pt"

    def supported_description(self):
        return "pt"

    def _translate(self, lines, src_lang, tgt_lang="en"):
        self.calls.extend(lines)
        return [line.upper() for line in lines]


class TestTranslatorBase:
    def test_lines_translated_once_and_equations_kept(self):
        t = LineCounter()
        out = t.translate(["um dois\n5 + 6 = 11\num dois", "um dois"], "pt")
        assert out == ["UM DOIS\n5 + 6 = 11\nUM DOIS", "UM DOIS"]
        assert t.calls == ["um dois"]  # one distinct line with letters, translated once

    def test_disk_cache_round_trip(self, tmp_path):
        LineCounter(cache_dir=tmp_path).translate(["olá mundo"], "pt")
        (path,) = tmp_path.glob("mt-*.json")
        assert list(json.loads(path.read_text()).values()) == ["OLÁ MUNDO"]
        second = LineCounter(cache_dir=tmp_path)
        assert second.translate(["olá mundo"], "pt") == ["OLÁ MUNDO"]
        assert second.calls == []

    def test_unsupported_language_one_line(self):
        with pytest.raises(ValueError, match="cannot translate 'de' to 'en'; it supports English and: pt"):
            LineCounter().translate(["x"], "de")


class TestBackends:
    def test_bergamot_is_portuguese_only(self):
        t = make_translator("bergamot")
        assert t.supports("pt") and not t.supports("de")
        with pytest.raises(ValueError, match="pt only"):
            t.check_language("de")

    @pytest.mark.parametrize(
        "model, family",
        [
            ("facebook/nllb-200-distilled-600M", "nllb"),
            ("facebook/m2m100_418M", "m2m100"),
            ("Helsinki-NLP/opus-mt-{src}-en", "marian"),
            ("Helsinki-NLP/opus-mt-mul-en", "marian"),
        ],
    )
    def test_family_detection(self, model, family):
        assert model_family(model) == family

    def test_unknown_family_asks_for_it(self):
        with pytest.raises(ValueError, match="set family="):
            make_translator("transformers", "my-org/my-mt")

    def test_language_support_per_family(self):
        nllb = make_translator("transformers", "facebook/nllb-200-distilled-600M")
        assert all(nllb.supports(lang) for lang in NLLB_CODES)
        m2m = make_translator("transformers", "facebook/m2m100_418M")
        assert m2m.supports("sw") and not m2m.supports("te")  # M2M100 has no Telugu
        assert make_translator("transformers", "Helsinki-NLP/opus-mt-{src}-en").supports("de")
        single = make_translator("transformers", "Helsinki-NLP/opus-mt-de-en")
        assert single.supports("de") and not single.supports("fr")

    def test_nllb_and_m2m100_set_codes_and_force_english(self):
        class Tok:
            src_lang = None

            def convert_tokens_to_ids(self, token):
                return {"eng_Latn": 7}[token]

            def get_lang_id(self, lang):
                return {"en": 9}[lang]

        tok = Tok()
        nllb = HFTranslator("facebook/nllb-200-distilled-600M")
        assert nllb.generation_kwargs(tok, "de") == {"forced_bos_token_id": 7} and tok.src_lang == "deu_Latn"
        m2m = HFTranslator("facebook/m2m100_418M")
        assert m2m.generation_kwargs(tok, "sw") == {"forced_bos_token_id": 9} and tok.src_lang == "sw"
        assert HFTranslator("Helsinki-NLP/opus-mt-{src}-en").generation_kwargs(tok, "de") == {}

    def test_picklable_unloaded(self):
        r = TranslationReward(translator="bergamot", langs=["pt"])
        clone = pickle.loads(pickle.dumps(r))
        assert clone.__name__ == "mt" and isinstance(clone.translator, BergamotTranslator)


class TestTranslationDirections:
    """Rewards translate into English; `data.train_source=translate` needs English into X."""

    def test_nllb_and_m2m_force_the_target_language(self):
        class Tok:
            def convert_tokens_to_ids(self, token):
                return {"eng_Latn": 1, "deu_Latn": 2}[token]

            def get_lang_id(self, code):
                return {"en": 3, "sw": 4}[code]

        tok = Tok()
        assert HFTranslator("facebook/nllb-200-distilled-600M").generation_kwargs(tok, "en", "de") == {
            "forced_bos_token_id": 2
        }
        assert tok.src_lang == "eng_Latn"
        assert HFTranslator("facebook/m2m100_418M").generation_kwargs(tok, "en", "sw") == {"forced_bos_token_id": 4}

    def test_single_pair_marian_accepts_its_pair_in_both_directions_only(self):
        marian = HFTranslator("Helsinki-NLP/opus-mt-en-de")
        assert marian.supports("de") and not marian.supports("fr")
        with pytest.raises(ValueError, match="cannot translate 'en' to 'fr'"):
            marian.check_language("en", "fr")

    def test_english_to_english_is_identity_and_pairs_are_cached_apart(self, tmp_path):
        calls = []
        from pbrl.rewards.backends.translators import Translator

        class Recording(Translator):
            key = "recording"

            def supports(self, lang):
                return lang == "pt"

            def supported_description(self):
                return "pt"

            def _translate(self, lines, src_lang, tgt_lang="en"):
                calls.append((src_lang, tgt_lang, tuple(lines)))
                return [f"[{src_lang}>{tgt_lang}] {line}" for line in lines]

        t = Recording(tmp_path)
        assert t.translate(["Hello"], "en", "en") == ["Hello"]
        assert t.translate(["Olá"], "pt") == ["[pt>en] Olá"]
        assert t.translate(["Hello"], "en", "pt") == ["[en>pt] Hello"]
        assert t.translate(["Hello"], "en", "pt") == ["[en>pt] Hello"]  # cached
        assert calls == [("pt", "en", ("Olá",)), ("en", "pt", ("Hello",))]
