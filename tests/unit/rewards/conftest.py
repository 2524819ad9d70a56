"""Fast stand-ins for model backends: no weights, deterministic, counting their calls."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

DIM = 64


class FakeEmbedder:
    """Bag-of-words hashing embedder: texts sharing words have high cosine. Counts embedded texts."""

    key = "fake:bow"

    def __init__(self):
        self.embedded: list[str] = []

    def embed(self, texts):
        texts = list(texts)
        self.embedded.extend(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, zlib.crc32(word.encode()) % DIM] += 1.0
            out[i, DIM - 1] += 0.1  # no zero vectors
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeTranslator:
    """'Translates' by a word table; counts translated lines. Supports only the languages given."""

    key = "fake:table"

    def __init__(self, table: dict[str, str], langs=("pt",)):
        self.table = table
        self.langs = tuple(langs)
        self.lines: list[str] = []

    def check_language(self, lang):
        if lang != "en" and lang not in self.langs:
            raise ValueError(
                f"translator {self.key} cannot translate '{lang}' to English; it supports: {', '.join(self.langs)}"
            )

    def translate(self, texts, src_lang, tgt_lang="en", progress=False):
        if src_lang == "en":
            return list(texts)
        self.check_language(src_lang)
        self.lines.extend(texts)
        return [" ".join(self.table.get(w, w) for w in t.split()) for t in texts]


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def fake_translator():
    """FakeTranslator(table, langs=("pt",)) — the class, to build with each test's word table."""
    return FakeTranslator
