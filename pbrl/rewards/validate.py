"""Whether a reward's semantic components tell true translations from mismatched ones, and how the
whole reward set scores hack probes.

On parallel data, each target-language question is paired with its own English question
(positive) and with another item's English question (negative: the English list rotated by half
its length, so no item meets itself). Per language `validate_languages` gives AUC (the probability
that a positive outscores a negative; ties count half) and the mean margin (mean positive − mean
negative) of every component that compares against an English reference (embed, mt, comet).

Embedding components are prepared like a run (cross-lingual `b` per language from the same
items) and the report adds "nonzero", the share of true pairs the calibration leaves above 0, and
their raw cosines: matched cross-lingual, mismatched cross-lingual and mismatched English pairs.

Where the items have an English worked solution and a numeric answer (the demo set), `hack_probes`
scores hack probes with the whole reward set against that solution (see `pbrl.rewards.probes`).

This is the library behind `python -m pbrl.rewards.validate`; the command itself (arguments, the
pre-flight, the printed tables) is `pbrl.cli.rewards_validate`, which runs when this module is run:

    python -m pbrl.rewards.validate reward=embed data=mgsm langs=mgsm
"""

from __future__ import annotations

import sys

import numpy as np

from pbrl.rewards.score import score_in_batches


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


def validate_languages(components: dict, chosen: dict[str, list], field: str) -> tuple[dict, dict]:
    """Per language and component, `validate_component` on the (question, `field`) pairs of the
    chosen examples; for embedding components with 2+ items, their raw cosines too."""
    from pbrl.rewards.embed import EmbeddingReward

    languages: dict = {}
    cosines: dict = {}
    for lang, rows in chosen.items():
        texts, refs = [e.question for e in rows], [getattr(e, field) for e in rows]
        for name, reward in components.items():
            languages.setdefault(lang, {})[name] = validate_component(reward, texts, refs, lang, desc=f"{name} {lang}")
            if isinstance(reward, EmbeddingReward) and len(rows) > 1:
                cosines.setdefault(lang, {})[name] = raw_cosines(reward, texts, refs, lang)
    return languages, cosines


def hack_probes(reward_set, chosen: dict[str, list], field: str) -> dict:
    """Per language, the hack probes of `pbrl.rewards.probes` scored by the whole reward set against
    each item's English worked solution (items with a solution and an answer; {} without any)."""
    from pbrl.rewards.probes import score_probes

    with_solutions = {lang: [e for e in rows if e.solution_en and e.answer] for lang, rows in chosen.items()}
    if not any(with_solutions.values()):
        return {}
    if field != "solution_en":  # probes compare with the worked solution, as the pivot's reference is one
        solutions = {lang: [(e.question, e.solution_en) for e in rows] for lang, rows in with_solutions.items()}
        prepare_rewards(reward_set, solutions)
    return {lang: score_probes(reward_set, rows, lang) for lang, rows in with_solutions.items()}


if __name__ == "__main__":  # `python -m pbrl.rewards.validate`: the command lives in the entry layer
    from pbrl.cli.rewards_validate import main

    main(sys.argv[1:])
