"""Score response/reference pairs with a reward preset.

    python -m pbrl.rewards.score reward=hybrid input=pairs.jsonl output=scored.jsonl
    python -m pbrl.rewards.score reward=mt langs=en_pt input=pairs.jsonl output=scored.jsonl

Input rows: {"lang": "de", "response": "...", "reference": "<English reference>"} plus optional
"question", "question_en", "answer", "reference_answer", "id" (passed to the rewards as columns).
Output rows: the input row plus one column per component (after gating) and "reward" (the
weighted total; null where every component is null). Other arguments are Hydra overrides of the
project config (conf/config.yaml), e.g. `reward.weights.language=1.0`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pbrl.cli import CliSpec, examples_from, parse_argv
from pbrl.rewards.cli import score_in_batches, set_threads

REQUIRED = ("lang", "response", "reference")
SPEC = CliSpec(
    prog="python -m pbrl.rewards.score",
    summary="Score response/reference pairs with a reward preset.",
    own={"input": ("JSONL with lang, response, reference per row", None),
         "output": ("JSONL to write: the rows with one column per component and reward", None)},
    examples=examples_from(__doc__),
    overrides="Hydra overrides of the project config, as `python -m pbrl.run`: reward=<preset>, "
              "reward.<key>=<value>, threads=",
    old_flags={"--input": "input", "--output": "output", "--reward": "reward"},
)


def config_defaults() -> str:
    """The project config's reward defaults, for --help."""
    from pbrl.config import compose_config

    cfg = compose_config([])
    weights = ", ".join(f"{k}={v}" for k, v in (cfg.reward.weights or {}).items())
    return f"defaults (conf/config.yaml): reward={cfg.reward.name} (weights: {weights}), threads={cfg.threads}"


def read_pairs(path: str) -> list[dict]:
    """The input rows; a bad line (not JSON, a field missing, an unknown language) raises naming it."""
    from pbrl.preflight import read_rows

    return read_rows(path, REQUIRED, "input=<pairs.jsonl>")


def score_rows(reward_set, rows: list[dict]) -> list[dict]:
    """Each row with one column per component and the weighted `reward`."""
    completions = [str(r["response"]) for r in rows]
    keys = sorted({k for r in rows for k in r if k != "response"})
    columns = {k: [r.get(k) for r in rows] for k in keys}
    reward_set.prepare([str(r["reference"]) for r in rows if r.get("reference")])
    batches = score_in_batches(reward_set.total, completions, columns, desc=f"score {reward_set.name}")
    out = []
    offset = 0
    for totals, per_component in batches:
        for j, total in enumerate(totals):
            row = dict(rows[offset + j])
            row.update({name: values[j] for name, values in per_component.items()})
            row["reward"] = total
            out.append(row)
        offset += len(totals)
    return out


def main(argv: list[str] | None = None) -> None:
    from pbrl.preflight import check_models, check_reward, check_writable, compose_checked, one_line_errors
    from pbrl.rewards import build_reward
    from pbrl.rundir import atomic_write_jsonl

    own, overrides = parse_argv(SPEC, argv, defaults=config_defaults)
    with one_line_errors():  # everything the input can get wrong, before any model loads
        cfg = compose_checked(overrides)
        rows_in = read_pairs(own["input"])
        check_reward(cfg.reward, sorted({str(r["lang"]) for r in rows_in}))
        check_models(cfg, policy=False)
        check_writable("output", Path(own["output"]).parent)
    set_threads(cfg.threads)
    with one_line_errors():
        reward_set = build_reward(cfg.reward)
    rows = score_rows(reward_set, rows_in)
    atomic_write_jsonl(own["output"], rows)
    for name, stat in reward_set.stats().items():
        values = [r[name] for r in rows if r[name] is not None]
        mean = f"{sum(values) / len(values):.4f}" if values else "-"
        print(f"{name:>10}: mean {mean}  none {stat['none']}/{stat['calls']}")
    print(f"wrote {len(rows)} rows to {own['output']}")


if __name__ == "__main__":
    main(sys.argv[1:])
