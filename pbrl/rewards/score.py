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

from pbrl.rewards.cli import score_in_batches, set_threads, split_argv

REQUIRED = ("lang", "response", "reference")


def read_pairs(path: str) -> list[dict]:
    from pbrl.rundir import read_jsonl

    if not Path(path).is_file():
        raise FileNotFoundError(f"input file {path} does not exist; pass input=<pairs.jsonl>")
    rows = read_jsonl(path)
    for i, row in enumerate(rows):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise ValueError(f"{path} row {i + 1} lacks {', '.join(missing)}; every row needs {', '.join(REQUIRED)}")
    return rows


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
    from pbrl.config import compose_config
    from pbrl.rewards import build_reward
    from pbrl.rundir import atomic_write_jsonl

    own, overrides = split_argv(argv, ("input", "output"))
    if "input" not in own or "output" not in own:
        raise SystemExit(
            "usage: python -m pbrl.rewards.score reward=<preset> input=PAIRS.jsonl output=OUT.jsonl [overrides]"
        )
    cfg = compose_config(overrides)
    set_threads(cfg.threads)
    reward_set = build_reward(cfg.reward)
    rows = score_rows(reward_set, read_pairs(own["input"]))
    atomic_write_jsonl(own["output"], rows)
    for name, stat in reward_set.stats().items():
        values = [r[name] for r in rows if r[name] is not None]
        mean = sum(values) / len(values) if values else float("nan")
        print(f"{name:>10}: mean {mean:.4f}  none {stat['none']}/{stat['calls']}")
    print(f"wrote {len(rows)} rows to {own['output']}")


if __name__ == "__main__":
    main(sys.argv[1:])
