"""`python -m pbrl.rewards.score`: score response/reference pairs with a reward preset.

    python -m pbrl.rewards.score reward=hybrid input=pairs.jsonl output=scored.jsonl
    python -m pbrl.rewards.score reward=mt langs=en_pt input=pairs.jsonl output=scored.jsonl

Input rows: {"lang": "de", "response": "...", "reference": "<English reference>"} plus optional
"question", "question_en", "answer", "reference_answer", "id" (passed to the rewards as columns).
Output rows: the input row plus one column per component (after gating) and "reward" (the
weighted total; null where every component is null). Other arguments are Hydra overrides of the
project config (conf/config.yaml), e.g. `reward.weights.language=1.0`. The scoring itself is
`pbrl.rewards.score.score_rows`.
"""

from __future__ import annotations

from pathlib import Path

from pbrl.cli.args import CliSpec, examples_from, parse_argv
from pbrl.cli.compose import compose_checked
from pbrl.cli.errors import one_line_errors
from pbrl.cli.inputs import check_writable, read_rows, set_threads
from pbrl.cli.preflight import check_models, check_reward

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
    return read_rows(path, REQUIRED, "input=<pairs.jsonl>")


def main(argv: list[str] | None = None) -> None:
    from pbrl.rewards import build_reward
    from pbrl.rewards.score import score_rows
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
