"""The end of every run: `eval.json`, a per-language table (`report.md`, printed) and `report.png`."""

from __future__ import annotations

import math
from pathlib import Path

from pbrl.rundir import atomic_write_json, atomic_write_text

LANGUAGE_METRICS = ("n", "accuracy", "fidelity")


def merge_evals(before: dict | None, after: dict | None) -> dict:
    """Combine the before/after evaluation results into eval.json's shape."""
    langs: dict[str, dict] = {}
    for when, result in (("before", before), ("after", after)):
        for lang, metrics in ((result or {}).get("languages") or {}).items():
            langs.setdefault(lang, {})[when] = metrics
    ordered = dict(sorted(langs.items(), key=lambda kv: (kv[0] != "en", kv[0])))
    return {
        "languages": ordered,
        "aggregate": {when: (r or {}).get("aggregate") for when, r in (("before", before), ("after", after)) if r},
    }


def _fmt(value, pct: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}" if pct else str(value)


def language_table(evals: dict) -> str:
    """Markdown table, English first: accuracy and language fidelity before → after."""
    lines = [
        "| lang | n | accuracy before → after (%) | fidelity before → after (%) |",
        "|---|---:|---:|---:|",
    ]
    for lang, by_when in evals["languages"].items():
        before, after = by_when.get("before", {}), by_when.get("after", {})
        n = (after or before).get("n")
        lines.append(
            f"| {lang} | {n} | {_fmt(before.get('accuracy'))} → {_fmt(after.get('accuracy'))} "
            f"| {_fmt(before.get('fidelity'))} → {_fmt(after.get('fidelity'))} |"
        )
    agg_before = evals["aggregate"].get("before") or {}
    agg_after = evals["aggregate"].get("after") or {}
    for key, label in (("non_en_avg", "non-en avg"), ("gap_to_en", "gap to en")):
        if key in agg_before or key in agg_after:
            lines.append(f"| {label} | | {_fmt(agg_before.get(key))} → {_fmt(agg_after.get(key))} | |")
    return "\n".join(lines) + "\n"


def reward_components(metrics: list[dict]) -> list[str]:
    names = {k.split("/")[1] for row in metrics for k in row if k.startswith("rewards/") and k.endswith("/mean")}
    return sorted(names)


def plot_report(evals: dict, metrics: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_curve, ax_bars) = plt.subplots(1, 2, figsize=(13, 4.5))
    steps = [row["step"] for row in metrics]
    if any(row.get("reward/mean") is not None for row in metrics):
        ax_curve.plot(steps, [row.get("reward/mean") for row in metrics], lw=2.5, color="black", label="total")
        for name in reward_components(metrics):
            ax_curve.plot(steps, [row.get(f"rewards/{name}/mean") for row in metrics], lw=1.2, label=name)
        ax_curve.set_ylabel("mean reward")
    elif any(row.get("loss") is not None for row in metrics):
        ax_curve.plot(steps, [row.get("loss") for row in metrics], color="black", label="loss")
        ax_curve.set_ylabel("loss")
    ax_curve.set_xlabel("optimizer step")
    ax_curve.set_title("training curve")
    if metrics:
        ax_curve.legend(fontsize=8)

    langs = list(evals["languages"])
    width = 0.38
    for offset, when, color in ((-width / 2, "before", "#9bb7d4"), (width / 2, "after", "#1f4e79")):
        values = [100 * ((evals["languages"][lang].get(when) or {}).get("accuracy") or 0.0) for lang in langs]
        if any(when in evals["languages"][lang] for lang in langs):
            ax_bars.bar([i + offset for i in range(len(langs))], values, width, label=when, color=color)
    ax_bars.set_xticks(range(len(langs)), langs)
    ax_bars.set_ylabel("accuracy (%)")
    ax_bars.set_title("per-language accuracy")
    ax_bars.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def write_report(run_dir: Path, before: dict | None, after: dict | None, metrics: list[dict], title: str) -> str:
    evals = merge_evals(before, after)
    atomic_write_json(run_dir / "eval.json", evals)
    table = language_table(evals)
    atomic_write_text(run_dir / "report.md", f"# {title}\n\n{table}")
    plot_report(evals, metrics, run_dir / "report.png", title)
    return table
