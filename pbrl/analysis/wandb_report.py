"""A W&B Report for one sweep group: per-language accuracy and fidelity panels, reward curves.

Built with the `wandb-workspaces` API. `build_report` needs no server (tests inspect its blocks);
`save_report` uploads it and returns its URL (needs WANDB_API_KEY or `wandb login`).

Expected W&B keys (written by pbrl.tracking): history `reward/mean`, `rewards/<component>/mean`;
summary `eval/<stage>/<lang>/accuracy` and `eval/<stage>/<lang>/fidelity`.
"""

from __future__ import annotations

from pbrl.analysis.plots import TOTAL_REWARD


def eval_key(stage: str, lang: str, metric: str) -> str:
    return f"eval/{stage}/{lang}/{metric}"


def build_report(entity: str, project: str, group: str, languages: list[str], reward_components: list[str],
                 stage: str = "after", title: str | None = None):
    """The report object, unsaved. `languages`: English first; `reward_components`: reward names."""
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    if not languages:
        raise ValueError(f"no languages for the report of group '{group}'; pass the sweep's evaluation languages")
    runset = wr.Runset(entity=entity, project=project, name=group, filters=[expr.Metric("Group") == group])
    accuracy = [wr.BarPlot(title=f"accuracy {lang}", metrics=[eval_key(stage, lang, "accuracy")], orientation="h")
                for lang in languages]
    fidelity = [wr.BarPlot(title=f"fidelity {lang}", metrics=[eval_key(stage, lang, "fidelity")], orientation="h")
                for lang in languages if lang != "en"]
    curves = [wr.LinePlot(title="total reward", x="Step", y=[TOTAL_REWARD], smoothing_factor=0.6)]
    curves += [wr.LinePlot(title=f"reward: {name}", x="Step", y=[f"rewards/{name}/mean"], smoothing_factor=0.6)
               for name in reward_components]
    return wr.Report(
        entity=entity,
        project=project,
        title=title or f"pbrl sweep {group}",
        description=f"Per-language results ({stage} training) and reward curves of W&B group '{group}'.",
        blocks=[
            wr.H1(text=f"Sweep {group}"),
            wr.P(text=f"Accuracy per language after training; English first. Group: {group}."),
            wr.H2(text="Accuracy per language"),
            wr.PanelGrid(runsets=[runset], panels=accuracy),
            wr.H2(text="Language fidelity"),
            wr.PanelGrid(runsets=[runset], panels=fidelity),
            wr.H2(text="Reward curves"),
            wr.PanelGrid(runsets=[runset], panels=curves),
        ],
    )


def save_report(report) -> str:
    """Upload the report (needs W&B credentials) and return its URL."""
    report.save()
    return report.url
