"""The end of every run: `eval.json`, a per-language table (`report.md`, printed) and `report.png`."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from pbrl.rundir import atomic_file, atomic_write_json, atomic_write_text
from pbrl.stats import group_changes, paired_changes, seen_unseen_split

LANGUAGE_METRICS = ("n", "accuracy", "fidelity")
AVERAGE_ROW = "non-en avg"
ABSENT = object()  # an interval key eval.json does not have (older files), unlike one that is null (undefined)


def train_languages(run_dir: Path) -> list[str] | None:
    """`langs.train` of the run's composed config (`.hydra/config.yaml`), None without one."""
    path = Path(run_dir) / ".hydra" / "config.yaml"
    if not path.is_file():
        return None
    train = ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("langs") or {}).get("train")
    return [str(lang) for lang in train] if isinstance(train, list) else None


def merge_evals(before: dict | None, after: dict | None, train_langs: list[str] | None = None) -> dict:
    """Combine the before/after evaluation results into eval.json's shape.

    {"languages": {lang: {"before": metrics, "after": metrics}}, "aggregate": {"before": ..., "after": ...},
     "delta": pbrl.stats.paired_changes(...), "intervals": {key: method}}; `delta` (after - before on
    the same problems, paired by (id, lang)) only when both results carry their predictions.
    With `train_langs` a strict subset of the evaluated non-English languages, also "seen_unseen":
    pbrl.stats.group_changes over the seen and the unseen languages.
    """
    langs: dict[str, dict] = {}
    for when, result in (("before", before), ("after", after)):
        for lang, metrics in ((result or {}).get("languages") or {}).items():
            langs.setdefault(lang, {})[when] = metrics
    ordered = dict(sorted(langs.items(), key=lambda kv: (kv[0] != "en", kv[0])))
    evals = {
        "languages": ordered,
        "aggregate": {when: (r or {}).get("aggregate") for when, r in (("before", before), ("after", after)) if r},
    }
    methods = (after or {}).get("intervals") or (before or {}).get("intervals")
    if methods:
        evals["intervals"] = methods
    if (before or {}).get("predictions") and (after or {}).get("predictions"):
        evals["delta"] = paired_changes(before["predictions"], after["predictions"])
    split = seen_unseen_split(train_langs or [], ordered)
    if split is not None and ((before or {}).get("predictions") or (after or {}).get("predictions")):
        evals["seen_unseen"] = group_changes((before or {}).get("predictions"), (after or {}).get("predictions"),
                                             {"seen": split[0], "unseen": split[1]})
    return evals


def _fmt(value, pct: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}" if pct else str(value)


def _with_ci(value, ci=ABSENT) -> str:
    """'31.2 [22.0–42.1]' in percent; '31.2 [–]' when the interval is undefined (null: too few
    problems), the bare value when the results carry no interval."""
    if value is None or ci is ABSENT:
        return _fmt(value)
    if not ci:
        return f"{_fmt(value)} [–]"
    return f"{_fmt(value)} [{_fmt(ci[0])}–{_fmt(ci[1])}]"


def _signed(value, ci=ABSENT, excludes_0=False) -> str:
    """'+6.2 [+1.0, +11.5]*' in percentage points; * when the interval excludes 0; '[–]' when undefined."""
    if value is None:
        return "–"
    text = f"{100 * value:+.1f}"
    if ci is not ABSENT:
        text += f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else " [–]"
    return text + ("*" if excludes_0 else "")


def _change_text(change: dict | None) -> str:
    if not change:
        return "–"
    return _signed(change["delta"], change.get("delta_ci", ABSENT), change.get("excludes_0"))


def _answers(by_when: dict) -> int:
    """A language's n: its evaluation after training, else before."""
    return (by_when.get("after") or by_when.get("before") or {}).get("n") or 0


def _seen_unseen_rows(evals: dict) -> list[str]:
    """Table rows of the seen and the unseen languages' averages, when the run trained on a subset."""
    block = evals.get("seen_unseen")
    if not block:
        return []
    lines = []
    for name, langs in block["groups"].items():
        key = f"{name}_avg"
        before, after = block.get("before") or {}, block.get("after") or {}
        n = sum(_answers(evals["languages"].get(lang) or {}) for lang in langs)
        lines.append(f"| {name} avg ({' '.join(langs)}) | {n} | {_with_ci(before.get(key), before.get(f'{key}_ci', ABSENT))}"
                     f" → {_with_ci(after.get(key), after.get(f'{key}_ci', ABSENT))} "
                     f"| {_change_text((block.get('delta') or {}).get(key))} | |")
    return lines


def language_table(evals: dict) -> str:
    """Markdown table, English first: accuracy with 95 % intervals before → after, the paired change,
    language fidelity; then the non-English average, the gap to English and their changes."""
    delta = evals.get("delta") or {}
    lines = [
        ("| lang | n | accuracy before → after (%, 95 % CI) | Δ after − before (pp, paired 95 % CI) "
         "| fidelity before → after (%) |"),
        "|---|---:|---:|---:|---:|",
    ]
    n_non_en = 0
    for lang, by_when in evals["languages"].items():
        before, after = by_when.get("before") or {}, by_when.get("after") or {}
        n = (after or before).get("n")
        if lang != "en" and isinstance(n, int):
            n_non_en += n
        change_text = _change_text((delta.get("languages") or {}).get(lang))
        lines.append(
            f"| {lang} | {n} | {_with_ci(before.get('accuracy'), before.get('accuracy_ci', ABSENT))} → "
            f"{_with_ci(after.get('accuracy'), after.get('accuracy_ci', ABSENT))} | {change_text} "
            f"| {_fmt(before.get('fidelity'))} → {_fmt(after.get('fidelity'))} |"
        )
    agg_before = evals["aggregate"].get("before") or {}
    agg_after = evals["aggregate"].get("after") or {}
    for key, label, n in (("non_en_avg", AVERAGE_ROW, n_non_en or ""), ("gap_to_en", "gap to en", "")):
        if key not in agg_before and key not in agg_after:
            continue
        change_text = _change_text(delta.get(key))
        fidelity = (f"{_fmt(agg_before.get('fidelity_avg'))} → {_fmt(agg_after.get('fidelity_avg'))}"
                    if key == "non_en_avg" else "")
        show = _with_ci if key == "non_en_avg" else _signed  # the gap can be negative
        lines.append(
            f"| {label} | {n} | {show(agg_before.get(key), agg_before.get(f'{key}_ci', ABSENT))} → "
            f"{show(agg_after.get(key), agg_after.get(f'{key}_ci', ABSENT))} | {change_text} | {fidelity} |"
        )
        if key == "non_en_avg":
            lines += _seen_unseen_rows(evals)
    notes = [("accuracy: Wilson 95 % interval per language; averages: bootstrap over problems "
              "([–]: undefined, fewer than 2 problems).")]
    if delta:
        notes.append("Δ: paired by problem (Newcombe per language, paired bootstrap for averages); "
                     "* = the interval excludes 0.")
    if agg_before.get("fidelity_avg") is not None or agg_after.get("fidelity_avg") is not None:
        notes.append("fidelity on the average row: mean over all languages.")
    if evals.get("seen_unseen"):
        notes.append("seen: the training languages (langs.train); unseen: the other non-English languages.")
    return "\n".join(lines) + "\n\n" + " ".join(notes) + "\n"


def reward_components(metrics: list[dict]) -> list[str]:
    names = {k.split("/")[1] for row in metrics for k in row if k.startswith("rewards/") and k.endswith("/mean")}
    return sorted(names)


def accuracy_bars(evals: dict) -> dict[str, dict[str, tuple]]:
    """{lang or "non-en avg": {stage: (accuracy, [lo, hi] or None)}}: what the bar panel draws."""
    groups: dict[str, dict[str, tuple]] = {}
    for lang, by_when in evals["languages"].items():
        groups[lang] = {when: (m["accuracy"], m.get("accuracy_ci")) for when, m in by_when.items()
                        if m and m.get("accuracy") is not None}
    average = {when: (agg["non_en_avg"], agg.get("non_en_avg_ci")) for when, agg in evals["aggregate"].items()
               if agg and agg.get("non_en_avg") is not None}
    if average:
        groups[AVERAGE_ROW] = average
    return groups


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

    groups = accuracy_bars(evals)
    width = 0.38
    for offset, when, color in ((-width / 2, "before", "#9bb7d4"), (width / 2, "after", "#1f4e79")):
        bars = [group.get(when) for group in groups.values()]
        if not any(bars):
            continue
        values = [100 * bar[0] if bar else 0.0 for bar in bars]
        errors = [[100 * (bar[0] - bar[1][0]) if bar and bar[1] else 0.0 for bar in bars],
                  [100 * (bar[1][1] - bar[0]) if bar and bar[1] else 0.0 for bar in bars]]
        ax_bars.bar([i + offset for i in range(len(groups))], values, width, label=when, color=color,
                    yerr=errors, capsize=2, error_kw={"lw": 0.8, "ecolor": "#444444"})
    langs = list(groups)
    ax_bars.set_xticks(range(len(langs)), langs)
    ax_bars.set_ylabel("accuracy (%), 95 % interval")
    ax_bars.set_title("per-language accuracy")
    ax_bars.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_report(run_dir: Path, before: dict | None, after: dict | None, metrics: list[dict], title: str,
                 train_langs: list[str] | None = None) -> str:
    """eval.json, report.md and report.png in `run_dir`; returns the table. `train_langs` (default: the
    run's `.hydra/config.yaml` langs.train) splits the averages into seen and unseen languages."""
    if train_langs is None:
        train_langs = train_languages(run_dir)
    evals = merge_evals(before, after, train_langs)
    atomic_write_json(run_dir / "eval.json", evals)
    table = language_table(evals)
    atomic_write_text(run_dir / "report.md", f"# {title}\n\n{table}")
    plot_report(evals, metrics, run_dir / "report.png", title)
    return table
