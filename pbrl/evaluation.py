"""Per-language evaluation: greedy batched generation, answer accuracy, language fidelity, DW-ACC.

    result = evaluate(model, tokenizer, examples, eval_cfg, desc="eval before")
    result["languages"]["de"]  # {"n": 16, "accuracy": 0.31, "fidelity": 0.94}

Scoring is `score_predictions`, a pure function shared with the `python -m pbrl.score` CLI.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from statistics import mean

from pbrl.answers import answers_match, extract_answer, extract_choice
from pbrl.langid import detect_language

log = logging.getLogger(__name__)
POLYMATH_LEVELS = ("low", "medium", "high", "top")  # DW-ACC weight 2^i in this order


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


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return mean(values) if values else None


def aggregate(languages: dict[str, dict]) -> dict:
    """en, non_en_avg, all_avg, gap_to_en (en - non_en_avg) and fidelity_avg over languages."""
    en = languages["en"]["accuracy"] if "en" in languages else None
    non_en = _mean_or_none(m["accuracy"] for lang, m in languages.items() if lang != "en")
    return {
        "en": en,
        "non_en_avg": non_en,
        "all_avg": _mean_or_none(m["accuracy"] for m in languages.values()),
        "gap_to_en": en - non_en if en is not None and non_en is not None else None,
        "fidelity_avg": _mean_or_none(m["fidelity"] for m in languages.values()),
    }


def score_predictions(rows: list[dict]) -> dict:
    """Score responses: {"languages": {lang: {n, accuracy, fidelity, dw_acc?}}, "aggregate", "predictions"}.

    Example:
        >>> score_predictions([{"lang": "en", "response": "The answer is 18.", "answer": "18"}])["languages"]
        {'en': {'n': 1, 'accuracy': 1.0, 'fidelity': 1.0}}
    """
    scored = [score_row(r) for r in rows]
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for row in scored:
        by_lang[row["lang"]].append(row)
    languages = {}
    for lang, group in by_lang.items():
        metrics = {
            "n": len(group),
            "accuracy": mean(r["correct"] for r in group),
            "fidelity": mean(r["detected_lang"] == lang for r in group),
        }
        levels: dict[str, list[bool]] = defaultdict(list)
        for r in group:
            if r.get("level") in POLYMATH_LEVELS:
                levels[r["level"]].append(r["correct"])
        if levels:
            metrics["dw_acc"] = dw_accuracy({level: mean(v) for level, v in levels.items()})
        languages[lang] = {k: float(v) if k != "n" else v for k, v in metrics.items()}
    return {"languages": languages, "aggregate": aggregate(languages), "predictions": scored}


def _cfg(cfg, key, default):
    try:
        value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    except Exception:  # OmegaConf struct nodes raise on unknown keys
        return default
    return default if value is None else value


def evaluate(model, tokenizer, examples, eval_cfg, desc: str = "eval", data_root=None, prompter=None) -> dict:
    """Greedy answers to `examples` (pbrl.data.Example) in their own language, scored per language.

    Prompts come from `prompter` (the run's task prompt, `pbrl.data.prompts.Prompter`; default: zero-shot
    chat). eval_cfg: max_new_tokens, batch_size, few_shot (> 0: MGSM chat exemplars from `data_root`,
    default env PBRL_DATA_ROOT, else the hub, instead of the run's prompt).
    """
    from pbrl.data import build_prompt, load_exemplars
    from pbrl.generation import generate

    few_shot = int(_cfg(eval_cfg, "few_shot", 0))
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
    responses = generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=int(_cfg(eval_cfg, "max_new_tokens", 256)),
        batch_size=int(_cfg(eval_cfg, "batch_size", 16)),
        temperature=0.0,
        desc=desc,
    )
    rows = [
        {"id": e.id, "lang": e.lang, "response": r[0], "answer": e.answer, "choices": e.choices, "level": e.level}
        for e, r in zip(examples, responses)
    ]
    result = score_predictions(rows)
    result["predictions"] = [
        {k: row[k] for k in ("id", "lang", "response", "pred", "correct", "detected_lang")} | _extra(row)
        for row in result["predictions"]
    ]
    for lang, m in sorted(result["languages"].items()):
        log.info("%s %s: n=%d accuracy=%.3f fidelity=%.3f", desc, lang, m["n"], m["accuracy"], m["fidelity"])
    return result


def _extra(row: dict) -> dict:
    return {"answer": row["answer"]} | ({"level": row["level"]} if row.get("level") else {})
