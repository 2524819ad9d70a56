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


def _interval(ci) -> str:
    """' [0.207, 1.000]', or ' [–]' for an interval too few problems leave undefined (null)."""
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else " [–]"


def format_table(result: dict) -> str:
    """Per-language n, accuracy with its Wilson 95 % interval, fidelity, DW-ACC; then the aggregates,
    the averages with their bootstrap intervals over problems ([–]: undefined, fewer than 2 problems)."""
    lines = [f"{'lang':<6}{'n':>6}  {'accuracy [95 % CI]':<22}{'fidelity':>9}{'dw_acc':>8}"]
    for lang, m in sorted(result["languages"].items()):
        dw = f"{m['dw_acc']:.3f}" if "dw_acc" in m else "-"
        accuracy = f"{m['accuracy']:.3f}{_interval(m.get('accuracy_ci'))}"
        lines.append(f"{lang:<6}{m['n']:>6}  {accuracy:<22}{m['fidelity']:>9.3f}{dw:>8}")
    agg = result["aggregate"]
    cells = []
    for key, value in agg.items():
        if key.endswith("_ci") or not (value is None or isinstance(value, (int, float))):
            continue
        text = "-" if value is None else f"{value:.3f}"
        if value is not None and f"{key}_ci" in agg:
            text += _interval(agg[f"{key}_ci"])
        cells.append(f"{key}={text}")
    lines.append("aggregate: " + ", ".join(cells))
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
