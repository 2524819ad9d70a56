"""Build pivot references without training.

    python -m pbrl.pivot --kind gold --dataset mgsm --limit 50 --out runs/pivot-gold
    python -m pbrl.pivot --kind model --model pbrl:smollm2-135m-instruct --dataset mgsm --limit 32 \\
        --num-samples 4 --temperature 0.7 --out runs/pivot-smollm2

Writes <out>/references.jsonl (verified rows) and caches samples under <out>/cache (or --cache-dir);
rerunning after an interruption resumes from the cache.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pbrl.data import DATASETS, load_examples
from pbrl.pivot import BACKENDS, KINDS, build_references
from pbrl.preflight import one_line_errors
from pbrl.rundir import atomic_write_jsonl


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pbrl.pivot", description="Build English pivot references.")
    parser.add_argument(
        "--kind", choices=KINDS, default="model", help="gold solutions, or samples of a model (self = model)"
    )
    parser.add_argument("--model", default="pbrl:smollm2-135m-instruct", help="hub id, folder or pbrl:<name>")
    parser.add_argument("--dataset", "--data", dest="dataset", choices=DATASETS, default="mgsm")
    parser.add_argument("--split", default="test", help="gsm8k split (train | test)")
    parser.add_argument(
        "--data-root", default=os.environ.get("PBRL_DATA_ROOT"), help="default: env PBRL_DATA_ROOT, else the hub"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--backend", choices=BACKENDS, default="transformers")
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: <out>/cache")
    return parser.parse_args(argv)


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    with one_line_errors():
        check_args(args)
        return run(args)


def check_args(args: argparse.Namespace) -> None:
    """The shared pre-flight for this CLI: numbers, model, data files and values, output folder."""
    from pbrl.preflight import check_data_root, check_dataset, check_model, check_range, check_writable

    if args.limit is not None:
        check_range("--limit", args.limit, low=1, integer=True)
    check_range("--num-samples", args.num_samples, low=1, integer=True)
    check_range("--temperature", args.temperature, low=0)
    check_range("--max-new-tokens", args.max_new_tokens, low=1, integer=True)
    check_range("--batch-size", args.batch_size, low=1, integer=True)
    if args.kind != "gold":
        check_model("--model", args.model)
    check_data_root(args.data_root)
    check_dataset(args.dataset, ["en"], args.data_root, split=args.split, role="--dataset")
    check_writable("--out", args.out)
    if args.cache_dir is not None:
        check_writable("--cache-dir", args.cache_dir)


def run(args: argparse.Namespace) -> int:
    examples = load_examples(args.dataset, ["en"], args.data_root, split=args.split)["en"][: args.limit]
    pivot_cfg = {
        "kind": args.kind,
        "model": args.model,
        "num_samples": args.num_samples,
        "temperature": args.temperature,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "backend": args.backend,
    }
    rows = build_references(
        pivot_cfg, examples, args.cache_dir or args.out / "cache", args.device, self_model=args.model
    )
    atomic_write_jsonl(args.out / "references.jsonl", rows)
    print(
        f"{len(rows)}/{len(examples)} references verified ({100 * len(rows) / max(len(examples), 1):.1f}%) -> {args.out / 'references.jsonl'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
