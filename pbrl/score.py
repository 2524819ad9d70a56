"""Score saved predictions: `python -m pbrl.score --input PRED.jsonl --output SCORED.jsonl`.

Input rows: {"lang": "de", "response": "... Die Antwort ist 18.", "answer": "18"} (other fields,
e.g. id, choices, level, are kept). Output rows add `pred` (normalized answer or null), `correct`
and `detected_lang`; a per-language table goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pbrl.evaluation import score_predictions
from pbrl.rundir import atomic_write_jsonl, read_jsonl


def format_table(result: dict) -> str:
    lines = [f"{'lang':<6}{'n':>6}{'accuracy':>10}{'fidelity':>10}{'dw_acc':>8}"]
    for lang, m in sorted(result["languages"].items()):
        dw = f"{m['dw_acc']:.3f}" if "dw_acc" in m else "-"
        lines.append(f"{lang:<6}{m['n']:>6}{m['accuracy']:>10.3f}{m['fidelity']:>10.3f}{dw:>8}")
    agg = result["aggregate"]
    lines.append("aggregate: " + ", ".join(f"{k}={v:.3f}" if v is not None else f"{k}=-" for k, v in agg.items()
                                           if v is None or isinstance(v, (int, float))))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbrl.score", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="JSONL with lang, response, answer per row")
    parser.add_argument("--output", required=True, type=Path, help="JSONL to write, with pred and correct added")
    args = parser.parse_args(argv)
    if not args.input.is_file():
        parser.error(f"--input {args.input} not found; pass a JSONL file of predictions")
    rows = read_jsonl(args.input)
    for i, row in enumerate(rows):
        missing = [k for k in ("lang", "response", "answer") if k not in row]
        if missing:
            parser.error(f"row {i} of {args.input} lacks {', '.join(missing)}; each row needs lang, response, answer")
    result = score_predictions(rows)
    atomic_write_jsonl(args.output, result["predictions"])
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
