"""Per-language tables across the runs of a sweep, as DataFrames and as Markdown / LaTeX / CSV files.

Values are percentages. "avg (non-en)" averages the run's non-English languages; "gap to en" is
English minus that average (smaller is better); "Δ vs <baseline>" is the non-English average minus the
baseline run's, and the delta table gives the same difference per language.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from pbrl.analysis.collect import Run, labels

AVG = "avg (non-en)"
GAP = "gap to en"


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


def to_markdown(frame: pd.DataFrame, signed: bool = False) -> str:
    signed_cols = _signed_columns(frame, signed)
    header = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(frame.columns) + "|"]
    for label, row in frame.iterrows():
        cells = [_cell(row[c], c in signed_cols) for c in frame.columns]
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
    best = {}
    if bold_best and len(frame) > 1 and not signed:
        for col in frame.columns:
            values = frame[col].dropna()
            if not values.empty and not str(col).startswith("Δ"):
                best[col] = values.min() if col == GAP else values.max()
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_latex_escape(caption)}}}",
        r"\begin{tabular}{l" + "r" * len(frame.columns) + "}",
        r"\toprule",
        " & ".join([_latex_escape(frame.index.name or "")] + [_latex_escape(str(c)) for c in frame.columns]) + r" \\",
        r"\midrule",
    ]
    for label, row in frame.iterrows():
        cells = []
        for col in frame.columns:
            text = _cell(row[col], col in signed_cols).replace("–", "--")
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
