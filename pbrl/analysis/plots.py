"""Figures for a sweep: reward curves over training and per-language accuracy bars (PNG)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; CI and cluster nodes have no display
import matplotlib.pyplot as plt
import pandas as pd

from pbrl.analysis.collect import Run, labels

TOTAL_REWARD = "reward/mean"


def reward_components(runs: list[Run]) -> list[str]:
    """Component names from `rewards/<name>/mean` keys of metrics.jsonl."""
    names = {key.split("/")[1] for run in runs for row in run.metrics for key in row
             if key.startswith("rewards/") and key.endswith("/mean")}
    return sorted(names)


def _series(run: Run, key: str) -> tuple[list[float], list[float]]:
    points = [(row.get("step", i), row[key]) for i, row in enumerate(run.metrics)
              if isinstance(row.get(key), (int, float)) and not math.isnan(row[key])]
    return [p[0] for p in points], [p[1] for p in points]


def plot_reward_curves(runs: list[Run], path: Path) -> Path | None:
    """Total reward per run, plus one panel per reward component; None when no run logged rewards."""
    keys = [TOTAL_REWARD] + [f"rewards/{name}/mean" for name in reward_components(runs)]
    keys = [k for k in keys if any(_series(run, k)[0] for run in runs)]
    if not keys:
        return None
    names = labels(runs)
    colors = {run.name: f"C{i % 10}" for i, run in enumerate(runs)}  # one color per run in every panel
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for run in runs:
            steps, values = _series(run, key)
            if steps:
                ax.plot(steps, values, color=colors[run.name], lw=1.6, marker="." if len(steps) < 20 else None)
        ax.set_title("total reward" if key == TOTAL_REWARD else key.split("/")[1])
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean reward")
    handles = [plt.Line2D([], [], color=colors[run.name], lw=1.6) for run in runs]
    fig.legend(handles, [names[run.name] for run in runs], loc="lower center", ncol=min(len(runs), 4), fontsize=7)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(runs) - 1) // 4), 1, 1))
    return _save(fig, path)


def plot_language_bars(frame: pd.DataFrame, path: Path, ylabel: str = "accuracy (%)") -> Path:
    """Grouped bars: one group per language column of `frame` (runs × languages), one bar per run."""
    langs = [c for c in frame.columns if c not in ("gap to en",) and not str(c).startswith("Δ")]
    return _grouped_bars(frame, langs, lambda label, row: ([row[lang] for lang in langs], None), ylabel, path)


def plot_comparison(frame: pd.DataFrame, languages: list[str], path: Path,
                    intervals: dict[str, dict[str, tuple[float, float]]] | None = None,
                    average: str = "avg (non-en)") -> Path:
    """Grouped bars, one group per language plus the non-English average, one bar per arm (rows of
    `frame`, in percent), with 95 % error bars: the average's from `frame`'s "<avg> lo/hi" columns,
    the languages' from `intervals` ({arm: {lang: (lo, hi)}}) where given."""
    groups = languages + [average]
    intervals = intervals or {}

    def bars(label, row) -> tuple[list[float], list[list[float]]]:
        values, low, high = [], [], []
        for group in groups:
            value = row[group]
            lo, hi = ((row.get(f"{group} lo", math.nan), row.get(f"{group} hi", math.nan)) if group == average
                      else intervals.get(label, {}).get(group, (math.nan, math.nan)))
            values.append(0.0 if math.isnan(value) else value)
            low.append(0.0 if math.isnan(lo) or math.isnan(value) else value - lo)
            high.append(0.0 if math.isnan(hi) or math.isnan(value) else hi - value)
        return values, [low, high]

    return _grouped_bars(frame, groups, bars, "accuracy (%), 95 % interval", path)


def _grouped_bars(frame: pd.DataFrame, groups: list[str], bars, ylabel: str, path: Path) -> Path:
    """One group of bars per entry of `groups`, one bar per row of `frame` (labelled by its index);
    `bars(label, row)` gives the row's heights and its error bars ([below, above], or None)."""
    width = 0.8 / max(len(frame), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) * max(1, len(frame)) ** 0.5 + 2), 3.8))
    for i, (label, row) in enumerate(frame.iterrows()):
        xs = [j + (i - (len(frame) - 1) / 2) * width for j in range(len(groups))]
        values, errors = bars(label, row)
        if errors is None:
            ax.bar(xs, values, width=width, label=str(label))
        else:
            ax.bar(xs, values, width=width, label=str(label), yerr=errors, capsize=2,
                   error_kw={"lw": 0.8, "ecolor": "#444444"})
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=0 if len(groups) < 12 else 45)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(frame) > 4 else 1)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
