"""Check that a reward's semantic components tell true translations from mismatched ones.

    python -m pbrl.rewards.validate reward=embed data=mgsm langs=mgsm
    python -m pbrl.rewards.validate reward=mt data=polymath langs=en_pt n=200 output=mt_pt.json

On parallel data, each target-language question is paired with its own English question
(positive) and with another item's English question (negative: the English list rotated by half
its length, so no item meets itself). Per language it prints AUC (the probability that a positive
outscores a negative; ties count half) and the mean margin (mean positive − mean negative) of
every component that compares against an English reference (embed, mt, comet). Data and
languages come from the project config groups: `data=<preset>` (its eval_dataset) and
`langs=<preset>` (its eval languages except English). Own arguments: n=<items per language>
(default all), reference=<Example field to pair with> (question_en), level=<difficulty> (PolyMath:
low | medium | high | top; demo: one-step | multi-step), probes=0 (skip the probes), output=<report.json>.

Embedding components are prepared like a run (cross-lingual `b` per language from the same
items) and the report adds "nonzero", the share of true pairs the calibration leaves above 0, and
their raw cosines: matched cross-lingual, mismatched cross-lingual and mismatched English pairs.

Where the items have an English worked solution and a numeric answer (the demo set), it also
scores hack probes with the whole reward set against that solution (see `pbrl.rewards.probes`):
the English reference itself, the answer in English, a wrong final number, an empty answer, the
answer repeated and a looped phrase, each against a correct one-line target-language answer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pbrl.cli import CliSpec, examples_from, parse_argv
from pbrl.rewards.cli import score_in_batches, set_threads

SPEC = CliSpec(
    prog="python -m pbrl.rewards.validate",
    summary="Check that a reward's semantic components tell true translations from mismatched ones.",
    own={"n": ("items per language", None),
         "reference": ("the Example field to pair with", "question_en"),
         "level": ("difficulty (PolyMath: low | medium | high | top; demo: one-step | multi-step)", None),
         "probes": ("0 skips the hack probes", "1"),
         "output": ("report JSON to write", None)},
    optional=("n", "level", "output"),
    examples=examples_from(__doc__),
    overrides="Hydra overrides of the project config, as `python -m pbrl.run`: reward=<preset>, "
              "data=<preset> (its eval_dataset), langs=<preset> (its eval languages except English), reward.<key>=",
    old_flags={"--n": "n", "--reference": "reference", "--level": "level", "--probes": "probes", "--output": "output",
               "--reward": "reward", "--data": "data", "--langs": "langs"},
)


def config_defaults() -> str:
    """The project config's defaults for this CLI, for --help."""
    from pbrl.config import compose_config

    cfg = compose_config([])
    return (f"defaults (conf/config.yaml): reward={cfg.reward.name}, data={cfg.data.name} "
            f"(eval_dataset={cfg.data.eval_dataset}), langs={cfg.langs.name} (eval: {', '.join(cfg.langs.eval)})")


def auc(positives, negatives) -> float:
    """Mann-Whitney AUC: P(positive > negative) + ½ P(tie)."""
    pos = np.asarray(positives, dtype=np.float64)[:, None]
    neg = np.asarray(negatives, dtype=np.float64)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def pairs(texts: list[str], references: list[str]) -> tuple[list[str], list[str], list[int]]:
    """Positive pairs then negative pairs; labels 1/0. One item has no other item's English to be
    mismatched with: positives only (its AUC and margin are undefined, not 0.5 and 0)."""
    n = len(texts)
    if n < 2:
        return list(texts), list(references), [1] * n
    shifted = [references[(i + max(n // 2, 1)) % n] for i in range(n)]
    return texts + texts, references + shifted, [1] * n + [0] * n


def validate_component(reward, texts: list[str], references: list[str], lang: str, desc: str) -> dict:
    completions, refs, labels = pairs(texts, references)
    columns = {"reference": refs, "lang": [lang] * len(refs)}
    column_name = getattr(reward, "reference_column", "reference")
    columns[column_name] = refs
    values = [v for batch in score_in_batches(reward, completions, columns, desc) for v in batch]
    pos = [v for v, y in zip(values, labels) if y == 1 and v is not None]
    neg = [v for v, y in zip(values, labels) if y == 0 and v is not None]
    if not pos or not neg:  # every score None, or fewer than 2 items: nothing to compare
        return {
            "n": len(texts),
            "auc": None,
            "margin": None,
            "pos_mean": float(np.mean(pos)) if pos else None,
            "neg_mean": None,
            "nonzero": float(np.mean([v > 0 for v in pos])) if pos else None,
            "none": values.count(None),
        }
    return {
        "n": len(texts),
        "auc": auc(pos, neg),
        "margin": float(np.mean(pos) - np.mean(neg)),
        "pos_mean": float(np.mean(pos)),
        "neg_mean": float(np.mean(neg)),
        "nonzero": float(np.mean([v > 0 for v in pos])),  # positives the calibration leaves above 0
        "none": values.count(None),
    }


def raw_cosines(reward, texts: list[str], references: list[str], lang: str) -> dict:
    """Raw cosines of an embedding reward on parallel data: matched cross-lingual pairs (a text
    and its own English), mismatched cross-lingual pairs (a text and every other item's English),
    mismatched English pairs (different English references), and the `b` used for `lang`."""
    texts_vec = reward.embedder.embed(texts)
    refs_vec = reward.reference_embeddings(references)
    sims = texts_vec @ refs_vec.T
    n = len(texts)
    off = ~np.eye(n, dtype=bool)
    en = refs_vec @ refs_vec.T
    return {
        "n": n,
        "matched": float(np.diag(sims).mean()),
        "mismatched": float(sims[off].mean()) if n > 1 else None,
        "mismatched_en": float(en[off].mean()) if n > 1 else None,
        "b": reward.baseline_for(lang) if reward.calibration != "none" else None,
    }


def semantic_components(reward_set) -> dict:
    return {
        name: comp.reward for name, comp in reward_set.components.items() if hasattr(comp.reward, "reference_column")
    }


def prepare_rewards(reward_set, items: dict[str, list[tuple[str, str]]]) -> None:
    """Prepare like a run does: every English reference, and per language the (text, reference)
    rows the cross-lingual calibration estimates `b` from."""
    references = list(dict.fromkeys(ref for rows in items.values() for _, ref in rows))
    rows = [
        {"lang": lang, "question": text, "reference": ref}
        for lang, lang_items in items.items()
        for text, ref in lang_items
    ]
    reward_set.prepare(references, rows=rows)


def _number(value: float | None, width: int, digits: int) -> str:
    """`value` right-aligned in `width`, "–" when undefined (all None, or too few items to compare)."""
    return f"{'–':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_cosines(cosines: dict) -> None:
    print("\nraw cosines: matched cross-lingual | mismatched cross-lingual | mismatched English | b used")
    for lang, per in cosines.items():
        for name, c in per.items():
            b = "none" if c["b"] is None else f"{c['b']:.4f}"
            print(f"{name:>10} {lang:>5} {c['n']:>5} {c['matched']:>8.4f} {c['mismatched']:>8.4f} "
                  f"{c['mismatched_en']:>8.4f} {b:>8}")


def print_probes(report: dict) -> None:
    from pbrl.rewards.probes import PROBES

    print("\nhack probes: mean total against the right English reference (TRL nansum; all-None = 0),")
    print("and in brackets the share of problems where the correct target-language answer scores higher")
    print(f"{'lang':>5} {'n':>4} {'correct':>8} " + " ".join(f"{p:>18}" for p in PROBES))
    for lang, result in report.items():
        if not result["n"]:
            continue
        cells = " ".join(
            f"{result['probes'][p]['mean']:>10.3f} ({result['probes'][p]['correct_wins']:>4.0%})" for p in PROBES
        )
        print(f"{lang:>5} {result['n']:>4} {result['correct']:>8.3f} {cells}")


def main(argv: list[str] | None = None) -> dict:
    from pbrl.data import load_examples
    from pbrl.preflight import (
        check_data_root, check_dataset, check_models, check_range, check_reward, check_writable, compose_checked,
        one_line_errors,
    )
    from pbrl.rewards import build_reward
    from pbrl.rewards.embed import EmbeddingReward
    from pbrl.rewards.probes import score_probes
    from pbrl.rundir import atomic_write_json

    own, overrides = parse_argv(SPEC, argv, defaults=config_defaults)
    with one_line_errors():  # the shared pre-flight, before any model loads
        cfg = compose_checked(overrides)
        langs = [lang for lang in cfg.langs.eval if lang != "en"]
        check_reward(cfg.reward, langs)
        check_models(cfg, policy=False)
        check_data_root(cfg.paths.data_root)
        check_dataset(cfg.data.eval_dataset, ["en", *langs], cfg.paths.data_root, role="data.eval_dataset")
        if "n" in own:
            try:
                n_value = int(own["n"])
            except ValueError:
                raise ValueError(f"n={own['n']!r} is not an integer; e.g. n=200") from None
            check_range("n", n_value, low=1, integer=True, sep="=")
        if "output" in own:
            check_writable("output", Path(own["output"]).parent)
    set_threads(cfg.threads)
    with one_line_errors():
        reward_set = build_reward(cfg.reward)
        components = semantic_components(reward_set)
        if not components:
            raise ValueError(f"reward '{reward_set.name}' has no component comparing with an English reference; "
                             "use reward=embed, mt or comet")
    dataset = cfg.data.eval_dataset
    langs = [lang for lang in cfg.langs.eval if lang != "en"]
    field = own["reference"]
    examples = load_examples(dataset, langs, cfg.paths.data_root, dict(cfg.data.hub_ids or {}))
    if "level" in own:
        examples = {lang: [e for e in rows if e.level == own["level"]] for lang, rows in examples.items()}
    n = int(own["n"]) if "n" in own else None
    chosen = {lang: [e for e in examples[lang] if e.question and getattr(e, field)][:n] for lang in langs}
    pairs_by_lang = {lang: [(e.question, getattr(e, field)) for e in rows] for lang, rows in chosen.items()}
    prepare_rewards(reward_set, pairs_by_lang)
    report: dict = {
        "reward": reward_set.name,
        "dataset": dataset,
        "reference": field,
        "level": own.get("level"),
        "languages": {},
        "cosines": {},
        "probes": {},
    }
    print(f"reward={reward_set.name} dataset={dataset} pairs: question vs {field}")
    print(f"{'component':>10} {'lang':>5} {'n':>5} {'AUC':>7} {'margin':>8} {'pos':>7} {'neg':>7} {'nonzero':>8}")
    for lang in langs:
        rows = chosen[lang]
        texts, refs = [e.question for e in rows], [getattr(e, field) for e in rows]
        for name, reward in components.items():
            result = validate_component(reward, texts, refs, lang, desc=f"{name} {lang}")
            report["languages"].setdefault(lang, {})[name] = result
            print(f"{name:>10} {lang:>5} {result['n']:>5} {_number(result['auc'], 7, 4)} "
                  f"{_number(result['margin'], 8, 4)} {_number(result['pos_mean'], 7, 4)} "
                  f"{_number(result['neg_mean'], 7, 4)} {_number(result['nonzero'], 8, 2)}")
            if isinstance(reward, EmbeddingReward) and len(rows) > 1:
                report["cosines"].setdefault(lang, {})[name] = raw_cosines(reward, texts, refs, lang)
    if report["cosines"]:
        print_cosines(report["cosines"])
    with_solutions = {lang: [e for e in rows if e.solution_en and e.answer] for lang, rows in chosen.items()}
    if own.get("probes", "1") not in ("0", "false", "no") and any(with_solutions.values()):
        if field != "solution_en":  # probes compare with the worked solution, as the pivot's reference is one
            solutions = {lang: [(e.question, e.solution_en) for e in rows] for lang, rows in with_solutions.items()}
            prepare_rewards(reward_set, solutions)
        for lang, rows in with_solutions.items():
            report["probes"][lang] = score_probes(reward_set, rows, lang)
        print_probes(report["probes"])
    if "output" in own:
        atomic_write_json(own["output"], report)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
