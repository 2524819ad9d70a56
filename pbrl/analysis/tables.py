"""Per-language tables across the runs of a sweep, as DataFrames and as Markdown / LaTeX / CSV files.

Values are percentages. "avg (non-en)" averages the run's non-English languages; "gap to en" is
English minus that average (smaller is better); "Δ vs <baseline>" is the non-English average minus the
baseline run's, and the delta table gives the same difference per language.

`comparison_table` puts one row per arm (runs that differ only in `seed=`), seeds averaged: per-language
accuracy, the non-English average with its 95 % interval and its sd over seeds, the gap to English,
fidelity, the share of answers in English and of copies of the English reference, the change through
training of the average and of the gap, and the difference to a baseline arm, each with a paired 95 %
interval. Intervals are a bootstrap over problems of the seed-averaged outcomes (pbrl.stats), read
from the runs' eval_<stage>.json predictions; columns "<name> lo" / "<name> hi" hold them and print as
"[lo–hi]", or "[–]" where undefined (fewer than 2 problems, or no predictions kept). They treat the
seeds run as fixed: the spread of the seeds themselves enters `gap_power_table`, not the intervals.

`seen_unseen_table` splits the non-English average into the languages an arm trained on and the
others; `gap_power_table` plans the problems × seeds that would resolve a change of the gap to
English; `seeds_table` shows each seed of an arm with what tells a seed that gains from one that does not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pbrl.analysis.collect import LAUNCH_ONLY_KEYS, Run, labels
from pbrl.stats import (
    ENGLISH,
    LanguageOutcomes,
    average_accuracy,
    average_change,
    gap_change,
    gap_to_english,
    gap_weights,
    per_problem_changes,
    problems_needed,
    seen_unseen_split,
    variance_components,
)

AVG = "avg (non-en)"
GAP = "gap to en"
SEEDS = "seeds"
AVG_SD = "sd over seeds"
FIDELITY = "fidelity (non-en)"
ENGLISH_SHARE = "English share"
COPY_SHARE = "copy share"
TRAINING_DELTA = "Δ after − before"
GAP_DELTA = "Δ gap after − before"
UNTRAINED = "no training (before)"
TRAINED_ON = "trained on"
SEEN_AVG, SEEN_DELTA = "seen avg", "Δ seen after − before"
UNSEEN_AVG, UNSEEN_DELTA = "unseen avg", "Δ unseen after − before"
LOWER_IS_BETTER = {GAP, ENGLISH_SHARE, COPY_SHARE}
NOT_RANKED = {SEEDS, AVG_SD, TRAINED_ON}
SEED_OVERRIDE = "seed="
GAP_EFFECT = 0.03     # the narrowing of the gap to English the study is sized to detect (issue 22: 3 points)
PLAN_POWER = 0.8      # chance that a true GAP_EFFECT gives an interval excluding 0 (see pbrl.stats.problems_needed)
PLAN_SEEDS = (3, 5, 10)


def language_order(runs: list[Run]) -> list[str]:
    """English first, then the other languages in the order the runs list them."""
    seen: list[str] = []
    for run in runs:
        for lang in run.languages():
            if lang not in seen:
                seen.append(lang)
    return sorted(seen, key=lambda lang: lang != "en")


def metric_frame(runs: list[Run], metric: str, stage: str = "after") -> pd.DataFrame:
    """Runs × languages, in percent; NaN where a run did not evaluate a language."""
    names = labels(runs)
    langs = language_order(runs)
    rows = {names[run.name]: [100 * run.value(lang, stage, metric) for lang in langs] for run in runs}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=langs)
    frame.index.name = "run"
    return frame


def _non_en_average(frame: pd.DataFrame) -> pd.Series:
    others = [c for c in frame.columns if c != "en"]
    return frame[others].mean(axis=1, skipna=True) if others else pd.Series(math.nan, index=frame.index)


def baseline_label(runs: list[Run], baseline: str) -> str:
    """The label of the run named `baseline` (its label, run folder name, or run directory path)."""
    names = labels(runs)
    for run in runs:
        if baseline in (names[run.name], run.name, run.source) or Path(run.source).name == baseline:
            return names[run.name]
    choices = ", ".join(sorted(names.values()))
    raise ValueError(f"unknown baseline run '{baseline}'; choose from: {choices}")


def accuracy_table(runs: list[Run], stage: str = "after", baseline: str | None = None) -> pd.DataFrame:
    frame = metric_frame(runs, "accuracy", stage)
    frame[AVG] = _non_en_average(frame)
    frame[GAP] = frame["en"] - frame[AVG] if "en" in frame.columns else math.nan
    if baseline is not None:
        label = baseline_label(runs, baseline)
        frame[f"Δ vs {label}"] = frame[AVG] - frame.loc[label, AVG]
    return frame


def delta_table(runs: list[Run], baseline: str, stage: str = "after") -> pd.DataFrame:
    """Per-language accuracy minus the baseline run's, in percentage points."""
    frame = metric_frame(runs, "accuracy", stage)
    frame[AVG] = _non_en_average(frame)
    label = baseline_label(runs, baseline)
    return frame - frame.loc[label]


def fidelity_table(runs: list[Run], stage: str = "after") -> pd.DataFrame:
    """Language fidelity: share of each response written in the question's language."""
    frame = metric_frame(runs, "fidelity", stage)
    frame[AVG] = _non_en_average(frame)
    return frame


def _cell(value: float, signed: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _signed_columns(frame: pd.DataFrame, all_signed: bool) -> set[str]:
    return set(frame.columns) if all_signed else {c for c in frame.columns if c == GAP or str(c).startswith("Δ")}


def _interval_columns(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """{column: (its "lo" column, its "hi" column)} for the columns that carry an interval."""
    return {c: (f"{c} lo", f"{c} hi") for c in frame.columns
            if f"{c} lo" in frame.columns and f"{c} hi" in frame.columns}


def _shown_columns(frame: pd.DataFrame) -> list[str]:
    hidden = {col for pair in _interval_columns(frame).values() for col in pair}
    return [c for c in frame.columns if c not in hidden]


def _format(row: pd.Series, col: str, signed: bool, intervals: dict) -> str:
    """A cell: the value, and for interval columns "[lo–hi]" ("[lo, hi]" when signed), or "[–]"
    where the interval is undefined (too few problems, or no predictions kept)."""
    if isinstance(row[col], str):
        return row[col]
    if col == SEEDS:
        return "–" if math.isnan(row[col]) else str(int(row[col]))
    text = _cell(row[col], signed)
    if col in intervals and text != "–":
        lo, hi = (row[c] for c in intervals[col])
        if math.isnan(lo) or math.isnan(hi):
            return text + " [–]"
        sep = ", " if signed else "–"
        text += f" [{_cell(lo, signed)}{sep}{_cell(hi, signed)}]"
    return text


def to_markdown(frame: pd.DataFrame, signed: bool = False) -> str:
    signed_cols = _signed_columns(frame, signed)
    intervals = _interval_columns(frame)
    columns = _shown_columns(frame)
    header = [frame.index.name or ""] + [str(c) for c in columns]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(columns) + "|"]
    for label, row in frame.iterrows():
        cells = [_format(row, c, c in signed_cols, intervals) for c in columns]
        lines.append("| " + " | ".join([str(label), *cells]) + " |")
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                          ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("Δ", r"$\Delta$")):
        text = text.replace(char, escaped)
    return text


def to_latex(frame: pd.DataFrame, caption: str, signed: bool = False, bold_best: bool = True) -> str:
    """A booktabs table; the best value of each language column in bold (largest, or smallest gap)."""
    signed_cols = _signed_columns(frame, signed)
    intervals = _interval_columns(frame)
    columns = _shown_columns(frame)
    best = {}
    if bold_best and len(frame) > 1 and not signed:
        for col in columns:
            values = frame[col].dropna()
            if (not values.empty and pd.api.types.is_numeric_dtype(values) and not str(col).startswith("Δ")
                    and col not in NOT_RANKED):
                best[col] = values.min() if col in LOWER_IS_BETTER else values.max()
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_latex_escape(caption)}}}",
        r"\begin{tabular}{l" + "r" * len(columns) + "}",
        r"\toprule",
        " & ".join([_latex_escape(frame.index.name or "")] + [_latex_escape(str(c)) for c in columns]) + r" \\",
        r"\midrule",
    ]
    for label, row in frame.iterrows():
        cells = []
        for col in columns:
            text = _latex_escape(_format(row, col, col in signed_cols, intervals)).replace("–", "--")
            if col in best and not math.isnan(row[col]) and math.isclose(row[col], best[col]):
                text = rf"\textbf{{{text}}}"
            cells.append(text)
        lines.append(" & ".join([_latex_escape(str(label)), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, stem: Path, caption: str, signed: bool = False) -> list[Path]:
    """Write `<stem>.md`, `<stem>.tex` and `<stem>.csv`; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".md"), stem.with_suffix(".tex"), stem.with_suffix(".csv")]
    paths[0].write_text(f"**{caption}**\n\n" + to_markdown(frame, signed), encoding="utf-8")
    paths[1].write_text(to_latex(frame, caption, signed), encoding="utf-8")
    frame.round(4).to_csv(paths[2])
    return paths


@dataclass
class Arm:
    """Runs that differ only in their seed: one row of the comparison."""

    label: str
    runs: list[Run]


def _arm_overrides(run: Run) -> list[str]:
    return [o for o in run.overrides
            if not o.lstrip("+~").startswith(LAUNCH_ONLY_KEYS) and not o.lstrip("+~").startswith(SEED_OVERRIDE)]


def arms(runs: list[Run]) -> list[Arm]:
    """Group runs by their overrides without `seed=`; labelled by what tells the arms apart, in run order."""
    kept = {run.name: _arm_overrides(run) for run in runs}
    shared = set.intersection(*(set(v) for v in kept.values())) if runs else set()
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        distinct = [o for o in kept[run.name] if o not in shared]
        label = ",".join(distinct or kept[run.name]) or run.name
        grouped.setdefault(label, []).append(run)
    return [Arm(label, members) for label, members in grouped.items()]


def find_arm(groups: list[Arm], baseline: str | None) -> Arm | None:
    """The arm `baseline` names (its label, or one of its runs' name, folder or path); None for no baseline."""
    if baseline is None:
        return None
    found = next((arm for arm in groups if arm.label == baseline
                  or any(baseline in (run.name, run.source, Path(run.source).name) for run in arm.runs)), None)
    if found is None:
        raise ValueError(f"unknown baseline arm '{baseline}'; choose from: "
                         + ", ".join(sorted(arm.label for arm in groups)))
    return found


def stage_predictions(run: Run, stage: str) -> list[dict] | None:
    """The scored predictions ({id, lang, correct}) of `eval_<stage>.json` in the run directory, if kept."""
    path = Path(run.source) / f"eval_{stage}.json"
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        predictions = json.load(f).get("predictions")
    return [{"id": p.get("id"), "lang": p["lang"], "correct": bool(p["correct"])} for p in predictions or []] or None


def _outcomes(groups: list[list[Run]], stage_of_group: list[str]) -> LanguageOutcomes | None:
    """Problems aligned over every run of every group; stage i = mean over the runs (seeds) of groups[i]."""
    stages, index = [], []
    for runs, stage in zip(groups, stage_of_group):
        members = []
        for run in runs:
            predictions = stage_predictions(run, stage)
            if predictions is None:
                return None
            members.append(len(stages))
            stages.append(predictions)
        index.append(members)
    table = LanguageOutcomes.from_rows(stages)
    return table.pooled(index) if table.languages else None


def _mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def _non_en_mean(run: Run, stage: str, metric: str) -> float:
    return _mean([run.value(lang, stage, metric) for lang in run.languages() if lang != ENGLISH])


def _stored_interval(run: Run, stage: str, key: str) -> tuple[float, float]:
    ci = ((run.eval.get("aggregate") or {}).get(stage) or {}).get(f"{key}_ci")
    return (ci[0], ci[1]) if isinstance(ci, list) and len(ci) == 2 else (math.nan, math.nan)


def _put(row: dict, column: str, estimate, scale: float = 100.0) -> None:
    """The estimate and its interval bounds in `column`, "<column> lo", "<column> hi" (NaN: undefined)."""
    if estimate is None:
        row.update({column: math.nan, f"{column} lo": math.nan, f"{column} hi": math.nan})
    elif not estimate.defined:
        row.update({column: scale * estimate.value, f"{column} lo": math.nan, f"{column} hi": math.nan})
    else:
        row.update({column: scale * estimate.value, f"{column} lo": scale * estimate.lo,
                    f"{column} hi": scale * estimate.hi})


def comparison_table(runs: list[Run], stage: str = "after", baseline: str | None = None) -> pd.DataFrame:
    """One row per arm, seeds averaged, in percent; see the module docstring for the columns."""
    groups = arms([run for run in runs if run.languages()])
    langs = language_order([run for arm in groups for run in arm.runs])
    non_en = [lang for lang in langs if lang != ENGLISH]
    base_arm = find_arm(groups, baseline)
    rows = {}
    for arm in groups:
        row: dict = {SEEDS: len(arm.runs)}
        for lang in langs:
            row[lang] = 100 * _mean([run.value(lang, stage, "accuracy") for run in arm.runs])
        table = _outcomes([arm.runs], [stage])
        seed_avgs = [_mean([run.value(lang, stage, "accuracy") for lang in non_en]) for run in arm.runs]
        if table is not None:
            _put(row, AVG, average_accuracy(table, non_en))
            _put(row, GAP, gap_to_english(table))
        else:  # no predictions kept: one seed's stored intervals, or none
            row[AVG] = 100 * _mean(seed_avgs)
            row[GAP] = row.get(ENGLISH, math.nan) - row[AVG]
            for key, column in (("non_en_avg", AVG), ("gap_to_en", GAP)):
                lo, hi = _stored_interval(arm.runs[0], stage, key) if len(arm.runs) == 1 else (math.nan, math.nan)
                row[f"{column} lo"], row[f"{column} hi"] = 100 * lo, 100 * hi
        row[AVG_SD] = 100 * float(np.std(seed_avgs, ddof=1)) if len(seed_avgs) > 1 else math.nan
        row[FIDELITY] = 100 * _mean([_non_en_mean(run, stage, "fidelity") for run in arm.runs])
        row[ENGLISH_SHARE] = 100 * _mean([_non_en_mean(run, stage, "english_share") for run in arm.runs])
        row[COPY_SHARE] = 100 * _mean([_non_en_mean(run, stage, "copy_share") for run in arm.runs])
        if stage == "after":
            paired = _outcomes([arm.runs, arm.runs], ["before", "after"])
            _put(row, TRAINING_DELTA, average_change(paired, non_en) if paired is not None else None)
            _put(row, GAP_DELTA, gap_change(paired) if paired is not None else None)
        if base_arm is arm:  # an arm minus itself: 0 on every resample
            column = f"Δ vs {arm.label}"
            row.update({column: 0.0, f"{column} lo": 0.0, f"{column} hi": 0.0})
        elif base_arm is not None:
            paired = _outcomes([base_arm.runs, arm.runs], [stage, stage])
            _put(row, f"Δ vs {base_arm.label}", average_change(paired, non_en) if paired is not None else None)
        rows[arm.label] = row
    columns = list(next(iter(rows.values()), {}))
    first = groups[0].runs[:1] if groups else []
    if stage == "after" and first and not all(math.isnan(first[0].value(lang, "before", "accuracy")) for lang in langs):
        rows = {UNTRAINED: _untrained_row(first, langs, non_en)} | rows
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    frame.index.name = "arm"
    return frame


def _untrained_row(runs: list[Run], langs: list[str], non_en: list[str]) -> dict:
    """The "no training" arm: the evaluation before training, the same policy and problems in every arm
    (pbrl caches the untrained policy's greedy answers, so every run holds the same ones)."""
    row: dict = {SEEDS: 1}
    for lang in langs:
        row[lang] = 100 * _mean([run.value(lang, "before", "accuracy") for run in runs])
    table = _outcomes([runs], ["before"])
    _put(row, AVG, average_accuracy(table, non_en) if table is not None else None)
    _put(row, GAP, gap_to_english(table) if table is not None else None)
    row[FIDELITY] = 100 * _mean([_non_en_mean(run, "before", "fidelity") for run in runs])
    row[ENGLISH_SHARE] = 100 * _mean([_non_en_mean(run, "before", "english_share") for run in runs])
    row[COPY_SHARE] = 100 * _mean([_non_en_mean(run, "before", "copy_share") for run in runs])
    return row


def language_intervals(runs: list[Run], stage: str = "after") -> dict[str, dict[str, tuple[float, float]]]:
    """{arm: {lang: (lo, hi)}} in percent: one seed's Wilson interval as stored in eval.json, or for
    several seeds the bootstrap over problems of the seed-averaged outcomes."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for arm in arms([run for run in runs if run.languages()]):
        found: dict[str, tuple[float, float]] = {}
        table = _outcomes([arm.runs], [stage]) if len(arm.runs) > 1 else None
        for lang in arm.runs[0].languages():
            if table is not None and lang in table.outcomes:
                estimate = average_accuracy(table, [lang])
                if estimate.defined:  # one problem: no error bar
                    found[lang] = (100 * estimate.lo, 100 * estimate.hi)
            elif len(arm.runs) == 1:
                ci = (arm.runs[0].eval["languages"][lang].get(stage) or {}).get("accuracy_ci")
                if isinstance(ci, list) and len(ci) == 2:
                    found[lang] = (100 * ci[0], 100 * ci[1])
        out[arm.label] = found
    return out


# --- seen vs unseen languages ----------------------------------------------------------------------

def _split_of(arm: Arm, langs: list[str]) -> tuple[list[str], list[str]] | None:
    train = arm.runs[0].train_languages()
    return seen_unseen_split(train, langs) if train is not None else None


def _trained_on(arm: Arm, non_en: list[str]) -> str:
    train = arm.runs[0].train_languages()
    if train is None:
        return "–"
    return "all" if set(non_en) <= set(train) else " ".join(lang for lang in non_en if lang in train)


def _group_row(arm: Arm, groups: dict[str, tuple[str, str, list[str]]], base_arm: Arm | None) -> dict:
    """One arm's seed-pooled averages over each group of languages after training, their paired
    changes through training and, with a baseline arm, against its after-training outcomes."""
    paired = _outcomes([arm.runs, arm.runs], ["before", "after"])
    versus = _outcomes([base_arm.runs, arm.runs], ["after", "after"]) if base_arm not in (None, arm) else None
    row: dict = {}
    for name, (avg_column, delta_column, langs) in groups.items():
        _put(row, avg_column, average_accuracy(paired, langs, stage=1) if paired is not None else None)
        _put(row, delta_column, average_change(paired, langs) if paired is not None else None)
        if base_arm is not None:
            column = f"Δ {name} vs {base_arm.label}"
            if base_arm is arm:
                row.update({column: 0.0, f"{column} lo": 0.0, f"{column} hi": 0.0})
            else:
                _put(row, column, average_change(versus, langs) if versus is not None else None)
    return row


def seen_unseen_table(runs: list[Run], baseline: str | None = None) -> pd.DataFrame | None:
    """After training, one row per arm (and the untrained policy): the non-English average over the
    languages some arm trained on (seen) and over the rest (unseen), each with its paired change
    through training and, with a baseline arm, the paired difference to it; seeds pooled as in
    `comparison_table`. Every arm is split the same way, so an arm trained on all languages shows
    how far the unseen ones move when they are trained on. None unless an arm's `langs.train` is a
    strict subset of its non-English evaluation languages; with several such subsets, rows per subset."""
    groups = arms([run for run in runs if run.languages()])
    langs = language_order([run for arm in groups for run in arm.runs])
    non_en = [lang for lang in langs if lang != ENGLISH]
    splits = list(dict.fromkeys(tuple(map(tuple, split)) for arm in groups
                                if (split := _split_of(arm, langs)) is not None))
    if not splits:
        return None
    base_arm = find_arm(groups, baseline)
    rows: dict = {}
    for seen, unseen in splits:
        named = {"seen": (SEEN_AVG, SEEN_DELTA, list(seen)), "unseen": (UNSEEN_AVG, UNSEEN_DELTA, list(unseen))}
        suffix = "" if len(splits) == 1 else f" [seen: {' '.join(seen)}]"
        first = groups[0].runs[:1]
        untrained = _outcomes([first], ["before"])
        row = {SEEDS: 1, TRAINED_ON: "none"}
        for avg_column, _, group in named.values():
            _put(row, avg_column, average_accuracy(untrained, group) if untrained is not None else None)
        rows[UNTRAINED + suffix] = row
        for arm in groups:
            rows[arm.label + suffix] = ({SEEDS: len(arm.runs), TRAINED_ON: _trained_on(arm, non_en)}
                                        | _group_row(arm, named, base_arm))
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame.reindex(columns=list(rows[next(r for r in rows if not r.startswith(UNTRAINED))]))
    frame.index.name = "arm"
    return frame


# --- the gap to English: what a study needs to resolve its change ---------------------------------

def _seed_outcomes(runs: list[Run]) -> tuple[LanguageOutcomes, list[tuple[int, int]]] | None:
    """The runs' before and after outcomes as stages [before₀, after₀, before₁, after₁, …], unpooled."""
    table = _outcomes([[run] for run in runs for _ in range(2)], ["before", "after"] * len(runs))
    return (table, [(2 * i, 2 * i + 1) for i in range(len(runs))]) if table is not None else None


def gap_power_table(runs: list[Run], effect: float = GAP_EFFECT, plan_seeds: tuple[int, ...] = PLAN_SEEDS,
                    power: float = PLAN_POWER) -> pd.DataFrame | None:
    """Per arm of ≥ 2 seeds: the measured change of the gap to English, the variance components of
    its per-problem, per-seed values (pbrl.stats.variance_components; sd in points) and the problems
    per language that `plan_seeds` seeds need to detect a change of `effect` with `power` at two-sided
    5 % (pbrl.stats.problems_needed; "–": more seeds needed). None when no arm qualifies."""
    rows = {}
    for arm in arms([run for run in runs if run.languages()]):
        found = _seed_outcomes(arm.runs) if len(arm.runs) > 1 else None
        if found is None:
            continue
        table, pairs = found
        d = per_problem_changes(table, gap_weights(table.languages), pairs)
        components = variance_components(d) if d is not None else None
        if components is None or components.problem + components.seed + components.residual == 0:
            continue  # too few problems or seeds, or nothing varied: no variance to plan from
        row: dict = {SEEDS: components.seeds, "problems per language": str(components.problems)}
        _put(row, GAP_DELTA, gap_change(table.pooled([[b for b, _ in pairs], [a for _, a in pairs]])))
        row |= {"sd problem": 100 * components.problem ** 0.5, "sd seed": 100 * components.seed ** 0.5,
                "sd residual": 100 * components.residual ** 0.5}
        for seeds in plan_seeds:
            needed = problems_needed(components, effect, seeds, power=power)
            row[f"problems for {seeds} seeds"] = "–" if needed is None else str(needed)
        rows[arm.label] = row
    if not rows:
        return None
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "arm"
    return frame


# --- seed by seed ------------------------------------------------------------------------------------

def _thirds(metrics: list[dict], key: str) -> tuple[float, float]:
    """Mean of `key` over the first and over the last third of the logged steps (NaN if absent)."""
    values = [row[key] for row in metrics if isinstance(row.get(key), (int, float))]
    if not values:
        return math.nan, math.nan
    third = max(1, math.ceil(len(values) / 3))
    return float(np.mean(values[:third])), float(np.mean(values[-third:]))


def _trend(metrics: list[dict], key: str) -> str:
    first, last = _thirds(metrics, key)
    return "–" if math.isnan(first) else f"{first:.2f} → {last:.2f}"


def _seed_row(run: Run) -> dict:
    """One run's own paired non-English and gap changes, training trends, clipped share, fidelity, English share."""
    row: dict = {}
    paired = _outcomes([[run], [run]], ["before", "after"])
    non_en = [lang for lang in run.languages() if lang != ENGLISH]
    _put(row, TRAINING_DELTA, average_change(paired, non_en) if paired is not None else None)
    _put(row, GAP_DELTA, gap_change(paired) if paired is not None else None)
    row["reward (first → last third)"] = _trend(run.metrics, "reward/mean")
    row["accuracy term"] = _trend(run.metrics, "rewards/accuracy/mean")
    clipped = [m["completions/clipped_ratio"] for m in run.metrics
               if isinstance(m.get("completions/clipped_ratio"), (int, float))]
    row["clipped share"] = 100 * float(np.mean(clipped)) if clipped else math.nan
    row[FIDELITY] = 100 * _non_en_mean(run, "after", "fidelity")
    row[ENGLISH_SHARE] = 100 * _non_en_mean(run, "after", "english_share")
    return row


def _seed_of(run: Run):
    return run.config.get("seed", run.summary.get("seed", "?"))


def seed_rows(runs: list[Run]) -> dict[str, dict[str, dict]]:
    """{arm label: {"seed=N": `_seed_row`}} for the arms with several seeds, seeds in order."""
    found = {}
    for arm in arms([run for run in runs if run.languages()]):
        if len(arm.runs) > 1:
            ordered = sorted(arm.runs, key=lambda run: (not isinstance(_seed_of(run), int), str(_seed_of(run)).zfill(9)))
            found[arm.label] = {f"seed={_seed_of(run)}": _seed_row(run) for run in ordered}
    return found


def seeds_table(by_arm: dict[str, dict[str, dict]]) -> pd.DataFrame | None:
    """`seed_rows` as one table, one row per seed (labelled by arm when there are several): what tells
    a seed that gains from one that does not. None without an arm of several seeds."""
    if not by_arm:
        return None
    rows = {(seed if len(by_arm) == 1 else f"{label} {seed}"): row
            for label, seeds in by_arm.items() for seed, row in seeds.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "run" if len(by_arm) > 1 else f"seed ({next(iter(by_arm))})"
    return frame


def seed_summary(by_arm: dict[str, dict[str, dict]]) -> list[str]:
    """Per arm of `seed_rows`: how many seeds gained (Δ > 0, and with an interval above 0), the sd and range."""
    lines = []
    for label, seeds in by_arm.items():
        deltas = [row[TRAINING_DELTA] for row in seeds.values() if not math.isnan(row[TRAINING_DELTA])]
        above = sum(row[f"{TRAINING_DELTA} lo"] > 0 for row in seeds.values())
        spread = (f"sd {np.std(deltas, ddof=1):.1f} points, range {min(deltas):+.1f} to {max(deltas):+.1f}"
                  if len(deltas) > 1 else "sd –")
        lines.append(f"{label}: non-English gain in {sum(d > 0 for d in deltas)} of {len(seeds)} seeds "
                     f"({above} with an interval above 0); {spread}")
    return lines
