"""Score response/reference rows with a `RewardSet`, in batches: one column per component and the
weighted `reward` per row (null where every component is null).

This is the library behind `python -m pbrl.rewards.score`; the command itself (arguments, the
pre-flight, writing the file) is `pbrl.cli.rewards_score`, which runs when this module is run:

    python -m pbrl.rewards.score reward=hybrid input=pairs.jsonl output=scored.jsonl
"""

from __future__ import annotations

import sys

from tqdm import tqdm

BATCH = 64


def score_in_batches(func, completions: list[str], columns: dict[str, list], desc: str) -> list:
    """Call a reward (or `RewardSet.total`) on `BATCH` completions at a time, with a progress bar;
    one result per batch."""
    out = []
    for start in tqdm(range(0, len(completions), BATCH), desc=desc, leave=False):
        end = start + BATCH
        out.append(
            func(prompts=None, completions=completions[start:end], **{k: v[start:end] for k, v in columns.items()})
        )
    return out


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


if __name__ == "__main__":  # `python -m pbrl.rewards.score`: the command lives in the entry layer
    from pbrl.cli.rewards_score import main

    main(sys.argv[1:])
