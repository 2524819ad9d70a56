"""The CLIs share the pre-flight: bad input is one `pbrl: error:` line, exit 2, no output written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GOOD = {"lang": "de", "response": "Die Antwort ist 18.", "reference": "The answer is 18.", "answer": "18"}


def write_rows(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def refuse(capsys, main, argv: list[str], output: Path | None) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("pbrl: error: "), lines
    if output is not None:
        assert not output.exists()
    return lines[0]


REWARD_CASES = [
    ("unknown language", [GOOD, dict(GOOD, lang="xx")], [], "line 2: unknown language code 'xx'"),
    ("line not JSON", [GOOD, "{not json"], [], "line 2 is not JSON"),
    ("field missing", [{"lang": "de", "response": "x"}], [], "line 1 lacks reference"),
    ("NaN weight", [GOOD], ["reward.weights.accuracy=nan"], "reward.weights.accuracy=nan"),
    ("MT cannot serve a row's language", [GOOD], ["reward=mt", "langs=en_pt", "reward.components.mt.translator=bergamot",
                                                  "reward.components.mt.translator_model=null"], "covers de"),
    ("secret override", [GOOD], ["+reward.api_key=abc"], "reward.api_key"),
    ("typo'd key", [GOOD], ["reward.wieght=1"], "'reward.wieght'"),
    ("unknown preset", [GOOD], ["reward=hybird"], "reward=hybird"),
]


@pytest.mark.parametrize("case,rows,overrides,names", REWARD_CASES, ids=[c[0] for c in REWARD_CASES])
def test_rewards_score_refuses(case, rows, overrides, names, tmp_path, capsys):
    from pbrl.cli.rewards_score import main

    src, out = write_rows(tmp_path / "pairs.jsonl", rows), tmp_path / "out.jsonl"
    argv = ["reward=accuracy", f"input={src}", f"output={out}", *overrides]
    assert names in refuse(capsys, main, argv, out)


def test_rewards_score_missing_input(tmp_path, capsys):
    from pbrl.cli.rewards_score import main

    out = tmp_path / "out.jsonl"
    line = refuse(capsys, main, ["reward=accuracy", f"input={tmp_path}/nope.jsonl", f"output={out}"], out)
    assert "nope.jsonl does not exist" in line


def test_rewards_score_usage(capsys):
    from pbrl.cli.rewards_score import main

    assert "usage: python -m pbrl.rewards.score" in refuse(capsys, main, ["reward=accuracy"], None)


def test_pbrl_score_refuses(tmp_path, capsys):
    from pbrl.score import main

    out = tmp_path / "scored.jsonl"
    src = write_rows(tmp_path / "pred.jsonl", [{"lang": "en", "response": "4", "answer": "4"}, {"lang": "en"}])
    assert "line 2 lacks response" in refuse(capsys, main, [f"input={src}", f"output={out}"], out)
    write_rows(src, [{"lang": "klingon", "response": "4", "answer": "4"}])
    assert "'klingon'" in refuse(capsys, main, [f"input={src}", f"output={out}"], out)
    blocker = tmp_path / "file"
    blocker.write_text("")
    write_rows(src, [{"lang": "en", "response": "4", "answer": "4"}])
    line = refuse(capsys, main, [f"input={src}", f"output={blocker / 'x.jsonl'}"], None)
    assert str(blocker) in line


@pytest.mark.parametrize(
    "args,names",
    [
        (["pivot.num_samples=0"], "pivot.num_samples=0"),
        (["pivot.temperature=nan"], "pivot.temperature=nan"),
        (["limit=0"], "limit=0"),
        (["limit=many"], "limit='many'"),
        (["pivot=smollm2_135m", "pivot.model=/nonexistent/model"], "pivot.model=/nonexistent/model"),
        (["paths.data_root=/nonexistent/data"], "/nonexistent/data"),
        (["pivot=gld"], "unknown option pivot=gld"),
    ],
    ids=["samples 0", "temperature NaN", "limit 0", "limit not a number", "missing model folder",
         "missing data root", "unknown preset"],
)
def test_pivot_cli_refuses(args, names, tmp_path, capsys, data_root):
    from pbrl.pivot.__main__ import main

    out = tmp_path / "out"
    base = ["pivot=gold", "dataset=mgsm", f"out={out}"]
    if not any(a.startswith("paths.data_root=") for a in args):
        base.append(f"paths.data_root={data_root}")
    assert names in refuse(capsys, main, base + args, out)


OLD_STYLE = [
    ("pbrl.score", ["--input", "p.jsonl", "--output=s.jsonl"], "python -m pbrl.score input=p.jsonl output=s.jsonl"),
    ("pbrl.pivot.__main__", ["--num-samples", "4", "--out", "o"], "python -m pbrl.pivot pivot.num_samples=4 out=o"),
    ("pbrl.cli.rewards_score", ["reward=mt", "--input", "p.jsonl"],
     "python -m pbrl.rewards.score reward=mt input=p.jsonl"),
    ("pbrl.cli.rewards_validate", ["--n", "20"], "python -m pbrl.rewards.validate n=20"),
    ("pbrl.cli.analysis_report", ["runs/cmp", "--baseline", "algo=grpo,reward=accuracy", "--wandb-report"],
     "python -m pbrl.analysis.report runs/cmp baseline=algo=grpo,reward=accuracy wandb_report=true"),
]


@pytest.mark.parametrize("module,argv,new", OLD_STYLE, ids=[c[0] for c in OLD_STYLE])
def test_old_flags_name_the_new_form(module, argv, new, capsys):
    import importlib

    line = refuse(capsys, importlib.import_module(module).main, argv, None)
    assert "old argument style" in line and line.endswith(new)


@pytest.mark.parametrize("module", ["pbrl.score", "pbrl.pivot.__main__", "pbrl.cli.rewards_score",
                                    "pbrl.cli.rewards_validate", "pbrl.cli.analysis_report"])
def test_help_prints_usage_defaults_and_two_examples(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m pbrl.") and "default" in out
    examples = out.split("examples:\n", 1)[1].splitlines()
    assert len(examples) == 2 and all(e.strip().startswith("python -m pbrl.") for e in examples)


@pytest.mark.parametrize("command", ["pbrl.rewards.score", "pbrl.rewards.validate"])
def test_reward_commands_keep_their_names(command):
    """`python -m pbrl.rewards.score|validate` run the commands of the entry layer (pbrl.cli)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", command, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m {command} ")


def test_validate_refuses(tmp_path, capsys, data_root, monkeypatch):
    from pbrl.cli.rewards_validate import main

    monkeypatch.setenv("PBRL_DATA_ROOT", str(data_root))
    out = tmp_path / "report.json"
    assert "n=0" in refuse(capsys, main, ["reward=embed", "data=mgsm", "langs=mgsm", "n=0", f"output={out}"], out)
    line = refuse(capsys, main, ["reward=mt", "reward.components.mt.translator=bergamot",
                                 "reward.components.mt.translator_model=null", "data=mgsm", "langs=mgsm", f"output={out}"], out)
    assert "bergamot" in line and "bn" in line
    assert "'te'" in refuse(capsys, main, ["reward=embed", "data=msvamp", "langs=mgsm", f"output={out}"], out)
