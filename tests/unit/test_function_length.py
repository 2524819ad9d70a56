"""No function in pbrl/ is longer than 80 lines (def line to the end of its body): a longer one does
several jobs, and the pipeline reads as a list of named stage calls only while each stays short."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pbrl"
LIMIT = 80


def function_lengths() -> dict[str, int]:
    lengths = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    return lengths


def test_no_function_is_longer_than_80_lines():
    lengths = function_lengths()
    assert len(lengths) > 100  # the walk found pbrl's functions
    long = {name: n for name, n in lengths.items() if n > LIMIT}
    assert not long, f"functions over {LIMIT} lines: {long}"
