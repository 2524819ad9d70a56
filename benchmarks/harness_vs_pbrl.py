"""lm-evaluation-harness vs pbrl accuracy per language, on the same generations.

The harness runs its MGSM task (`mgsm_native_cot_<lang>` by default) on a model through
`pbrl.harness.evaluate_with_harness` (the code behind `eval.backend=lm_eval`); each logged sample is
then also scored by pbrl's answer extraction (pbrl.evaluation.score_row). Printed per language: n,
pbrl accuracy, the harness's strict-match and flexible-extract (each with a 95 % Wilson interval),
how often pbrl and flexible-extract agree on a sample, and pbrl's language fidelity.

    python benchmarks/harness_vs_pbrl.py --model pbrl:smollm2-135m-instruct --limit 20 --out scratch/harness
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from pbrl.stats import wilson_interval


def filters(result: dict) -> list[str]:
    """The harness filters the task defines (mgsm_native_cot: strict-match, flexible-extract;
    mgsm_direct: remove_whitespace, flexible-extract)."""
    return list(result["predictions"][0]["lm_eval"]) if result["predictions"] else []


def table(result: dict, family: str) -> list[dict]:
    rows = []
    for lang, m in result["languages"].items():
        preds = [p for p in result["predictions"] if p["lang"] == lang and p["task"] == f"{family}_{lang}"]
        n = len(preds)
        row = {"lang": lang, "n": n, "fidelity": m.get("fidelity")}
        counts = {"pbrl": sum(bool(p["correct"]) for p in preds)}
        for filter_name in filters(result):
            counts[filter_name] = sum(p["lm_eval"][filter_name]["correct"] for p in preds)
        for name, k in counts.items():
            row[name] = (k / n, *wilson_interval(k, n)) if n else (math.nan, math.nan, math.nan)
        row["agree"] = sum(bool(p["correct"]) == p["lm_eval"]["flexible-extract"]["correct"] for p in preds)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["lang"] != "en", r["lang"]))


def print_table(rows: list[dict], names: list[str]) -> None:
    cell = lambda v: f"{100 * v[0]:5.1f} [{100 * v[1]:4.1f}, {100 * v[2]:4.1f}]"  # noqa: E731
    print("| lang | n | pbrl acc % [95% CI] | " + " | ".join(f"lm-eval {f} %" for f in names)
          + " | pbrl = flexible | fidelity % |")
    print("|---|---:|---:|" + "---:|" * len(names) + "---:|---:|")
    for r in rows:
        print(f"| {r['lang']} | {r['n']} | {cell(r['pbrl'])} | " + " | ".join(cell(r[f]) for f in names)
              + f" | {r['agree']}/{r['n']} | {100 * r['fidelity']:.0f} |")
    n = sum(r["n"] for r in rows)
    pooled = {k: sum(r[k][0] * r["n"] for r in rows) for k in ("pbrl", *names)}
    pooled = {k: (v / n, *wilson_interval(round(v), n)) for k, v in pooled.items()}
    agree = sum(r["agree"] for r in rows)
    print(f"| all | {n} | {cell(pooled['pbrl'])} | " + " | ".join(cell(pooled[f]) for f in names) + f" | {agree}/{n} | |")


def main(argv=None) -> int:
    from omegaconf import OmegaConf

    from pbrl.config import EvalConfig
    from pbrl.harness import evaluate_with_harness
    from pbrl.languages import MGSM_LANGUAGES
    from pbrl.models import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pbrl:smollm2-135m-instruct")
    parser.add_argument("--langs", default=",".join(MGSM_LANGUAGES))
    parser.add_argument("--task", default="mgsm_native_cot", choices=("mgsm_native_cot", "mgsm_en_cot", "mgsm_direct"))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-chat-template", action="store_true")
    parser.add_argument("--harness-model", default="hf", choices=("hf", "vllm"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("harness_vs_pbrl"))
    parser.add_argument("--table-only", action="store_true", help="re-print the table from <out>/result.json")
    args = parser.parse_args(argv)
    if args.table_only:
        result = json.loads((args.out / "result.json").read_text(encoding="utf-8"))
        print_table(table(result, args.task), filters(result))
        return 0

    import torch

    torch.set_num_threads(args.threads)
    cfg = OmegaConf.structured(EvalConfig(name="bench", max_new_tokens=args.max_new_tokens,
                                          batch_size=args.batch_size, backend="lm_eval"))
    cfg.lm_eval.tasks = [args.task]
    cfg.lm_eval.limit = args.limit
    cfg.lm_eval.model = args.harness_model
    cfg.lm_eval.apply_chat_template = not args.no_chat_template
    dtype = "float32" if args.device == "cpu" else "bfloat16"
    result = evaluate_with_harness(resolve_model(args.model), None, args.langs.split(","), cfg, args.out,
                                   data_root=os.environ.get("PBRL_DATA_ROOT"), device=args.device, dtype=dtype,
                                   desc="harness")
    (args.out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"model={args.model} task={args.task} limit={args.limit} max_gen_toks={args.max_new_tokens} "
          f"chat_template={not args.no_chat_template}\n{result['lm_eval']['command']}\n")
    print_table(table(result, args.task), filters(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
