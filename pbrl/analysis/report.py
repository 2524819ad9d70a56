"""Tables and plots for one sweep; the command is `python -m pbrl.analysis.report` (`pbrl/cli/analysis_report.py`).

SOURCE is a sweep directory (runs/<name>, whose sub-folders are run directories), a single run
directory, or a W&B group (with project=/entity= or WANDB_PROJECT/WANDB_ENTITY).

Examples:
    python -m pbrl.analysis.report runs/reward_ablation baseline=reward=accuracy
    python -m pbrl.analysis.report reward_ablation project=pbrl entity=my-team wandb_report=true

Writes into out= (default: SOURCE/analysis, or ./analysis-<group> for W&B):
    comparison.{md,tex,csv}   one row per arm (seeds averaged): accuracy per language, non-English average
                              with its 95 % interval and sd over seeds, gap to English, fidelity, English
                              share, copy share, Δ through training of the average and of the gap, and
                              Δ vs baseline (paired intervals)
    seen_unseen.{md,tex,csv}  when an arm trained on a strict subset of its languages (langs.train): the
                              average over the seen and over the unseen languages, their Δ through
                              training and vs baseline (paired intervals, seeds pooled)
    gap_power.{md,tex,csv}    when no arm's Δ of the gap to English excludes 0: its variance components
                              and the problems per language × seeds that would detect a 3-point change
    seeds.{md,tex,csv}        arms of several seeds, one row per seed: Δ, Δ gap, reward and accuracy
                              term (first → last third of the steps), clipped share, fidelity, English share
    comparison.png            per-language and average accuracy per arm with 95 % error bars
    accuracy.{md,tex,csv}     per-language accuracy, non-English average, gap to English, Δ vs baseline
    delta_vs_baseline.{md,tex,csv}   per-language accuracy difference to the baseline (with baseline=)
    fidelity.{md,tex,csv}     per-language language fidelity
    accuracy_by_language.png  fidelity_by_language.png  reward_curves.png
    report.md                 the tables and figures on one page
"""

from __future__ import annotations

import sys
from pathlib import Path

from pbrl.analysis.collect import Run, harness_metrics, labels, load_sweep, load_wandb_group
from pbrl.analysis.plots import plot_comparison, plot_language_bars, plot_reward_curves, reward_components
from pbrl.analysis.tables import (
    AVG,
    GAP_DELTA,
    GAP_EFFECT,
    PLAN_POWER,
    accuracy_table,
    arms,
    baseline_label,
    comparison_table,
    delta_table,
    fidelity_table,
    gap_power_table,
    language_intervals,
    language_order,
    metric_frame,
    seed_rows,
    seed_summary,
    seeds_table,
    seen_unseen_table,
    to_markdown,
    write_table,
)

# Tables printed after the run, in this order, when written.
PRINTED = ("comparison", "seen_unseen", "gap_power", "seeds", "accuracy")
SEEN_UNSEEN_CAPTION = ("Seen vs unseen languages after training: non-English average (%) over the languages an arm "
                       "trained on (langs.train) and over the others, seeds pooled; 95 % intervals: bootstrap over "
                       "problems (paired for Δ)")
GAP_POWER_CAPTION = (f"No arm's change of the gap to English excludes 0. Problems per language (each asked in every "
                     f"language) that would detect a {100 * GAP_EFFECT:.0f}-point change with {100 * PLAN_POWER:.0f} % "
                     "power (two-sided 5 %), from the measured variance components (sd in points; – : no number of "
                     "problems suffices, more seeds needed)")
SEEDS_CAPTION = ("Seed by seed (pp; reward and accuracy term: training means, first → last third of the steps; "
                 "clipped share: % of training completions)")


def load_runs(source: str, project: str | None, entity: str | None) -> tuple[list[Run], Path]:
    """Runs and the default output folder for a sweep directory or a W&B group."""
    path = Path(source)
    if path.exists():
        return load_sweep(path), path / "analysis"
    if not project:
        raise ValueError(f"'{source}' is no directory, and no project= (or WANDB_PROJECT) names a W&B project "
                         "for it as a group; pass a sweep directory such as runs/<name>")
    return load_wandb_group(source, project, entity), Path(f"analysis-{source}")


def write_analysis(runs: list[Run], out: Path, stage: str = "after", baseline: str | None = None) -> list[Path]:
    """All tables and figures for `runs` into `out`; returns the written paths."""
    evaluated = [run for run in runs if run.languages()]
    if not evaluated:
        raise ValueError(f"none of the {len(runs)} runs has evaluation results (eval.json); wait for them to finish")
    baseline_arm = _arm_of(evaluated, baseline) if baseline is not None else None  # fails before writing
    if baseline is not None and baseline == baseline_arm and baseline not in labels(evaluated).values():
        baseline = None  # an arm of several seeds: the per-run tables have no single baseline run
    out = Path(out)
    written: list[Path] = []
    sections = []

    comparison = comparison_table(evaluated, stage, baseline_arm)
    caption = (f"Comparison, {stage} training: accuracy (%) per arm, seeds averaged; "
               "95 % intervals: bootstrap over problems (paired for Δ; [–]: undefined)")
    written += write_table(comparison, out / "comparison", caption)
    sections.append(f"## {caption}\n\n{to_markdown(comparison)}")
    if stage == "after":
        for stem, caption, frame, notes in _claim_tables(evaluated, comparison, baseline_arm):
            paths = write_table(frame, out / stem, caption)
            if notes:
                with open(paths[0], "a", encoding="utf-8") as f:
                    f.write("\n" + "\n".join(notes) + "\n")
            written += paths
            sections.append(f"## {caption}\n\n{to_markdown(frame)}" + ("\n" + "\n".join(notes) + "\n" if notes else ""))

    accuracy = accuracy_table(evaluated, stage, baseline)
    caption = f"Accuracy (%) per language, {stage} training"
    written += write_table(accuracy, out / "accuracy", caption)
    sections.append(f"## {caption}\n\n{to_markdown(accuracy)}")
    if baseline is not None:
        delta = delta_table(evaluated, baseline, stage)
        caption = f"Accuracy difference to {baseline_label(evaluated, baseline)} (percentage points)"
        written += write_table(delta, out / "delta_vs_baseline", caption, signed=True)
        sections.append(f"## {caption}\n\n{to_markdown(delta, signed=True)}")
    fidelity = fidelity_table(evaluated, stage)
    caption = f"Language fidelity (%) per language, {stage} training"
    written += write_table(fidelity, out / "fidelity", caption)
    sections.append(f"## {caption}\n\n{to_markdown(fidelity)}")

    for metric in harness_metrics(evaluated):  # eval.backend=lm_eval: the harness's own numbers
        frame = metric_frame(evaluated, metric, stage)
        caption = f"lm-evaluation-harness {metric.removeprefix('lm_eval/')} (%) per language, {stage} training"
        written += write_table(frame, out / metric.replace("/", "_"), caption)
        sections.append(f"## {caption}\n\n{to_markdown(frame)}")

    languages = language_order(evaluated)
    figures = [plot_comparison(comparison, languages, out / "comparison.png", language_intervals(evaluated, stage)),
               plot_language_bars(accuracy[languages + [AVG]], out / "accuracy_by_language.png"),
               plot_language_bars(fidelity, out / "fidelity_by_language.png", ylabel="language fidelity (%)")]
    curves = plot_reward_curves(runs, out / "reward_curves.png")
    if curves is not None:
        figures.append(curves)
    written += figures
    sections += [f"![{fig.stem}]({fig.name})\n" for fig in figures]

    skipped = sorted(run.name for run in runs if not run.languages())
    if skipped:
        sections.append("Runs without evaluation results (not in the tables): " + ", ".join(skipped) + "\n")
    report = out / "report.md"
    report.write_text("# Sweep analysis\n\n" + "\n".join(sections), encoding="utf-8")
    return written + [report]


def _claim_tables(runs: list[Run], comparison, baseline_arm: str | None) -> list[tuple[str, str, object, list]]:
    """(file stem, caption, frame, notes) of the seen/unseen, gap-power and per-seed tables that apply."""
    found = []
    split = seen_unseen_table(runs, baseline_arm)
    if split is not None:
        found.append(("seen_unseen", SEEN_UNSEEN_CAPTION, split, []))
    gap_lo, gap_hi = comparison.get(f"{GAP_DELTA} lo"), comparison.get(f"{GAP_DELTA} hi")
    resolved = gap_lo is not None and bool(((gap_lo > 0) | (gap_hi < 0)).any())
    power = None if resolved else gap_power_table(runs)
    if power is not None:
        found.append(("gap_power", GAP_POWER_CAPTION, power, []))
    by_arm = seed_rows(runs)
    if by_arm:
        found.append(("seeds", SEEDS_CAPTION, seeds_table(by_arm), seed_summary(by_arm)))
    return found


def _arm_of(runs: list[Run], baseline: str) -> str:
    """The arm that baseline= names: an arm label (reward=accuracy), or a run's label, folder or path."""
    groups = arms(runs)
    if any(arm.label == baseline for arm in groups):
        return baseline
    try:
        label = baseline_label(runs, baseline)
    except ValueError:
        raise ValueError(f"unknown baseline '{baseline}'; choose an arm: "
                         + ", ".join(arm.label for arm in groups) + " (or a run folder)") from None
    run = next(run for run in runs if labels(runs)[run.name] == label)
    return next(arm.label for arm in groups if run in arm.runs)


if __name__ == "__main__":  # `python -m pbrl.analysis.report`: the command lives in the entry layer
    from pbrl.cli.analysis_report import main

    sys.exit(main())
