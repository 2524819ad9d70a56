"""Score saved predictions (answer correctness, language fidelity) and print a per-language table.

    python -m pbrl.score input=PRED.jsonl output=SCORED.jsonl
    python -m pbrl.score input=preds/mgsm_de.jsonl output=scored/mgsm_de.jsonl

Input rows: {"lang": "de", "response": "... Die Antwort ist 18.", "answer": "18"} (other fields,
e.g. id, choices, level, are kept). Output rows add `pred` (normalized answer or null), `correct`
and `detected_lang`; a per-language table goes to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pbrl.cli import CliSpec, examples_from, parse_argv
from pbrl.evaluation import score_predictions
from pbrl.preflight import check_writable, one_line_errors, read_rows
from pbrl.rundir import atomic_write_jsonl


def format_table(result: dict) -> str:
    lines = [f"{'lang':<6}{'n':>6}{'accuracy':>10}{'fidelity':>10}{'dw_acc':>8}"]
    for lang, m in sorted(result["languages"].items()):
        dw = f"{m['dw_acc']:.3f}" if "dw_acc" in m else "-"
        lines.append(f"{lang:<6}{m['n']:>6}{m['accuracy']:>10.3f}{m['fidelity']:>10.3f}{dw:>8}")
    agg = result["aggregate"]
    lines.append("aggregate: " + ", ".join(f"{k}={v:.3f}" if v is not None else f"{k}=-" for k, v in agg.items()
                                           if v is None or isinstance(v, (int, float))))
    return "\n".join(lines)


SPEC = CliSpec(
    prog="python -m pbrl.score",
    summary=__doc__.splitlines()[0],
    own={"input": ("JSONL with lang, response, answer per row", None),
         "output": ("JSONL to write: the rows with pred, correct, detected_lang added", None)},
    examples=examples_from(__doc__),
    old_flags={"--input": "input", "--output": "output"},
)


def main(argv: list[str] | None = None) -> int:
    own, _ = parse_argv(SPEC, argv)
    output = Path(own["output"])
    with one_line_errors():  # the shared pre-flight's input checks: one line, exit 2, nothing written
        rows = read_rows(own["input"], ("lang", "response", "answer"), "input=PRED.jsonl (JSONL of predictions)")
        check_writable("output", output.parent)
    result = score_predictions(rows)
    atomic_write_jsonl(output, result["predictions"])
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
