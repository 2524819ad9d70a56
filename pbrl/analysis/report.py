"""`python -m pbrl.analysis.report SOURCE [--baseline RUN] [--out DIR]`: tables and plots for one sweep.

SOURCE is a sweep directory (runs/<name>, whose sub-folders are run directories), a single run
directory, or a W&B group (with --project/--entity or WANDB_PROJECT/WANDB_ENTITY).

Examples:
    python -m pbrl.analysis.report runs/reward_ablation --baseline reward=accuracy
    python -m pbrl.analysis.report reward_ablation --project pbrl --entity my-team --wandb-report

Writes into --out (default: SOURCE/analysis, or ./analysis-<group> for W&B):
    comparison.{md,tex,csv}   one row per arm (seeds averaged): accuracy per language, non-English average
                              with its 95 % interval and sd over seeds, gap to English, fidelity, English
                              share, copy share, Δ through training and Δ vs baseline (paired intervals)
    comparison.png            per-language and average accuracy per arm with 95 % error bars
    accuracy.{md,tex,csv}     per-language accuracy, non-English average, gap to English, Δ vs baseline
    delta_vs_baseline.{md,tex,csv}   per-language accuracy difference to the baseline (with --baseline)
    fidelity.{md,tex,csv}     per-language language fidelity
    accuracy_by_language.png  fidelity_by_language.png  reward_curves.png
    report.md                 the tables and figures on one page
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pbrl.analysis.collect import Run, labels, load_sweep, load_wandb_group
from pbrl.analysis.plots import plot_comparison, plot_language_bars, plot_reward_curves, reward_components
from pbrl.analysis.tables import (
    AVG,
    accuracy_table,
    arms,
    baseline_label,
    comparison_table,
    delta_table,
    fidelity_table,
    language_intervals,
    language_order,
    to_markdown,
    write_table,
)


def load_runs(source: str, project: str | None, entity: str | None) -> tuple[list[Run], Path]:
    """Runs and the default output folder for a sweep directory or a W&B group."""
    path = Path(source)
    if path.exists():
        return load_sweep(path), path / "analysis"
    if not project:
        raise ValueError(f"'{source}' is no directory, and no --project (or WANDB_PROJECT) names a W&B project "
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
               "95 % intervals: bootstrap over problems (paired for Δ)")
    written += write_table(comparison, out / "comparison", caption)
    sections.append(f"## {caption}\n\n{to_markdown(comparison)}")

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


def _arm_of(runs: list[Run], baseline: str) -> str:
    """The arm that --baseline names: an arm label (reward=accuracy), or a run's label, folder or path."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbrl.analysis.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="sweep directory, run directory, or W&B group name")
    parser.add_argument("--baseline", help="run to compare against: its label (reward=accuracy), folder or path")
    parser.add_argument("--out", type=Path, help="output folder (default: SOURCE/analysis)")
    parser.add_argument("--stage", choices=("before", "after"), default="after", help="which evaluation to tabulate")
    parser.add_argument("--project", default=os.environ.get("WANDB_PROJECT"), help="W&B project (for a group)")
    parser.add_argument("--entity", default=os.environ.get("WANDB_ENTITY"), help="W&B entity (for a group)")
    parser.add_argument("--wandb-report", action="store_true", help="also save a W&B Report for the group")
    args = parser.parse_args(argv)
    try:
        runs, default_out = load_runs(args.source, args.project, args.entity)
        written = write_analysis(runs, args.out or default_out, args.stage, args.baseline)
    except (ValueError, FileNotFoundError) as exc:
        print(f"analysis: error: {exc}", file=sys.stderr)
        return 2
    print((args.out or default_out).joinpath("comparison.md").read_text(encoding="utf-8"))
    print((args.out or default_out).joinpath("accuracy.md").read_text(encoding="utf-8"))
    print("wrote:\n" + "\n".join(f"  {p}" for p in written))
    if args.wandb_report:
        if not (args.project and args.entity):
            print("analysis: error: --wandb-report needs --project and --entity", file=sys.stderr)
            return 2
        from pbrl.analysis.wandb_report import build_report, save_report

        evaluated = [run for run in runs if run.languages()]
        report = build_report(args.entity, args.project, args.source if not Path(args.source).exists()
                              else Path(args.source).name, language_order(evaluated), reward_components(runs),
                              stage=args.stage)
        print(f"W&B report: {save_report(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
