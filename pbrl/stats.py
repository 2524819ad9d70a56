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
  change): a BCa bootstrap over problems (scipy.stats.bootstrap). pbrl evaluates the same problem in
  every language, and a hard problem is hard in all of them, so per-language accuracies are
  positively correlated; the analytic interval for a mean of *independent* proportions is too narrow.
  Resampling whole problems (all their languages, and both evaluations for a paired difference)
  carries that correlation without a model. Simulated (9 languages sharing problems of varying
  difficulty): the true non-English average was covered by the bootstrap over problems in 92 % of
  400 replications at 60 problems and 95 % of 200 at 200 problems, by the independent-proportions
  interval in 69 % and 76 %; the paired gain's interval covered in 95.5 % and 91.5 %. When the
  languages do not share their problems, each is resampled on its own (stratified). Seeded: eval.json
  reproduces.
  When no resample can differ (every answer wrong, or no problem changed) the bootstrap collapses to
  a point; then the score intervals of the pooled answers stand in (Wilson, Newcombe, MOVER).
  With fewer than MIN_PROBLEMS problems (in any language, when the languages do not share them) a
  bootstrap over problems has nothing to resample: the interval is undefined (lo = hi = None, null
  in eval.json, "–" in tables), never a crash and never a score interval that ignores the problems.
- How many problems and seeds a question needs (`variance_components`, `problems_needed`): the
  two-way random-effects model of per-problem, per-seed outcomes; see `problems_needed`.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, bootstrap

CONFIDENCE = 0.95
N_BOOTSTRAP = 2000
MIN_PROBLEMS = 2  # a bootstrap over problems needs two to resample; scipy raises on one
BOOTSTRAP_SEED = 0
ENGLISH = "en"
INTERVAL_METHODS = {
    "accuracy_ci": "Wilson score 95 %",
    "non_en_avg_ci": f"BCa bootstrap over problems (all languages of a problem together), "
                     f"{N_BOOTSTRAP} resamples, seed {BOOTSTRAP_SEED}",
    "delta_ci": "per language: Newcombe paired square-and-add (method 10); averages: paired bootstrap over problems",
}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval; lo = hi = None when the interval is undefined
    (too few problems to resample)."""

    value: float
    lo: float | None
    hi: float | None

    @property
    def defined(self) -> bool:
        return self.lo is not None and self.hi is not None

    @property
    def excludes_zero(self) -> bool:
        return self.defined and (self.lo > 0 or self.hi < 0)

    def interval(self) -> list[float] | None:
        return [self.lo, self.hi] if self.defined else None


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval for `successes` out of `n` (Wilson 1927), through scipy.

    Example:
        >>> [round(x, 4) for x in wilson_interval(5, 10)]
        [0.2366, 0.7634]
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n, got {successes} of {n}")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    lo = 0.0 if successes == 0 else float(ci.low)
    hi = 1.0 if successes == n else float(ci.high)
    return lo, hi


def newcombe_paired_interval(both: int, only_first: int, only_second: int, neither: int) -> tuple[float, float]:
    """Interval for p1 - p2 of two proportions measured on the same n items (Newcombe 1998, method 10).

    Written here because neither scipy nor the installed stack has it (statsmodels does not either).
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
    l1, u1 = wilson_interval(first, n)
    l2, u2 = wilson_interval(second, n)
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


def paired_difference(before: list[bool], after: list[bool]) -> Estimate:
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
    lo, hi = newcombe_paired_interval(both, only_after, only_before, neither)
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
        if any(not group for group in groups):
            raise ValueError(f"every pooled stage needs at least one stage to average, got groups {groups}")
        return LanguageOutcomes({lang: np.stack([x[group].mean(axis=0) for group in groups])
                                 for lang, x in self.outcomes.items()}, self.clustered)

    @property
    def languages(self) -> list[str]:
        return list(self.outcomes)

    def n(self, lang: str) -> int:
        return self.outcomes[lang].shape[1]


def _too_few_problems(samples: list[np.ndarray], clustered: bool) -> bool:
    """Whether a bootstrap over problems has fewer than MIN_PROBLEMS to draw from (in any stratum)."""
    if clustered:
        return len(samples[0]) < MIN_PROBLEMS
    return any(len(x) < MIN_PROBLEMS for x in samples)


def _linear_bootstrap(samples: list[np.ndarray], weights: list[float], clustered: bool, value: float,
                      n_boot: int, seed: int) -> Estimate | None:
    """Σ weights[j] · mean(samples[j]) with its BCa bootstrap interval; None when no resample can differ.

    clustered: the samples are aligned on the same problems, resampled together (scipy's paired=True);
    otherwise each sample is resampled on its own (stratified).
    """
    if clustered:
        constant = float(np.ptp(sum(w * x for w, x in zip(weights, samples)))) == 0.0
    else:
        constant = all(float(np.ptp(x)) == 0.0 for x in samples)
    if constant:
        return None

    def statistic(*xs, axis=-1):
        return sum(w * x.mean(axis=axis) for w, x in zip(weights, xs))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # BCa on a nearly degenerate sample: NaN, handled below
        ci = bootstrap(samples, statistic, n_resamples=n_boot, paired=clustered, vectorized=True,
                       confidence_level=CONFIDENCE, method="BCa", rng=np.random.default_rng(seed)).confidence_interval
    if not (math.isfinite(ci.low) and math.isfinite(ci.high)):
        return None
    return Estimate(value, min(float(ci.low), value), max(float(ci.high), value))


def _interval_over_problems(samples: list[np.ndarray], weights: list[float], clustered: bool, fallback,
                            n_boot: int, seed: int) -> Estimate:
    """Σ weights[j] · mean(samples[j]) with the bootstrap interval over problems; `fallback()` (a score
    interval of the pooled answers) when no resample can differ; undefined with too few problems."""
    value = float(sum(w * x.mean() for w, x in zip(weights, samples)))
    if _too_few_problems(samples, clustered):
        return Estimate(value, None, None)
    found = _linear_bootstrap(samples, weights, clustered, value, n_boot, seed)
    if found is not None:
        return found
    bound = fallback()
    return Estimate(value, min(bound.lo, value), max(bound.hi, value))


def _non_english(table: LanguageOutcomes) -> list[str]:
    return [lang for lang in table.languages if lang != ENGLISH]


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


def average_accuracy(table: LanguageOutcomes, langs: list[str], stage: int = 0, n_boot: int = N_BOOTSTRAP,
                     seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Mean of the accuracies of `langs`, with a bootstrap interval over problems; None without languages."""
    langs = [lang for lang in langs if lang in table.outcomes]
    if not langs:
        return None
    samples = [table.outcomes[lang][stage] for lang in langs]
    return _interval_over_problems(samples, [1 / len(langs)] * len(langs), table.clustered,
                                   lambda: _wilson_estimate(table, langs, stage), n_boot, seed)


def non_english_average(table: LanguageOutcomes, stage: int = 0, n_boot: int = N_BOOTSTRAP,
                        seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Mean of the non-English languages' accuracies, with a bootstrap interval over problems."""
    return average_accuracy(table, _non_english(table), stage, n_boot, seed)


def _gap_terms(samples_by_lang: dict[str, np.ndarray], langs: list[str]) -> tuple[list[np.ndarray], list[float]]:
    """Samples and weights of English minus the mean over `langs`."""
    samples = [samples_by_lang[ENGLISH]] + [samples_by_lang[lang] for lang in langs]
    return samples, [1.0] + [-1 / len(langs)] * len(langs)


def gap_to_english(table: LanguageOutcomes, stage: int = 0, n_boot: int = N_BOOTSTRAP,
                   seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """English accuracy minus the non-English average, with a bootstrap interval over problems."""
    langs = _non_english(table)
    if ENGLISH not in table.outcomes or not langs:
        return None
    samples, weights = _gap_terms({lang: x[stage] for lang, x in table.outcomes.items()}, langs)
    return _interval_over_problems(
        samples, weights, table.clustered,
        lambda: _mover_difference(_wilson_estimate(table, [ENGLISH], stage), _wilson_estimate(table, langs, stage)),
        n_boot, seed)


def gap_change(table: LanguageOutcomes, n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Change (stage 1 - stage 0) of the gap to English, paired bootstrap over problems."""
    langs = _non_english(table)
    if ENGLISH not in table.outcomes or not langs:
        return None
    samples, weights = _gap_terms({lang: x[1] - x[0] for lang, x in table.outcomes.items()}, langs)
    return _interval_over_problems(
        samples, weights, table.clustered,
        lambda: _mover_difference(_pooled_paired(table, [ENGLISH]), _pooled_paired(table, langs)), n_boot, seed)


def average_change(table: LanguageOutcomes, langs: list[str], n_boot: int = N_BOOTSTRAP,
                   seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Change (stage 1 - stage 0) of the mean accuracy over `langs`, paired bootstrap over problems:
    each problem's after - before difference is resampled, so the pairing is kept."""
    langs = [lang for lang in langs if lang in table.outcomes]
    if not langs:
        return None
    samples = [table.outcomes[lang][1] - table.outcomes[lang][0] for lang in langs]
    return _interval_over_problems(samples, [1 / len(langs)] * len(langs), table.clustered,
                                   lambda: _pooled_paired(table, langs), n_boot, seed)


def _change_entry(change: Estimate) -> dict:
    return {"delta": change.value, "delta_ci": change.interval(), "excludes_0": change.excludes_zero}


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
            **_change_entry(change),
            "improved": int((~x[0] & x[1]).sum()),
            "worsened": int((x[0] & ~x[1]).sum()),
        }
    out: dict = {"languages": languages}
    avg = average_change(table, _non_english(table))
    if avg is not None:
        out["non_en_avg"] = _change_entry(avg)
    gap = gap_change(table)
    if gap is not None:
        out["gap_to_en"] = _change_entry(gap)
    out["method"] = INTERVAL_METHODS["delta_ci"]
    return out


# --- seen vs unseen languages ------------------------------------------------------------------

def seen_unseen_split(train_langs, eval_langs) -> tuple[list[str], list[str]] | None:
    """(seen, unseen): the non-English evaluation languages the run trained on and those it did not,
    when its training languages are a strict, non-empty subset of them; None otherwise.

    Example:
        >>> seen_unseen_split(["de", "sw"], ["en", "de", "fr", "sw", "zh"])
        (['de', 'sw'], ['fr', 'zh'])
    """
    evaluated = sorted({lang for lang in eval_langs if lang != ENGLISH})
    train = {lang for lang in train_langs if lang != ENGLISH}
    if not train or not train < set(evaluated):
        return None
    return [lang for lang in evaluated if lang in train], [lang for lang in evaluated if lang not in train]


def _group_averages(rows: list[dict] | None, groups: dict[str, list[str]]) -> dict:
    if not rows:
        return {}
    table = LanguageOutcomes.from_rows([rows])
    out: dict = {}
    for name, langs in groups.items():
        average = average_accuracy(table, langs)
        if average is not None:
            out[f"{name}_avg"], out[f"{name}_avg_ci"] = average.value, average.interval()
    return out


def group_changes(before: list[dict] | None, after: list[dict] | None, groups: dict[str, list[str]]) -> dict:
    """eval.json's block for named groups of languages (e.g. seen / unseen): each group's average
    accuracy before and after with its bootstrap interval, and the paired change after − before.

    Example:
        >>> rows = lambda ok: [{"id": str(i), "lang": lang, "correct": i < ok} for lang in ("de", "fr") for i in range(20)]
        >>> block = group_changes(rows(2), rows(12), {"seen": ["de"], "unseen": ["fr"]})
        >>> block["after"]["unseen_avg"], block["delta"]["unseen_avg"]["excludes_0"]
        (0.6, True)
    """
    out: dict = {"groups": {name: list(langs) for name, langs in groups.items()},
                 "before": _group_averages(before, groups), "after": _group_averages(after, groups)}
    if before and after:
        table = LanguageOutcomes.from_rows([before, after])
        changes = {name: average_change(table, langs) for name, langs in groups.items()}
        out["delta"] = {f"{name}_avg": _change_entry(change) for name, change in changes.items() if change is not None}
    return out


# --- how many problems and seeds a question needs -----------------------------------------------

def gap_weights(langs: list[str]) -> dict[str, float]:
    """Weights of the gap to English over `langs`: English minus the mean of the other languages."""
    others = [lang for lang in langs if lang != ENGLISH]
    return {ENGLISH: 1.0} | {lang: -1 / len(others) for lang in others}


def per_problem_changes(table: LanguageOutcomes, weights: dict[str, float],
                        pairs: list[tuple[int, int]]) -> np.ndarray | None:
    """problems × len(pairs): for each problem and each (before stage, after stage) pair (one per
    seed), Σ_lang weights[lang] · (after − before). Its mean over problems and seeds is the pooled
    change of the weighted contrast (gap_weights: the change of the gap to English). None unless
    the languages share their problems (per-problem contrasts need every language of a problem)."""
    if not table.clustered or any(lang not in table.outcomes for lang in weights):
        return None
    return np.stack([sum(w * (table.outcomes[lang][a] - table.outcomes[lang][b]) for lang, w in weights.items())
                     for b, a in pairs], axis=1)


@dataclass(frozen=True)
class VarianceComponents:
    """The variances of a per-problem, per-seed quantity d[p, s] = μ + a_p + b_s + e_ps (problem,
    seed and residual terms; units of d squared), estimated from `problems` × `seeds` values."""

    mean: float
    problem: float
    seed: float
    residual: float
    problems: int
    seeds: int

    def standard_error(self, problems: int, seeds: int) -> float:
        """Standard error of the mean of d over `problems` problems and `seeds` seeds (every problem
        evaluated under every seed): sqrt(σ_a²/P + σ_b²/S + σ_e²/(P·S))."""
        return math.sqrt(self.problem / problems + self.seed / seeds + self.residual / (problems * seeds))


def variance_components(d: np.ndarray) -> VarianceComponents | None:
    """ANOVA estimates of the balanced two-way crossed random-effects model without replication
    (Searle, Casella & McCulloch 1992, "Variance Components", the two-way crossed classification):
    with P problems (rows) and S seeds (columns),

        MS_problem = S·Σ_p (d̄_p· − d̄)² / (P − 1)      E = σ_e² + S·σ_a²
        MS_seed    = P·Σ_s (d̄_·s − d̄)² / (S − 1)      E = σ_e² + P·σ_b²
        MS_resid   = Σ (d_ps − d̄_p· − d̄_·s + d̄)² / ((P − 1)(S − 1))   E = σ_e²

    solved for σ_a², σ_b², σ_e², negative estimates set to 0. The seed term σ_b² is the part of the
    spread over seeds that no number of problems averages away. None with fewer than 2 problems or
    2 seeds (nothing to estimate the seed or the problem term from).

    Example:
        >>> vc = variance_components(np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
        >>> round(vc.problem, 4), round(vc.seed, 4), round(vc.residual, 4)
        (0.1667, 0.0, 0.125)
    """
    d = np.asarray(d, dtype=float)
    problems, seeds = d.shape
    if problems < MIN_PROBLEMS or seeds < 2:
        return None
    grand, by_problem, by_seed = d.mean(), d.mean(axis=1), d.mean(axis=0)
    ms_problem = seeds * float(((by_problem - grand) ** 2).sum()) / (problems - 1)
    ms_seed = problems * float(((by_seed - grand) ** 2).sum()) / (seeds - 1)
    residuals = d - by_problem[:, None] - by_seed[None, :] + grand
    ms_residual = float((residuals ** 2).sum()) / ((problems - 1) * (seeds - 1))
    return VarianceComponents(float(grand), max(0.0, (ms_problem - ms_residual) / seeds),
                              max(0.0, (ms_seed - ms_residual) / problems), ms_residual, problems, seeds)


def problems_needed(components: VarianceComponents, effect: float, seeds: int, alpha: float = 1 - CONFIDENCE,
                    power: float = 0.8) -> int | None:
    """Fewest problems per language with which `seeds` seeds detect a true change of size `effect`
    with probability `power` at two-sided level `alpha`; None when no number of problems can (the
    seed term alone is too large: more seeds are needed).

    Normal approximation of the sample size for a mean (Chow, Shao & Wang 2008, "Sample Size
    Calculations in Clinical Research", §3.1): the estimate's standard error must be at most

        target = |effect| / (z_{1−α/2} + z_{power}),

    and under the two-way model (`VarianceComponents.standard_error`)
    SE² = σ_a²/P + σ_b²/S + σ_e²/(P·S), so P = ceil((σ_a² + σ_e²/S) / (target² − σ_b²/S)).
    power = 0.5 is the half-width criterion (a 95 % interval no wider than ± effect): then a true
    change of exactly `effect` gives an interval that excludes 0 only half the time, which is why
    pbrl plans with 0.8.

    Example:
        >>> vc = VarianceComponents(0.0, problem=0.01, seed=0.0, residual=0.0, problems=32, seeds=3)
        >>> problems_needed(vc, effect=0.03, seeds=3)      # ceil(0.01 · (1.960 + 0.842)² / 0.03²)
        88
    """
    from scipy.stats import norm

    if not (0 < alpha < 1 and 0 < power < 1 and seeds >= 1 and effect != 0):
        raise ValueError(f"problems_needed needs 0 < alpha, power < 1, seeds >= 1 and effect != 0; "
                         f"got alpha={alpha}, power={power}, seeds={seeds}, effect={effect}")
    target = abs(effect) / (norm.ppf(1 - alpha / 2) + norm.ppf(power))
    room = target ** 2 - components.seed / seeds
    if room <= 0:
        return None
    return max(MIN_PROBLEMS, math.ceil((components.problem + components.residual / seeds) / room))
