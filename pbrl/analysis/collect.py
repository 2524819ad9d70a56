"""Load finished runs, from run directories on disk or from a W&B group, into `Run` records.

A run directory (DESIGN.md) holds `.hydra/overrides.yaml`, `eval.json`, `metrics.jsonl` and
`summary.json`; W&B runs carry the same information in their config, summary and history.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

STAGES = ("before", "after")
# Keys under which pbrl.tracking puts per-language results into a W&B run's summary.
WANDB_EVAL_KEY = re.compile(
    r"^eval/(?P<stage>before|after)/(?P<lang>[a-z]{2,3})/(?P<metric>[A-Za-z_]+|lm_eval/[\w.-]+/[\w.-]+)$"
)
# lm-evaluation-harness metrics in eval.json (eval.backend=lm_eval): lm_eval/<family>_<lang>/<filter>.
HARNESS_KEY = re.compile(r"^lm_eval/(?P<family>[\w.-]+)_(?P<lang>[a-z]{2,3})/(?P<filter>[\w.-]+)$")
HARNESS_SKIP = ("n",)  # counts, not rates
# Hydra overrides that only say where or how a run was launched, not what it computed.
LAUNCH_ONLY_KEYS = ("hydra", "paths.", "name=", "device=", "threads=", "logger")


@dataclass
class Run:
    """One training run: its name within the sweep and everything the tables and plots need."""

    name: str
    overrides: list[str] = field(default_factory=list)
    eval: dict = field(default_factory=dict)  # eval.json: {"languages": {lang: {stage: {...}}}, ...}
    metrics: list[dict] = field(default_factory=list)  # metrics.jsonl rows, one per optimizer step
    summary: dict = field(default_factory=dict)
    source: str = ""  # run directory or W&B run path
    config: dict = field(default_factory=dict)  # the composed config (.hydra/config.yaml, or the W&B run's)

    def languages(self) -> list[str]:
        return list(self.eval.get("languages", {}))

    def train_languages(self) -> list[str] | None:
        """`langs.train` of the run's config; None when the run carries no config."""
        train = (self.config.get("langs") or {}).get("train")
        return [str(lang) for lang in train] if isinstance(train, list) else None

    def value(self, lang: str, stage: str, metric: str) -> float:
        """A per-language metric, NaN when the run has no such value. A harness metric may be named
        without its language (`lm_eval/mgsm_native_cot/flexible-extract` reads `mgsm_native_cot_<lang>`)."""
        metrics = self.eval.get("languages", {}).get(lang, {}).get(stage, {})
        found = metrics.get(metric)
        if found is None and metric.startswith("lm_eval/"):
            _, family, filter_name = metric.split("/", 2)
            found = metrics.get(f"lm_eval/{family}_{lang}/{filter_name}")
        return float(found) if isinstance(found, (int, float)) else math.nan

    def harness_metrics(self) -> list[str]:
        """The lm-evaluation-harness metrics of this run, by task family: `lm_eval/<family>/<filter>`."""
        found = []
        for by_stage in self.eval.get("languages", {}).values():
            for metrics in by_stage.values():
                for key in metrics:
                    match = HARNESS_KEY.match(key)
                    if match and match["filter"] not in HARNESS_SKIP and not match["filter"].endswith("_stderr"):
                        name = f"lm_eval/{match['family']}/{match['filter']}"
                        if name not in found:
                            found.append(name)
        return found


def _read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # torn last line of a run killed mid-append
    return rows


def _eval_from_stage_files(run_dir: Path) -> dict:
    """eval.json's shape from eval_before.json / eval_after.json, for runs that stopped before the report."""
    languages: dict[str, dict] = {}
    aggregate: dict[str, dict] = {}
    for stage in STAGES:
        path = run_dir / f"eval_{stage}.json"
        if path.exists():
            result = _read_json(path)
            for lang, metrics in result.get("languages", {}).items():
                languages.setdefault(lang, {})[stage] = metrics
            aggregate[stage] = result.get("aggregate", {})
    return {"languages": languages, "aggregate": aggregate} if languages else {}


def is_run_dir(path: Path) -> bool:
    return (path / ".hydra" / "config.yaml").exists() or (path / "eval.json").exists()


def find_run_dirs(root: Path) -> list[Path]:
    """Run directories at or below `root`, in name order; submitit's and Hydra's own folders skipped."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such directory: {root}; pass a sweep directory such as runs/<name>")
    if is_run_dir(root):
        return [root]
    found = []
    for config in sorted(root.rglob(".hydra/config.yaml")):
        run_dir = config.parent.parent
        if not any(part.startswith(".") for part in run_dir.relative_to(root).parts):
            found.append(run_dir)
    return found


def load_run_dir(run_dir: Path, root: Path | None = None) -> Run:
    run_dir = Path(run_dir)
    overrides_path = run_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_path.read_text()) if overrides_path.exists() else []
    if (run_dir / "eval.json").exists():
        evals = _read_json(run_dir / "eval.json")
    else:
        evals = _eval_from_stage_files(run_dir)
    summary = _read_json(run_dir / "summary.json") if (run_dir / "summary.json").exists() else {}
    config_path = run_dir / ".hydra" / "config.yaml"
    config = (yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else None) or {}
    name = str(run_dir.relative_to(root)) if root is not None and run_dir != Path(root) else run_dir.name
    return Run(
        name=name,
        overrides=[str(o) for o in overrides or []],
        eval=evals,
        metrics=_read_jsonl(run_dir / "metrics.jsonl"),
        summary=summary,
        source=str(run_dir),
        config=config if isinstance(config, dict) else {},
    )


def load_sweep(root: str | Path) -> list[Run]:
    """Every run under a sweep directory (or the one run a run directory holds)."""
    root = Path(root)
    run_dirs = find_run_dirs(root)
    if not run_dirs:
        raise FileNotFoundError(f"no run directories (with .hydra/config.yaml) under {root}")
    base = root if run_dirs != [root] else root.parent
    return [load_run_dir(d, base) for d in run_dirs]


def _meaningful(override: str) -> bool:
    return not override.lstrip("+~").startswith(LAUNCH_ONLY_KEYS)


def labels(runs: list[Run]) -> dict[str, str]:
    """Short label per run: the overrides that tell it apart from the other runs ('reward=embed')."""
    kept = {run.name: [o for o in run.overrides if _meaningful(o)] for run in runs}
    shared = set.intersection(*(set(v) for v in kept.values())) if len(runs) > 1 else set()
    out = {}
    for run in runs:
        distinct = [o for o in kept[run.name] if o not in shared]
        out[run.name] = ",".join(distinct) if distinct else run.name
    if len(set(out.values())) < len(out):  # labels collide: fall back to the unique run names
        return {run.name: run.name for run in runs}
    return out


def eval_from_wandb_summary(summary: dict) -> dict:
    """Rebuild eval.json's `languages` block from `eval/<stage>/<lang>/<metric>` summary keys."""
    languages: dict[str, dict] = {}
    for key, value in summary.items():
        match = WANDB_EVAL_KEY.match(str(key))
        if match and isinstance(value, (int, float)):
            stage_metrics = languages.setdefault(match["lang"], {}).setdefault(match["stage"], {})
            stage_metrics[match["metric"]] = value
    ordered = dict(sorted(languages.items(), key=lambda kv: (kv[0] != "en", kv[0])))
    return {"languages": ordered} if ordered else {}


def load_wandb_group(group: str, project: str, entity: str | None = None, api=None) -> list[Run]:
    """Runs of one W&B group through the public API (needs WANDB_API_KEY or `wandb login`)."""
    if api is None:
        import wandb

        api = wandb.Api()
    path = f"{entity}/{project}" if entity else project
    runs = []
    for wb_run in api.runs(path, filters={"group": group}):
        summary = dict(wb_run.summary._json_dict) if hasattr(wb_run.summary, "_json_dict") else dict(wb_run.summary)
        history = [dict(row) for row in wb_run.scan_history()]
        metrics = [{"step": row.get("_step"), **row} for row in history if any(k.startswith("reward") for k in row)]
        config = dict(wb_run.config)
        runs.append(Run(
            name=wb_run.name.rsplit("/", 1)[-1],  # pbrl names W&B runs "<experiment>/<run folder>"
            overrides=[str(o) for o in config.get("overrides") or []],
            eval=eval_from_wandb_summary(summary),
            metrics=metrics,
            summary=summary,
            source=f"wandb:{path}/{wb_run.id}",
            config=config,
        ))
    if not runs:
        raise ValueError(f"no W&B runs in group '{group}' of project '{path}'; check project=/entity= and the group name")
    return runs


def harness_metrics(runs: list[Run]) -> list[str]:
    """Every lm-evaluation-harness metric any of `runs` recorded (`lm_eval/<family>/<filter>`), in order."""
    found: list[str] = []
    for run in runs:
        found += [m for m in run.harness_metrics() if m not in found]
    return found
