"""`python -m pbrl.analysis.report`: tables and plots for one sweep (`python -m analysis.report` in a clone).

    python -m pbrl.analysis.report runs/comparison baseline=algo=grpo,reward=accuracy
    python -m pbrl.analysis.report source=reward_ablation project=pbrl entity=my-team wandb_report=true

The source (a sweep directory runs/<name>, one run directory, or a W&B group) may be given bare as the
first argument or as source=. What is written is listed in `pbrl.analysis.report`, which holds the
analysis itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pbrl.cli.args import CliSpec, examples_from, parse_argv
from pbrl.cli.errors import fail

CHOICES = {"stage": ("before", "after"), "wandb_report": ("true", "false")}
SPEC = CliSpec(
    prog="python -m pbrl.analysis.report",
    summary="Tables (Markdown, LaTeX, CSV) and plots for one sweep, written into its analysis/ folder.",
    own={"source": ("sweep directory (runs/<name>), run directory or W&B group; may be given bare", None),
         "baseline": ("arm to compare against: its label (reward=accuracy), a run folder or path", None),
         "out": ("output folder; unset: SOURCE/analysis (./analysis-<group> for W&B)", None),
         "stage": ("which evaluation to tabulate: before or after", "after"),
         "project": ("W&B project of a group; unset: WANDB_PROJECT", None),
         "entity": ("W&B entity of a group; unset: WANDB_ENTITY", None),
         "wandb_report": ("also save a W&B Report for the group: true or false", "false")},
    examples=examples_from(__doc__),
    optional=("baseline", "out", "project", "entity"),
    old_flags={"--baseline": "baseline", "--out": "out", "--stage": "stage", "--project": "project",
               "--entity": "entity", "--wandb-report": "wandb_report=true"},
)


def parse(argv: list[str]) -> dict[str, str]:
    """The own arguments; one argument that is no `key=` of this command (a path, which may hold '=',
    or a group name) is the source."""
    if any(a.startswith("-") for a in argv):
        parse_argv(SPEC, argv)  # --help, or the refusal of an old --flag naming the new form
    bare = [a for a in argv if a.partition("=")[0] not in SPEC.own]
    if len(bare) > 1:
        fail(f"two sources: {bare[0]} and {bare[1]}; give one sweep directory or W&B group (`{SPEC.prog} --help`)")
    if bare and any(a.startswith("source=") for a in argv):
        fail(f"{bare[0]} and source= both name the source; give one")
    own, _ = parse_argv(SPEC, [f"source={a}" if a in bare else a for a in argv])
    for key, choices in CHOICES.items():
        if own[key] not in choices:
            fail(f"{key}={own[key]} is not a choice; choose {' or '.join(choices)}")
    return own


def main(argv: list[str] | None = None) -> int:
    from pbrl.analysis.plots import reward_components
    from pbrl.analysis.report import PRINTED, load_runs, write_analysis

    own = parse(list(sys.argv[1:] if argv is None else argv))
    source, baseline, stage = own["source"], own.get("baseline"), own["stage"]
    project = own.get("project") or os.environ.get("WANDB_PROJECT")
    entity = own.get("entity") or os.environ.get("WANDB_ENTITY")
    wandb_report = own["wandb_report"] == "true"
    if wandb_report and not (project and entity):
        fail("wandb_report=true needs project= and entity= (or WANDB_PROJECT and WANDB_ENTITY)")
    try:
        runs, default_out = load_runs(source, project, entity)
        out = Path(own["out"]) if own.get("out") else default_out
        written = write_analysis(runs, out, stage, baseline)
    except (ValueError, FileNotFoundError) as exc:
        print(f"pbrl: error: {exc}", file=sys.stderr)
        return 2
    for stem in PRINTED:
        path = out / f"{stem}.md"
        if path in written:
            print(path.read_text(encoding="utf-8"))
    print("wrote:\n" + "\n".join(f"  {p}" for p in written))
    if wandb_report:
        from pbrl.analysis.tables import language_order
        from pbrl.analysis.wandb_report import build_report, save_report

        evaluated = [run for run in runs if run.languages()]
        group = source if not Path(source).exists() else Path(source).name
        report = build_report(entity, project, group, language_order(evaluated), reward_components(runs),
                              stage=stage)
        print(f"W&B report: {save_report(report)}")
    return 0
