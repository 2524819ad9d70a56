"""Per-language evaluation: greedy batched generation, answer accuracy, language fidelity, DW-ACC.

    result = evaluate(model, tokenizer, examples, eval_cfg, desc="eval before")
    result["languages"]["de"]  # {"n": 16, "correct": 5, "accuracy": 0.31, "accuracy_ci": [0.14, 0.56], ...}

Scoring is `score_predictions`, a pure function shared with the `python -m pbrl.score` CLI.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from statistics import mean

from pbrl.answers import answers_match, extract_answer, extract_choice
from pbrl.config import EvalConfig, as_schema
from pbrl.langid import detect_language
from pbrl.rundir import atomic_write_json, read_json
from pbrl.stats import (INTERVAL_METHODS, LanguageOutcomes, gap_to_english, non_english_average,
                        wilson_interval)

log = logging.getLogger(__name__)
POLYMATH_LEVELS = ("low", "medium", "high", "top")  # DW-ACC weight 2^i in this order
ENGLISH = "en"


def score_row(row: dict) -> dict:
    """`row` ({lang, response, answer, choices?}) plus pred (normalized or None), correct, detected_lang."""
    response = row.get("response") or ""
    choices = row.get("choices")
    pred = extract_choice(response, len(choices)) if choices else extract_answer(response)
    gold = str(row.get("answer") or "")
    correct = (
        bool(gold) and pred is not None and (pred == gold.strip().upper() if choices else answers_match(pred, gold))
    )
    detected = row.get("detected_lang")
    if detected is None:
        detected = detect_language(response)
    return {**row, "pred": pred, "correct": correct, "detected_lang": detected}


def dw_accuracy(level_accuracy: dict[str, float]) -> float:
    """PolyMath's difficulty-weighted accuracy Σ 2^i·acc_i / Σ 2^i over the levels present (/15 for all four)."""
    weights = {level: 2**i for i, level in enumerate(POLYMATH_LEVELS) if level in level_accuracy}
    return sum(w * level_accuracy[level] for level, w in weights.items()) / sum(weights.values())


COPY_CHRF = 60.0  # chrF (0-100) to the English reference at or above which an answer counts as a copy of it
# Measured on the demo problems: the reference itself 100, with its last line dropped 85; an English
# paraphrase 46, French/German/Spanish/Chinese answers with the same equations 45/32/27/16.


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return mean(values) if values else None


def copies_reference(response: str, reference: str) -> bool:
    """Whether `response` is (near) a copy of the English `reference`: sentence chrF >= COPY_CHRF.

    Example:
        >>> copies_reference("She makes 24 + 18 = 42. The answer is 42.", "She makes 24 + 18 = 42. The answer is 42.")
        True
    """
    return bool(response.strip()) and _chrf().sentence_score(response, [reference]).score >= COPY_CHRF


@lru_cache(maxsize=1)
def _chrf():
    from sacrebleu.metrics import CHRF

    return CHRF()


def _reference(row: dict) -> str:
    return row.get("reference") or row.get("solution_en") or ""


def _share(flags: list[bool], key: str) -> dict:
    """{key: share, key_ci: Wilson interval} of the True flags."""
    return {key: sum(flags) / len(flags), f"{key}_ci": list(wilson_interval(sum(flags), len(flags)))}


def language_metrics(lang: str, group: list[dict]) -> dict:
    """One language's scored rows: n, correct, accuracy (+ci), fidelity (+ci), english_share (non-English
    languages), copy_share (rows with an English `reference` or `solution_en`), dw_acc (PolyMath levels)."""
    correct = sum(bool(r["correct"]) for r in group)
    metrics = {
        "n": len(group),
        "correct": correct,
        "accuracy": correct / len(group),
        "accuracy_ci": list(wilson_interval(correct, len(group))),
    }
    metrics |= _share([r["detected_lang"] == lang for r in group], "fidelity")
    if lang != ENGLISH:
        metrics |= _share([r["detected_lang"] == ENGLISH for r in group], "english_share")
        with_reference = [r for r in group if _reference(r)]
        if with_reference:
            metrics |= _share([copies_reference(r.get("response") or "", _reference(r)) for r in with_reference],
                              "copy_share")
    levels: dict[str, list[bool]] = defaultdict(list)
    for r in group:
        if r.get("level") in POLYMATH_LEVELS:
            levels[r["level"]].append(r["correct"])
    if levels:
        metrics["dw_acc"] = float(dw_accuracy({level: mean(v) for level, v in levels.items()}))
    return metrics


def aggregate(languages: dict[str, dict], rows: list[dict] | None = None) -> dict:
    """en, non_en_avg, all_avg, gap_to_en (en - non_en_avg), fidelity_avg over languages; with the
    scored `rows`, also the 95 % intervals of non_en_avg and gap_to_en (pbrl.stats) and the non-English
    means of english_share and copy_share."""
    en = languages[ENGLISH]["accuracy"] if ENGLISH in languages else None
    non_en = _mean_or_none(m["accuracy"] for lang, m in languages.items() if lang != ENGLISH)
    result = {
        "en": en,
        "non_en_avg": non_en,
        "all_avg": _mean_or_none(m["accuracy"] for m in languages.values()),
        "gap_to_en": en - non_en if en is not None and non_en is not None else None,
        "fidelity_avg": _mean_or_none(m["fidelity"] for m in languages.values()),
    }
    for share in ("english_share", "copy_share"):
        value = _mean_or_none(m.get(share) for lang, m in languages.items() if lang != ENGLISH)
        if value is not None:
            result[f"{share}_avg"] = value
    if rows:
        table = LanguageOutcomes.from_rows([rows])
        average, gap = non_english_average(table), gap_to_english(table)
        if average is not None:
            result["non_en_avg_ci"] = average.interval()
        if gap is not None:
            result["gap_to_en_ci"] = gap.interval()
    return result


def score_predictions(rows: list[dict]) -> dict:
    """Score responses: {"languages": {lang: metrics}, "aggregate", "intervals" (methods), "predictions"}.

    Rows: {id?, lang, response, answer, choices?, level?, reference?}; `reference` (the English
    solution) enables copy_share. See `language_metrics` for the per-language keys.

    Example:
        >>> m = score_predictions([{"lang": "en", "response": "The answer is 18.", "answer": "18"}])["languages"]["en"]
        >>> m["n"], m["correct"], m["accuracy"], [round(x, 3) for x in m["accuracy_ci"]]
        (1, 1, 1.0, [0.207, 1.0])
    """
    scored = [score_row(r) for r in rows]
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for row in scored:
        by_lang[row["lang"]].append(row)
    languages = {lang: language_metrics(lang, group) for lang, group in by_lang.items()}
    return {"languages": languages, "aggregate": aggregate(languages, scored), "intervals": INTERVAL_METHODS,
            "predictions": scored}


def evaluate(
    model, tokenizer, examples, eval_cfg, desc: str = "eval", data_root=None, prompter=None, cache_key=None, cache_dir=None
) -> dict:
    """Greedy answers to `examples` (pbrl.data.Example) in their own language, scored per language.

    Prompts come from `prompter` (the run's task prompt, `pbrl.data.prompts.Prompter`; default: zero-shot
    chat). eval_cfg (an EvalConfig, or a DictConfig/dict of its keys): max_new_tokens, batch_size, few_shot
    (> 0: MGSM chat exemplars from `data_root`, default env PBRL_DATA_ROOT, else the hub, instead of the
    run's prompt).
    With `cache_key` (what identifies the weights, e.g. the base model's folder) and `cache_dir`, the
    greedy responses are kept on disk and reused by any run that asks the same model the same prompts
    with the same settings: every arm of a sweep shares one evaluation of the untrained policy.
    """
    from pbrl.data import build_prompt, load_exemplars
    from pbrl.generation import generate

    eval_cfg = as_schema(EvalConfig, eval_cfg)
    few_shot = eval_cfg.few_shot
    data_root = data_root or os.environ.get("PBRL_DATA_ROOT")
    exemplars = (
        {lang: load_exemplars(lang, few_shot, data_root) for lang in sorted({e.lang for e in examples})}
        if few_shot
        else {}
    )
    if prompter is not None and not few_shot:
        prompts = [prompter(e) for e in examples]
    else:
        prompts = [build_prompt(e, exemplars.get(e.lang)) for e in examples]
    max_new_tokens = eval_cfg.max_new_tokens
    cached = None
    if cache_key is not None and cache_dir is not None:
        cached = responses_cache_file(cache_dir, cache_key, model, tokenizer, prompts, max_new_tokens)
    reused = cached is not None and cached.exists()
    if reused:
        responses = read_json(cached)
        log.info("%s: reusing %d greedy responses of the same model and prompts (%s)", desc, len(responses), cached)
    else:
        responses = generate(
            model,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            batch_size=eval_cfg.batch_size,
            max_batch_tokens=eval_cfg.max_batch_tokens,
            temperature=0.0,
            desc=desc,
        )
        if cached is not None:
            atomic_write_json(cached, responses)
    rows = [
        {"id": e.id, "lang": e.lang, "response": r[0], "answer": e.answer, "choices": e.choices, "level": e.level,
         "reference": e.solution_en}
        for e, r in zip(examples, responses)
    ]
    result = score_predictions(rows)
    result["predictions"] = [
        {k: row[k] for k in ("id", "lang", "response", "pred", "correct", "detected_lang")} | _extra(row)
        for row in result["predictions"]
    ]
    result["responses_reused"] = reused  # answers from the cache: this evaluation's time is not a generation's
    for lang, m in sorted(result["languages"].items()):
        log.info("%s %s: n=%d accuracy=%.3f fidelity=%.3f", desc, lang, m["n"], m["accuracy"], m["fidelity"])
    return result


def responses_cache_file(cache_dir, cache_key: str, model, tokenizer, prompts, max_new_tokens: int) -> Path:
    """Where the greedy responses of `model` to `prompts` are kept: named by a hash of everything
    they depend on (weights' identity, dtype, stop tokens, prompts, length, library versions)."""
    import torch
    import transformers

    eos = model.generation_config.eos_token_id
    identity = {
        "model": str(cache_key),
        "dtype": str(next(model.parameters()).dtype),
        "device": next(model.parameters()).device.type,
        "eos": eos if isinstance(eos, list) else [eos],
        "vocab": len(tokenizer),
        "max_new_tokens": max_new_tokens,
        "prompts": [p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in prompts],
        "versions": [torch.__version__, transformers.__version__],
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"greedy-{digest}.json"


def _extra(row: dict) -> dict:
    return {"answer": row["answer"]} | ({"level": row["level"]} if row.get("level") else {})
