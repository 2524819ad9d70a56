"""Datasets, train/eval splits and prompts.

    >>> from pbrl.data import load_examples
    >>> load_examples("mgsm", ["de"], "/work/shared/data")["de"][0].answer
    '18'

Datasets: demo (embedded), wordproblems (generated from embedded templates: train/dev/test/shots),
mgsm, gsm8k (English, train/test), msvamp, polymath, mmlu_prox (hub only).
A data root (config `paths.data_root`, default env PBRL_DATA_ROOT) holds the published files; without
one, the same sets load from their hub ids.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from pbrl.cache import default_cache_dir
from pbrl.config import DataConfig, as_schema
from pbrl.data import gsm8k, mgsm, mmlu_prox, msvamp, polymath, wordproblems
from pbrl.data.example import Example
from pbrl.data.prompts import build_prompt, load_exemplars
from pbrl.data.translate import make_translator, translate_examples
from pbrl.data.wordproblems import wordproblem_exemplars
from pbrl.languages import check_languages

__all__ = [
    "DATASETS",
    "Example",
    "available_languages",
    "build_prompt",
    "load_examples",
    "load_exemplars",
    "load_splits",
    "wordproblem_exemplars",
]

log = logging.getLogger(__name__)
DATASETS = ("demo", "wordproblems", "mgsm", "gsm8k", "msvamp", "polymath", "mmlu_prox")
_MODULES = {m.NAME: m for m in (mgsm, gsm8k, msvamp, polymath, mmlu_prox)}


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset '{dataset}'; choose from: {', '.join(DATASETS)}")


def available_languages(dataset: str, data_root: str | Path | None = None) -> list[str]:
    """Languages `dataset` has (in the data root's files when one is given)."""
    _check_dataset(dataset)
    if dataset == "demo":
        from pbrl.data.demo import DEMO_LANGUAGES

        return sorted(DEMO_LANGUAGES)
    if dataset == "wordproblems":
        return sorted(wordproblems.LANGUAGES)
    module = _MODULES[dataset]
    if data_root is None or dataset in ("gsm8k", "mmlu_prox"):
        return sorted(module.LANGUAGES)
    root = Path(data_root)
    if dataset == "mgsm":
        present = [lang for lang in module.LANGUAGES if (root / "mgsm" / f"mgsm_{lang}.tsv").is_file()]
    elif dataset == "msvamp":
        present = [lang for lang in module.LANGUAGES if (root / "msvamp" / msvamp.file_name(lang)).is_file()]
    else:
        present = [lang for lang in module.LANGUAGES if (root / "polymath" / f"polymath_{lang}.jsonl").is_file()]
    return sorted(present)


def check_dataset_languages(dataset: str, langs) -> list[str]:
    """`langs`, each a known language that `dataset` has (a file missing under the data root fails
    when it is read, naming the file)."""
    langs = check_languages(list(langs))
    if dataset == "gsm8k":
        for lang in langs:
            gsm8k.check_language(lang)
    return check_languages(langs, available=available_languages(dataset, None), dataset=dataset)


def load_examples(
    dataset: str,
    langs: list[str],
    data_root: str | Path | None = None,
    hub_ids: dict | None = None,
    split: str = "test",
    number_scale: str = wordproblems.DEFAULT_SCALE,
) -> dict[str, list[Example]]:
    """Every example of `dataset` in each of `langs`, as {lang: [Example, ...]} in dataset order.

    `split` only matters for gsm8k (train | test) and wordproblems (train | dev | test | shots, each
    of wordproblems.DEFAULT_SIZES); the other sets are test sets. `number_scale` (standard | small) only
    matters for wordproblems.
    """
    _check_dataset(dataset)
    langs = check_languages(langs)
    if dataset == "demo":
        from pbrl.data.demo import load_demo

        demo = load_demo(langs)
        return {lang: [e for e in demo if e.lang == lang] for lang in langs}
    if dataset == "wordproblems":
        return {lang: wordproblems.load([lang], split, scale=number_scale) for lang in langs}
    module = _MODULES[dataset]
    if dataset != "gsm8k":  # gsm8k.load explains the translate route itself
        check_languages(langs, available=module.LANGUAGES, dataset=dataset)
    hub_ids = dict(hub_ids or {})
    kwargs = {"hub_id": hub_ids.get(dataset, module.HUB_ID)}
    if dataset == "gsm8k":
        kwargs["split"] = split
    if dataset == "mgsm":
        kwargs["gsm8k_hub_id"] = hub_ids.get("gsm8k", gsm8k.HUB_ID)
    return {lang: module.load(lang, data_root, **kwargs) for lang in langs}


def _common_ids(per_lang: dict[str, list[Example]]) -> list[str]:
    """Problem ids present in every language, in the first language's order."""
    first, *rest = per_lang.values()
    shared = set.intersection(*(set(e.id for e in exs) for exs in per_lang.values()))
    return [e.id for e in first if e.id in shared]


def _pick(ids: list[str], size: int | None, rng: random.Random) -> list[str]:
    if size is None or size < 0 or size >= len(ids):
        return list(ids)
    picked = set(rng.sample(ids, size))
    return [i for i in ids if i in picked]


def _at_levels(pool: dict[str, list[Example]], ids: list[str], levels, dataset: str, key: str = "eval_levels") -> list[str]:
    """Keep the problems whose `level` is in `levels` (PolyMath: low..top; demo: one-step, multi-step)."""
    if not levels:
        return ids
    levels = [str(level) for level in levels]
    level_of = {e.id: e.level for e in next(iter(pool.values()))}
    kept = [i for i in ids if level_of.get(i) in levels]
    if not kept:
        found = sorted({str(v) for v in level_of.values() if v})
        raise ValueError(
            f"data.{key}={levels} matches no {dataset} problem; its levels: {', '.join(found) or 'none'}"
        )
    return kept


def _question_key(example: Example) -> str:
    return " ".join(example.question_en.casefold().split())


def train_pool(data: DataConfig, train_langs: list[str]) -> tuple[list[str], str]:
    """The languages and the split of `data.train_dataset` the training problems come from: every
    training language of a parallel set, or English to translate from (`train_source=translate`);
    the train split of GSM8K and of the generated word problems, the test split of the others (the
    run's eval problems are dropped from it)."""
    langs = list(train_langs) if data.train_source == "parallel" else ["en"]
    return langs, "train" if data.train_dataset in ("gsm8k", "wordproblems") else "test"


def load_splits(
    data_cfg,
    train_langs: list[str],
    eval_langs: list[str],
    data_root: str | Path | None,
    cache_dir: str | Path | None = None,
) -> dict[str, list[Example]]:
    """Train and eval examples for a run: {"train": [...], "eval": [...]}.

    data_cfg: a DataConfig, or a DictConfig/dict of its keys (pbrl.config.as_schema).
    Eval: `eval_size` problems (all if negative) of `eval_dataset`, the same problems in every eval
    language. Train: `train_size` problems of `train_dataset` in every train language, taken from
    the parallel set (`train_source=parallel`) or machine-translated from English
    (`train_source=translate`, translations cached under `cache_dir`/translations). Train never holds
    an eval problem: same-dataset splits are disjoint and other datasets' copies of eval problems
    (GSM8K test holds MGSM) are dropped; an overlap left anyway raises ValueError.
    """
    data = as_schema(DataConfig, data_cfg)
    train_langs, eval_langs = check_languages(train_langs), check_languages(eval_langs)
    rng = random.Random(data.split_seed)
    hub_ids = data.hub_ids
    eval_dataset, train_dataset = data.eval_dataset, data.train_dataset
    cache_dir = cache_dir or default_cache_dir()
    number_scale = data.number_scale  # wordproblems only

    eval_examples: list[Example] = []
    eval_pool: dict[str, list[Example]] = {}
    eval_ids: list[str] = []
    if eval_dataset and eval_langs:
        eval_pool = load_examples(eval_dataset, eval_langs, data_root, hub_ids, data.eval_split, number_scale)
        eval_ids = _at_levels(eval_pool, _common_ids(eval_pool), data.eval_levels, eval_dataset)
        eval_ids = _pick(eval_ids, data.eval_size, rng)
        chosen = set(eval_ids)
        eval_examples = [e for lang in eval_langs for e in eval_pool[lang] if e.id in chosen]
    eval_questions = {_question_key(e) for e in eval_examples if e.question_en}

    train_examples: list[Example] = []
    train_size = data.train_size
    if train_dataset and train_langs and train_size != 0:
        source = data.train_source
        pool_langs, split = train_pool(data, train_langs)
        pool = load_examples(train_dataset, pool_langs, data_root, hub_ids, split, number_scale)
        ids = _common_ids(pool)
        first = next(iter(pool.values()))
        english_key = {e.id: _question_key(e) for e in first}
        candidates = [i for i in ids if i not in set(eval_ids) and english_key[i] not in eval_questions]
        if len(candidates) < len(ids):
            log.info(
                "train: dropped %d %s problems that are in the eval set", len(ids) - len(candidates), train_dataset
            )
        candidates = _at_levels(pool, candidates, data.train_levels, train_dataset, "train_levels")
        chosen = set(_pick(candidates, train_size, rng))
        if source == "parallel":
            train_examples = [e for lang in train_langs for e in pool[lang] if e.id in chosen]
        else:
            english = [e for e in pool["en"] if e.id in chosen]
            translator = make_translator(data.translator) if set(train_langs) - {"en"} else None
            for lang in train_langs:
                train_examples += translate_examples(english, lang, translator, cache_dir)

    check_disjoint(train_examples, eval_examples)
    return {"train": train_examples, "eval": eval_examples}


def check_disjoint(train: list[Example], eval_: list[Example]) -> None:
    """Raise ValueError if train and eval share a problem id or an English question."""
    shared_ids = {e.id for e in train} & {e.id for e in eval_}
    shared_questions = {_question_key(e) for e in train if e.question_en} & {
        _question_key(e) for e in eval_ if e.question_en
    }
    if shared_ids or shared_questions:
        example = sorted(shared_ids)[:3] or sorted(shared_questions)[:1]
        raise ValueError(
            f"train and eval share {len(shared_ids) or len(shared_questions)} problem(s) (e.g. {example}); "
            "use different data.train_dataset/eval_dataset or sizes that fit the dataset"
        )
