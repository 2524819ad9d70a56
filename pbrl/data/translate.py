"""Machine-translated training questions, cached on disk so a question is translated once.

A translator is any object with `translate(texts: list[str], src: str, tgt: str) -> list[str]`
(pbrl.rewards.backends provides them); `data.translator` names one by Hydra `_target_`.
The cache (pbrl.cache.JsonlCache) is JSONL under <cache_dir>/translations/, one file per
(translator, src, tgt) and one line per translated text; lines are appended per batch, so an
interrupted run keeps its work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import logging
from pathlib import Path

from tqdm.auto import tqdm

from pbrl.cache import JsonlCache
from pbrl.data.example import Example

log = logging.getLogger(__name__)
BATCH_SIZE = 32


def make_translator(spec):
    """A translator from `data.translator`: an object with `translate`, or a `{_target_: ...}` node
    (instantiated lazily: no model loads). Bad input raises one line (the pre-flight runs it too)."""
    if spec is None:
        raise ValueError("data.train_source=translate needs data.translator (a {_target_: ...} MT backend); "
                         "set it or use data.train_source=parallel")
    if hasattr(spec, "translate"):
        return spec
    from hydra.utils import instantiate

    try:
        translator = instantiate(spec)
    except Exception as err:  # Hydra wraps the backend's own one-line error
        raise ValueError(f"data.translator: {err.__cause__ or err}") from None
    if not hasattr(translator, "translate"):
        raise ValueError(
            f"data.translator {spec.get('_target_')!r} has no translate(texts, src, tgt) method; pick an MT backend"
        )
    return translator


def check_translator(translator) -> None:
    """Raise unless `translator.translate` takes (texts, src, tgt): into-English-only MT cannot make training questions."""
    params = [p for p in inspect.signature(translator.translate).parameters.values() if p.name != "self"]
    if len(params) < 3 or not params[2].name.startswith(("tgt", "target")):
        raise ValueError(
            f"translator {translator_id(translator)} has translate({', '.join(p.name for p in params)}), not "
            "translate(texts, src, tgt); train_source=translate needs an English-to-X MT backend"
        )


def translator_id(translator) -> str:
    """What identifies a translator's output in the cache: its `key`/`name`, else its class."""
    for attr in ("key", "cache_key", "name", "model_name", "model"):
        value = getattr(translator, attr, None)
        if isinstance(value, str) and value:
            return f"{type(translator).__qualname__}:{value}"
    return f"{type(translator).__module__}.{type(translator).__qualname__}"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def translate_texts(texts: list[str], src: str, tgt: str, translator, cache_dir: str | Path) -> list[str]:
    """`texts` translated from `src` to `tgt`, reading and extending the on-disk cache."""
    check_translator(translator)
    tid = translator_id(translator)
    name = hashlib.sha256(f"{tid}|{src}|{tgt}".encode()).hexdigest()[:16]
    cache = JsonlCache(Path(cache_dir).expanduser() / "translations" / f"{src}-{tgt}-{name}.jsonl")
    todo = list(dict.fromkeys(t for t in texts if _key(t) not in cache))
    if todo:
        log.info("translating %d texts %s->%s with %s (%d cached)", len(todo), src, tgt, tid, len(texts) - len(todo))
    for start in tqdm(range(0, len(todo), BATCH_SIZE), desc=f"translate {src}->{tgt}", disable=not todo):
        batch = todo[start : start + BATCH_SIZE]
        out = translator.translate(batch, src, tgt)
        if len(out) != len(batch):
            raise ValueError(f"translator {tid} returned {len(out)} texts for {len(batch)}; fix the MT backend")
        cache.put_many((_key(text), {"translator": tid, "text": text, "translation": translation})
                       for text, translation in zip(batch, out))
    return [cache.get(_key(t))["translation"] for t in texts]


def translate_examples(examples_en: list[Example], lang: str, translator, cache_dir: str | Path) -> list[Example]:
    """Copies of English examples whose question is machine-translated into `lang`."""
    if lang == "en":
        return list(examples_en)
    translated = translate_texts([e.question_en for e in examples_en], "en", lang, translator, cache_dir)
    return [dataclasses.replace(e, lang=lang, question=q) for e, q in zip(examples_en, translated)]
