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
(default all), reference=<Example field to pair with> (question_en), output=<report.json>.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pbrl.rewards.cli import score_in_batches, set_threads, split_argv


def auc(positives, negatives) -> float:
    """Mann-Whitney AUC: P(positive > negative) + ½ P(tie)."""
    pos = np.asarray(positives, dtype=np.float64)[:, None]
    neg = np.asarray(negatives, dtype=np.float64)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def pairs(texts: list[str], references: list[str]) -> tuple[list[str], list[str], list[int]]:
    """Positive pairs then negative pairs; labels 1/0."""
    n = len(texts)
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
    if not pos or not neg:
        return {
            "n": len(texts),
            "auc": None,
            "margin": None,
            "pos_mean": None,
            "neg_mean": None,
            "none": values.count(None),
        }
    return {
        "n": len(texts),
        "auc": auc(pos, neg),
        "margin": float(np.mean(pos) - np.mean(neg)),
        "pos_mean": float(np.mean(pos)),
        "neg_mean": float(np.mean(neg)),
        "none": values.count(None),
    }


def semantic_components(reward_set) -> dict:
    return {
        name: comp.reward for name, comp in reward_set.components.items() if hasattr(comp.reward, "reference_column")
    }


def main(argv: list[str] | None = None) -> dict:
    from pbrl.data import load_examples
    from pbrl.preflight import (
        check_data_root, check_dataset, check_models, check_range, check_reward, check_writable, compose_checked,
        one_line_errors,
    )
    from pbrl.rewards import build_reward
    from pbrl.rundir import atomic_write_json

    own, overrides = split_argv(argv, ("n", "reference", "output"))
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
    field = own.get("reference", "question_en")
    examples = load_examples(dataset, langs, cfg.paths.data_root, dict(cfg.data.hub_ids or {}))
    n = int(own["n"]) if "n" in own else None
    report: dict = {"reward": reward_set.name, "dataset": dataset, "reference": field, "languages": {}}
    print(f"reward={reward_set.name} dataset={dataset} pairs: question vs {field}")
    print(f"{'component':>10} {'lang':>5} {'n':>5} {'AUC':>7} {'margin':>8} {'pos':>7} {'neg':>7}")
    for lang in langs:
        rows = [e for e in examples[lang] if e.question and getattr(e, field)][:n]
        texts, refs = [e.question for e in rows], [getattr(e, field) for e in rows]
        for name, reward in components.items():
            if hasattr(reward, "prepare"):
                reward.prepare(refs)
            result = validate_component(reward, texts, refs, lang, desc=f"{name} {lang}")
            report["languages"].setdefault(lang, {})[name] = result
            if result["auc"] is None:
                print(f"{name:>10} {lang:>5} {result['n']:>5}     n/a (all None)")
            else:
                print(
                    f"{name:>10} {lang:>5} {result['n']:>5} {result['auc']:>7.4f} {result['margin']:>8.4f} "
                    f"{result['pos_mean']:>7.4f} {result['neg_mean']:>7.4f}"
                )
    if "output" in own:
        atomic_write_json(own["output"], report)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
