"""Build English pivot references without training.

    python -m pbrl.pivot pivot=gold dataset=mgsm limit=50 out=runs/pivot-gold
    python -m pbrl.pivot pivot=smollm2_135m pivot.num_samples=4 pivot.temperature=0.7 dataset=mgsm limit=32 out=runs/pivot-smollm2

The pivot is the run's config group: `pivot=<preset>` (conf/pivot/) and `pivot.<key>=<value>`
overrides mean what they mean in `python -m pbrl.run`, so the references match a run's; `pivot=self`
samples the `policy=` model. Other overrides of the project config: `paths.data_root=` (default: env
PBRL_DATA_ROOT, else the hub), `device=` (auto | cpu | cuda). Writes <out>/references.jsonl
(verified rows) and caches samples under <out>/cache (or cache_dir=); rerunning after an
interruption resumes from the cache.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pbrl.cli import CliSpec, examples_from, parse_argv
from pbrl.data import DATASETS, load_examples
from pbrl.pivot import build_references
from pbrl.cli import one_line_errors
from pbrl.rundir import atomic_write_jsonl

SPEC = CliSpec(
    prog="python -m pbrl.pivot",
    summary="Build English pivot references without training.",
    own={"out": ("output folder", None),
         "dataset": (" | ".join(DATASETS), "mgsm"),
         "split": ("gsm8k split (train | test)", "test"),
         "limit": ("first N problems only", None),
         "cache_dir": ("sample cache folder; unset: <out>/cache", None)},
    optional=("limit", "cache_dir"),
    examples=examples_from(__doc__),
    overrides="Hydra overrides of the project config, as `python -m pbrl.run`: pivot=<preset>, "
              "pivot.<key>=<value>, policy=<preset> (for pivot=self), paths.data_root=, device=",
    old_flags={"--kind": "pivot.kind", "--model": "pivot.model", "--dataset": "dataset", "--data": "dataset",
               "--split": "split", "--data-root": "paths.data_root", "--limit": "limit",
               "--num-samples": "pivot.num_samples", "--temperature": "pivot.temperature",
               "--max-new-tokens": "pivot.max_new_tokens", "--batch-size": "pivot.batch_size",
               "--backend": "pivot.backend", "--device": "device", "--out": "out", "--cache-dir": "cache_dir"},
)


def config_defaults() -> str:
    """The project config's pivot defaults, for --help."""
    from pbrl.config import compose_config

    cfg = compose_config([])
    pivot = ", ".join(f"pivot.{k}={v}" for k, v in cfg.pivot.items() if k != "name")
    return (f"defaults (conf/config.yaml): pivot={cfg.pivot.name} ({pivot}), policy={cfg.policy.name}, "
            f"paths.data_root={cfg.paths.data_root}, device={cfg.device}")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    own, overrides = parse_argv(SPEC, argv, defaults=config_defaults)
    with one_line_errors():
        cfg = check_args(own, overrides)
        return run(cfg, own)


def _integer(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{key}={text!r} is not an integer; e.g. {key}=32") from None


def check_args(own: dict[str, str], overrides: list[str]):
    """The shared pre-flight for this CLI: the composed config's pivot numbers, its model, the data
    files and values, the output folder. Returns the composed config."""
    from pbrl.cli import (
        check_choices, check_data_root, check_dataset, check_model, check_range, check_writable, compose_checked,
    )
    from pbrl.cli.preflight import check_numbers

    cfg = compose_checked(overrides)
    check_choices(cfg)
    if own.get("limit") is not None:
        own["limit"] = _integer("limit", own["limit"])
        check_range("limit", own["limit"], low=1, integer=True, sep="=")
    check_numbers(cfg)
    if cfg.pivot.kind == "model":
        check_model("pivot.model", cfg.pivot.model)
    elif cfg.pivot.kind == "self":
        check_model("policy.model", cfg.policy.model, cfg.policy.revision)
    check_data_root(cfg.paths.data_root)
    check_dataset(own["dataset"], ["en"], cfg.paths.data_root, split=own["split"], role="dataset")
    check_writable("out", own["out"])
    if own.get("cache_dir") is not None:
        check_writable("cache_dir", own["cache_dir"])
    return cfg


def run(cfg, own: dict) -> int:
    from pbrl.policy import resolve_device

    out = Path(own["out"])
    examples = load_examples(own["dataset"], ["en"], cfg.paths.data_root, split=own["split"])["en"][: own.get("limit")]
    cache = Path(own["cache_dir"]) if own.get("cache_dir") else out / "cache"
    rows = build_references(cfg.pivot, examples, cache, resolve_device(cfg.device), self_model=cfg.policy.model)
    atomic_write_jsonl(out / "references.jsonl", rows)
    print(
        f"{len(rows)}/{len(examples)} references verified ({100 * len(rows) / max(len(examples), 1):.1f}%) -> {out / 'references.jsonl'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
