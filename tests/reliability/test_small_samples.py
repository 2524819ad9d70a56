"""Every CLI that aggregates answers on one row and on one problem per language: it finishes, and an
interval those few problems cannot give is undefined (null in JSON, "–" in tables), never a crash.
(`python -m pbrl.score`: tests/unit/test_score_cli.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REFERENCE = "2 + 2 = 4. The answer is 4."
REPLY = {"en": "The answer is {}.", "de": "Die Antwort ist {}.", "sw": "Jibu ni {}."}
ONE_ROW = {"de": [True]}
ONE_PROBLEM_PER_LANGUAGE = {"en": [True], "de": [True], "sw": [False]}


def answer_rows(right: dict[str, list[bool]]) -> list[dict]:
    return [{"id": f"p{i}", "lang": lang, "response": REPLY[lang].format(4 if ok else 5), "answer": "4",
             "reference": REFERENCE} for lang, flags in right.items() for i, ok in enumerate(flags)]


@pytest.mark.parametrize("right", [ONE_ROW, ONE_PROBLEM_PER_LANGUAGE], ids=["one row", "one problem per language"])
def test_rewards_score(right, tmp_path, capsys):
    from pbrl.cli.rewards_score import main

    src, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(row) + "\n" for row in answer_rows(right)), encoding="utf-8")
    main(["reward=hybrid", f"input={src}", f"output={out}", f"paths.cache={tmp_path / 'cache'}"])
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(scored) == len(answer_rows(right)) and all(row["reward"] is not None for row in scored)
    assert f"wrote {len(scored)} rows" in capsys.readouterr().out


@pytest.mark.parametrize("langs,n", [("[en,de]", 1), ("[en,de,sw]", 1), ("[en,de,sw]", 2)],
                         ids=["one row", "one problem per language", "two problems per language"])
def test_rewards_validate(langs, n, tmp_path, capsys):
    from pbrl.cli.rewards_validate import main

    report = main(["reward=embed", "data=demo", f"langs.eval={langs}", f"n={n}", "probes=0",
                   f"paths.cache={tmp_path / 'cache'}", f"output={tmp_path / 'report.json'}"])
    de = report["languages"]["de"]["embed"]
    assert de["n"] == n and de["pos_mean"] is not None
    if n == 1:  # one item has no other item's English to be mismatched with
        assert de["auc"] is None and de["margin"] is None and de["neg_mean"] is None
        assert "     1       –        –" in capsys.readouterr().out
    else:
        assert 0 <= de["auc"] <= 1
    assert json.loads((tmp_path / "report.json").read_text())["languages"]["de"]["embed"]["n"] == n


def write_run(run_dir: Path, before: dict[str, list[bool]], after: dict[str, list[bool]], seed: int) -> None:
    """A run directory with predictions, as pbrl.pipeline writes it."""
    from pbrl.evaluation import score_predictions
    from pbrl.report import merge_evals

    results = {}
    for stage, right in (("before", before), ("after", after)):
        result = score_predictions([dict(row, detected_lang=row["lang"]) for row in answer_rows(right)])
        result["predictions"] = [{k: r[k] for k in ("id", "lang", "pred", "correct", "detected_lang")}
                                 for r in result["predictions"]]
        results[stage] = result
        (run_dir / f"eval_{stage}.json").parent.mkdir(parents=True, exist_ok=True)
        (run_dir / f"eval_{stage}.json").write_text(json.dumps(result))
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nlangs:\n  train: [de]\n")
    (run_dir / ".hydra" / "overrides.yaml").write_text(f"- reward=hybrid\n- seed={seed}\n")
    (run_dir / "eval.json").write_text(json.dumps(merge_evals(results["before"], results["after"], ["de"])))


@pytest.mark.parametrize("after", [ONE_ROW, ONE_PROBLEM_PER_LANGUAGE], ids=["one row", "one problem per language"])
def test_analysis_report(after, tmp_path, capsys):
    from pbrl.cli.analysis_report import main

    before = {lang: [not ok for ok in flags] for lang, flags in after.items()}
    root = tmp_path / "runs" / "tiny"
    for seed in (0, 1):
        write_run(root / f"reward=hybrid,seed={seed}", before, after, seed)
    assert main([str(root)]) == 0
    printed = capsys.readouterr().out
    arm = next(line for line in printed.splitlines() if line.startswith("| reward=hybrid | 2 |"))
    assert "[–]" in arm                           # the non-English average over one problem: undefined
    if "sw" in after:                             # de trained on, sw not: the seen/unseen table
        assert "**Seen vs unseen languages" in printed and "| reward=hybrid | 2 | de |" in printed
    table = (root / "analysis" / "comparison.csv").read_text()
    assert "avg (non-en) lo" in table
