"""95 % intervals for evaluation results: one accuracy, the non-English average, the gap to English,
and the paired before → after difference.

    wilson_interval(5, 10)                      # (0.2366, 0.7634)
    newcombe_paired_interval(59, 6, 16, 80)     # (-0.1186, -0.0046): p1 - p2 on 161 paired problems
    table = LanguageOutcomes.from_rows([rows])  # rows: {"id", "lang", "correct"}
    non_english_average(table)                  # Estimate(value=0.31, lo=0.24, hi=0.38)

Which interval where, and why:
- One proportion (accuracy, fidelity, English share, copy share of one language): Wilson score
  interval; unlike the normal approximation it has near-nominal coverage at small n and gives a
  non-empty interval at 0/n and n/n (0/10 → [0, 0.278]).
- One language before → after (the same problems evaluated twice): Newcombe's square-and-add
  interval for paired proportions (Newcombe 1998, method 10), computed from the 2×2 table of
  (before, after) outcomes; it uses the pairing (only discordant problems move the difference) and
  stays well-behaved at 0 and 1, where a bootstrap collapses to a point.
- Anything that averages languages (non-English average, gap to English, their before → after
  change): a percentile bootstrap over problems. pbrl evaluates the same problem in every language,
  and a hard problem is hard in all of them, so per-language accuracies are positively correlated;
  the analytic interval for a mean of *independent* proportions would be too narrow. Resampling
  whole problems (all their languages, and both evaluations for a paired difference) carries that
  correlation without a model. When the languages do not share their problems, each language is
  resampled on its own (stratified bootstrap). Seeded, so eval.json is reproducible.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % standard-normal quantile
N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0
ENGLISH = "en"
INTERVAL_METHODS = {
    "accuracy_ci": "Wilson score 95 %",
    "non_en_avg_ci": f"percentile bootstrap over problems (all languages of a problem together), "
                     f"{N_BOOTSTRAP} resamples, seed {BOOTSTRAP_SEED}",
    "delta_ci": "per language: Newcombe paired square-and-add (method 10); averages: paired bootstrap over problems",
}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval."""

    value: float
    lo: float
    hi: float

    @property
    def excludes_zero(self) -> bool:
        return self.lo > 0 or self.hi < 0

    def interval(self) -> list[float]:
        return [self.lo, self.hi]


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for `successes` out of `n` (Wilson 1927).

    Example:
        >>> [round(x, 4) for x in wilson_interval(5, 10)]
        [0.2366, 0.7634]
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n, got {successes} of {n}")
    p = successes / n
    z2 = z * z
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = 0.0 if successes == 0 else max(0.0, center - half)
    hi = 1.0 if successes == n else min(1.0, center + half)
    return lo, hi


def newcombe_paired_interval(both: int, only_first: int, only_second: int, neither: int,
                             z: float = Z95) -> tuple[float, float]:
    """Interval for p1 - p2 of two proportions measured on the same n items (Newcombe 1998, method 10).

    The 2×2 table: `both` items succeed in measurement 1 and 2, `only_first` in 1 alone,
    `only_second` in 2 alone, `neither` in none; p1 - p2 = (only_first - only_second) / n.

    Example (Fagerland et al., the Cavo 2012 table):
        >>> [round(x, 4) for x in newcombe_paired_interval(59, 6, 16, 80)]
        [-0.1186, -0.0046]
    """
    n = both + only_first + only_second + neither
    if n <= 0:
        raise ValueError("newcombe_paired_interval needs at least one pair")
    first, second = both + only_first, both + only_second
    p1, p2 = first / n, second / n
    l1, u1 = wilson_interval(first, n, z)
    l2, u2 = wilson_interval(second, n, z)
    # Correlation of the two marginal proportions, with Newcombe's continuity correction of its numerator.
    margins = first * (n - first) * second * (n - second)
    cross = both * neither - only_first * only_second
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    elif cross > n / 2:
        phi = (cross - n / 2) / math.sqrt(margins)
    else:
        phi = cross / math.sqrt(margins)
    diff = p1 - p2
    lower = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = diff + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return lower, upper


def paired_difference(before: list[bool], after: list[bool], z: float = Z95) -> Estimate:
    """after - before accuracy on the same problems, with Newcombe's paired interval.

    Example:
        >>> paired_difference([False] * 20, [True] * 10 + [False] * 10).excludes_zero
        True
    """
    if len(before) != len(after):
        raise ValueError(f"paired outcomes differ in length: {len(before)} before, {len(after)} after")
    both = sum(1 for b, a in zip(before, after) if b and a)
    only_after = sum(1 for b, a in zip(before, after) if a and not b)
    only_before = sum(1 for b, a in zip(before, after) if b and not a)
    neither = len(before) - both - only_after - only_before
    lo, hi = newcombe_paired_interval(both, only_after, only_before, neither, z)
    return Estimate((only_after - only_before) / len(before), lo, hi)


@dataclass(frozen=True)
class LanguageOutcomes:
    """Outcomes (0/1, or shares of seeds) per language and evaluation stage, problems aligned across stages.

    outcomes[lang] has shape (stages, problems). `clustered` is True when every language holds the
    same problems (same ids), in the same column order, so a resample can draw whole problems.
    """

    outcomes: dict[str, np.ndarray]
    clustered: bool

    @classmethod
    def from_rows(cls, stages: list[list[dict]], field: str = "correct") -> LanguageOutcomes:
        """Align rows ({id, lang, <field>}) of one or more evaluations of the same problems.

        Rows are matched across stages by (id, lang) (and order of occurrence for repeated ids);
        a problem missing from any stage is left out. Rows without an id are matched by position.
        """
        keyed: list[dict[tuple, float]] = []
        for rows in stages:
            seen: dict[tuple, int] = defaultdict(int)
            table = {}
            for position, row in enumerate(rows):
                ident = row.get("id")
                base = (row["lang"], str(ident) if ident is not None else f"#{position}")
                table[(*base, seen[base])] = float(row[field])
                seen[base] += 1
            keyed.append(table)
        common = set(keyed[0]).intersection(*keyed[1:]) if keyed else set()
        by_lang: dict[str, list[tuple]] = defaultdict(list)
        for key in sorted(common):
            by_lang[key[0]].append(key)
        outcomes = {lang: np.array([[table[k] for k in keys] for table in keyed], dtype=float)
                    for lang, keys in by_lang.items()}
        problem_sets = {tuple(k[1:] for k in keys) for keys in by_lang.values()}
        return cls(outcomes, clustered=len(problem_sets) == 1)

    def pooled(self, groups: list[list[int]]) -> LanguageOutcomes:
        """A table whose stage i is the mean of the stages in groups[i] (e.g. the seeds of one arm).

        Example: stages [seed0, seed1, seed2] -> pooled([[0, 1, 2]]) has one stage, each problem's
        outcome its share of right answers over the seeds.
        """
        return LanguageOutcomes({lang: np.stack([x[group].mean(axis=0) for group in groups])
                                 for lang, x in self.outcomes.items()}, self.clustered)

    @property
    def languages(self) -> list[str]:
        return list(self.outcomes)

    def n(self, lang: str) -> int:
        return self.outcomes[lang].shape[1]

    def bootstrap_means(self, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> dict[str, np.ndarray]:
        """Per language, (stages, n_boot) accuracies of resampled problem sets (same draw for every stage)."""
        rng = np.random.default_rng(seed)
        means = {}
        shared_weights = None
        for lang, x in self.outcomes.items():
            n = x.shape[1]
            if self.clustered:
                if shared_weights is None:
                    shared_weights = rng.multinomial(n, np.full(n, 1 / n), size=n_boot)
                weights = shared_weights
            else:
                weights = rng.multinomial(n, np.full(n, 1 / n), size=n_boot)
            means[lang] = x @ weights.T / n
        return means


def _non_english(table: LanguageOutcomes) -> list[str]:
    return [lang for lang in table.languages if lang != ENGLISH]


def _percentile(replicates: np.ndarray, value: float) -> Estimate:
    lo, hi = np.quantile(replicates, [0.025, 0.975])
    return Estimate(float(value), float(min(lo, value)), float(max(hi, value)))


def _wilson_estimate(table: LanguageOutcomes, langs: list[str], stage: int) -> Estimate:
    """Accuracy of the pooled answers of `langs` with its Wilson interval (seed shares rounded to counts)."""
    correct = round(float(sum(table.outcomes[lang][stage].sum() for lang in langs)))
    n = sum(table.n(lang) for lang in langs)
    return Estimate(correct / n, *wilson_interval(correct, n))


def _pooled_paired(table: LanguageOutcomes, langs: list[str]) -> Estimate:
    """Stage 1 - stage 0 over the pooled problems of `langs`, Newcombe's paired interval."""
    before = [bool(v > 0.5) for lang in langs for v in table.outcomes[lang][0]]
    after = [bool(v > 0.5) for lang in langs for v in table.outcomes[lang][1]]
    return paired_difference(before, after)


def _mover_difference(a: Estimate, b: Estimate) -> Estimate:
    """a - b with the interval recovered from the two intervals (MOVER, Zou & Donner 2008)."""
    d = a.value - b.value
    lo = d - math.sqrt((a.value - a.lo) ** 2 + (b.hi - b.value) ** 2)
    hi = d + math.sqrt((a.hi - a.value) ** 2 + (b.value - b.lo) ** 2)
    return Estimate(d, lo, hi)


def _degenerate(replicates: np.ndarray) -> bool:
    """No resample differs: every outcome the same (or no discordant pair); the bootstrap says nothing."""
    return float(np.ptp(replicates)) == 0.0


# When no resample differs (every answer right, or every answer wrong, or no problem changed) the
# bootstrap collapses to a point and says nothing about the uncertainty; then the score intervals of
# the pooled answers stand in (Wilson, Newcombe paired, combined by MOVER), as for a single language.

def average_accuracy(table: LanguageOutcomes, langs: list[str], stage: int = 0, n_boot: int = N_BOOTSTRAP,
                     seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Mean of the accuracies of `langs`, with a bootstrap interval over problems."""
    langs = [lang for lang in langs if lang in table.outcomes]
    if not langs:
        return None
    value = float(np.mean([table.outcomes[lang][stage].mean() for lang in langs]))
    means = table.bootstrap_means(n_boot, seed)
    replicates = np.mean([means[lang][stage] for lang in langs], axis=0)
    if _degenerate(replicates):
        pooled = _wilson_estimate(table, langs, stage)
        return Estimate(value, min(pooled.lo, value), max(pooled.hi, value))
    return _percentile(replicates, value)


def non_english_average(table: LanguageOutcomes, stage: int = 0, n_boot: int = N_BOOTSTRAP,
                        seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Mean of the non-English languages' accuracies, with a bootstrap interval over problems."""
    return average_accuracy(table, _non_english(table), stage, n_boot, seed)


def _gap(means: dict[str, np.ndarray], langs: list[str], stage: int):
    """English minus the mean over `langs`, for arrays of per-language accuracies (or their replicates)."""
    return means[ENGLISH][stage] - np.mean([means[lang][stage] for lang in langs], axis=0)


def gap_to_english(table: LanguageOutcomes, stage: int = 0, n_boot: int = N_BOOTSTRAP,
                   seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """English accuracy minus the non-English average, with a bootstrap interval over problems."""
    langs = _non_english(table)
    if ENGLISH not in table.outcomes or not langs:
        return None
    observed = {lang: x.mean(axis=1) for lang, x in table.outcomes.items()}
    value = float(_gap(observed, langs, stage))
    replicates = _gap(table.bootstrap_means(n_boot, seed), langs, stage)
    if _degenerate(replicates):
        gap = _mover_difference(_wilson_estimate(table, [ENGLISH], stage), _wilson_estimate(table, langs, stage))
        return Estimate(value, min(gap.lo, value), max(gap.hi, value))
    return _percentile(replicates, value)


def gap_change(table: LanguageOutcomes, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Change (stage 1 - stage 0) of the gap to English, paired bootstrap over problems."""
    langs = _non_english(table)
    if ENGLISH not in table.outcomes or not langs:
        return None
    observed = {lang: x.mean(axis=1) for lang, x in table.outcomes.items()}
    means = table.bootstrap_means(n_boot, seed)
    value = float(_gap(observed, langs, 1) - _gap(observed, langs, 0))
    replicates = _gap(means, langs, 1) - _gap(means, langs, 0)
    if _degenerate(replicates):
        change = _mover_difference(_pooled_paired(table, [ENGLISH]), _pooled_paired(table, langs))
        return Estimate(value, min(change.lo, value), max(change.hi, value))
    return _percentile(replicates, value)


def average_change(table: LanguageOutcomes, langs: list[str], n_boot: int = N_BOOTSTRAP,
                   seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Change (stage 1 - stage 0) of the mean accuracy over `langs`, paired bootstrap over problems."""
    langs = [lang for lang in langs if lang in table.outcomes]
    if not langs:
        return None
    value = float(np.mean([table.outcomes[lang][1].mean() - table.outcomes[lang][0].mean() for lang in langs]))
    means = table.bootstrap_means(n_boot, seed)
    replicates = np.mean([means[lang][1] - means[lang][0] for lang in langs], axis=0)
    if _degenerate(replicates):
        change = _pooled_paired(table, langs)
        return Estimate(value, min(change.lo, value), max(change.hi, value))
    return _percentile(replicates, value)


def paired_changes(before: list[dict], after: list[dict]) -> dict:
    """eval.json's `delta` block: after - before per language and for the non-English average.

    `before`/`after`: scored prediction rows ({id, lang, correct}) of the same problems.

    Example:
        >>> rows = lambda ok: [{"id": str(i), "lang": "de", "correct": i < ok} for i in range(40)]
        >>> paired_changes(rows(4), rows(30))["languages"]["de"]["excludes_0"]
        True
    """
    table = LanguageOutcomes.from_rows([before, after])
    languages = {}
    for lang in sorted(table.languages, key=lambda lang: (lang != ENGLISH, lang)):
        x = table.outcomes[lang] > 0.5
        change = paired_difference(list(x[0]), list(x[1]))
        languages[lang] = {
            "n": table.n(lang),
            "before": float(x[0].mean()),
            "after": float(x[1].mean()),
            "delta": change.value,
            "delta_ci": change.interval(),
            "excludes_0": change.excludes_zero,
            "improved": int((~x[0] & x[1]).sum()),
            "worsened": int((x[0] & ~x[1]).sum()),
        }
    out: dict = {"languages": languages}
    avg = average_change(table, _non_english(table))
    if avg is not None:
        out["non_en_avg"] = {"delta": avg.value, "delta_ci": avg.interval(), "excludes_0": avg.excludes_zero}
    if ENGLISH in table.outcomes and _non_english(table):
        gap = gap_change(table)
        out["gap_to_en"] = {"delta": gap.value, "delta_ci": gap.interval(), "excludes_0": gap.excludes_zero}
    out["method"] = INTERVAL_METHODS["delta_ci"]
    return out
