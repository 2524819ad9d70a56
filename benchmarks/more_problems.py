"""Does a finished run's gain hold on held-out problems nobody has looked at? The untrained policy and
each run's final adapter answer N more problems of the run's evaluation split, none of them in the
run's evaluation or training set; prints the paired change of the non-English average (and English)
on the run's own problems, on the new ones and on both, per run and pooled over the runs.

    python benchmarks/more_problems.py runs/comparison/algo=grpo,reward=hybrid,seed=* --n 64

Why not rerun with a larger `data.eval_size`: the evaluation and training problems come from one
seeded draw, so a larger evaluation set also changes the training problems, and with them the run.
The runs must share one evaluation set and config apart from seed/algo/reward (a sweep's arms do).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


def run_problems(run_dir: Path, split: str | None = None) -> set[str]:
    """Ids of the run's problems (of one split: "eval" or "train"; default both)."""
    from pbrl.rundir import read_jsonl

    return {r["id"] for r in read_jsonl(run_dir / "examples.jsonl") if split in (None, r["split"])}


def run_overrides(run_dir: Path) -> list[str]:
    import yaml

    return list(yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) or [])


def extra_problems(cfg, run_dir: Path, n: int, seed: int = 0) -> list:
    """n problems (in every evaluation language) of the run's evaluation dataset, split and levels that
    are neither among the run's evaluation nor its training problems."""
    from pbrl.data import _at_levels, _common_ids, load_examples

    used = run_problems(run_dir)
    data = cfg.data
    langs = list(cfg.langs.eval)
    pool = load_examples(data.eval_dataset, langs, cfg.paths.data_root, data.hub_ids, data.eval_split,
                         data.number_scale)
    fresh = [i for i in _at_levels(pool, _common_ids(pool), data.eval_levels, data.eval_dataset) if i not in used]
    if n > len(fresh):
        raise SystemExit(f"--n {n}: only {len(fresh)} {data.eval_split} problems are left outside the run; "
                         f"pass --n {len(fresh)} or less")
    chosen = set(random.Random(seed).sample(fresh, n))
    return [e for lang in langs for e in pool[lang] if e.id in chosen]


def pooled_change(befores: list[list[dict]], afters: list[list[dict]]):
    """Non-English change pooled over runs as `analysis.report` pools seeds: each problem's outcome is
    its share of right answers over the runs, and the bootstrap resamples whole problems."""
    from pbrl.stats import ENGLISH, LanguageOutcomes, average_change

    table = LanguageOutcomes.from_rows([*befores, *afters])
    k = len(befores)
    table = table.pooled([list(range(k)), list(range(k, 2 * k))])
    change = average_change(table, [lang for lang in table.languages if lang != ENGLISH])
    return {"delta": change.value, "delta_ci": change.interval(), "excludes_0": change.excludes_zero}


def answers(cfg, adapter, examples, desc: str) -> list[dict]:
    import torch

    from pbrl.data.prompts import make_prompter
    from pbrl.evaluation import evaluate
    from pbrl.generation import stop_at_newline
    from pbrl.policy import load_policy

    policy = load_policy(cfg.policy, Path(cfg.paths.cache).expanduser(), "cpu", adapter=adapter)
    if cfg.data.stop_at_newline:
        stop_at_newline(policy.model, policy.tokenizer)
    prompter = make_prompter(cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset,
                             [*cfg.langs.train, *cfg.langs.eval], cfg.paths.data_root)
    start = time.perf_counter()
    with torch.no_grad():
        result = evaluate(policy.model, policy.tokenizer, examples, cfg.eval, desc=desc, prompter=prompter)
    print(f"{desc}: {time.perf_counter() - start:.0f} s", flush=True)
    return result["predictions"]


def describe(change: dict) -> str:
    """'+2.9 [+0.6, +6.1]*' in points; '[–]' when the interval is undefined (fewer than 2 problems)."""
    ci = change["delta_ci"]
    interval = f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "[–]"
    return f"{100 * change['delta']:+.1f} {interval}{'*' if change['excludes_0'] else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished run folders (with checkpoints/final)")
    parser.add_argument("--n", type=int, default=64, help="new problems per language")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from pbrl.config import compose_config
    from pbrl.stats import paired_changes

    torch.set_num_threads(args.threads)
    cfg = compose_config(run_overrides(args.runs[0]))
    examples = extra_problems(cfg, args.runs[0], args.n)
    eval_ids = run_problems(args.runs[0], "eval")
    before_new = answers(cfg, None, examples, "untrained, new problems")
    pooled = {"own": ([], []), "new": ([], []), "both": ([], [])}  # before, after rows per run
    for run in args.runs:
        if run_problems(run, "eval") != eval_ids:
            raise SystemExit(f"{run}: its evaluation problems differ from {args.runs[0]}'s; pass runs of one sweep")
        run_cfg = compose_config(run_overrides(run))
        after_new = answers(run_cfg, run / "checkpoints" / "final", examples, f"{run.name}, new problems")
        before_own = json.loads((run / "eval_before.json").read_text())["predictions"]
        after_own = json.loads((run / "eval_after.json").read_text())["predictions"]
        sets = {"own": (before_own, after_own), "new": (before_new, after_new),
                "both": (before_own + before_new, after_own + after_new)}
        line = []
        for name, (before, after) in sets.items():
            pooled[name][0].append(before)
            pooled[name][1].append(after)
            change = paired_changes(before, after)
            line.append(f"{name}: non-en {describe(change['non_en_avg'])}, en {describe(change['languages']['en'])}")
        print(f"{run.name}  " + " | ".join(line), flush=True)
    if len(args.runs) > 1:
        line = [f"{name}: non-en {describe(pooled_change(*rows))}" for name, rows in pooled.items()]
        print(f"pooled over {len(args.runs)} runs  " + " | ".join(line))
    per_lang = len(eval_ids)
    print(f"(own: the run's {per_lang} problems per language; new: {args.n} more; both: {per_lang + args.n}; "
          "paired 95 % bootstrap intervals, * = excludes 0)")


if __name__ == "__main__":
    main()
