"""An override Hydra's grammar cannot parse is one `pbrl: error:` line naming it and how to quote it,
from `python -m pbrl.run` and the CLIs that take overrides, not Hydra's 26-line traceback."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pbrl.errors import ConfigError
from pbrl.preflight import check_override_syntax

REPO = Path(__file__).resolve().parents[2]
SUGGESTION = re.compile(r"for Hydra and the shell: (.+)$")


def suggested_argument(message: str) -> str:
    """The argument the message tells the user to type, as the shell would pass it."""
    (argument,) = shlex.split(SUGGESTION.search(message).group(1))
    return argument


@pytest.mark.parametrize("override,value", [
    ("hydra.run.dir=runs/seed=1", "runs/seed=1"),     # the case from issue 24
    ("name=a=b", "a=b"),
    ("name=it's=1", "it's=1"),                       # a quote in the value
    ('name=say"hi"=1', 'say"hi"=1'),
    ("name=x]", "x]"),
    ("+algo.args.note=a=b", "a=b"),
])
def test_unparsable_override_names_itself_and_a_quoting_that_parses(override, value):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with pytest.raises(ConfigError) as info:
        check_override_syntax(["policy=tiny", override])
    message = str(info.value)
    assert "\n" not in message and f"cannot parse the override '{override}'" in message
    fixed = suggested_argument(message)
    check_override_syntax([fixed])                                   # the suggestion parses ...
    assert OverridesParser.create().parse_overrides([fixed])[0].value() == value   # ... to the value meant


def test_a_word_without_equals_is_told_the_key_value_form():
    with pytest.raises(ConfigError, match=r"cannot parse the override 'grpo'.*overrides are key=value"):
        check_override_syntax(["grpo"])


def test_pbrl_run_refuses_in_one_line_and_writes_nothing(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", "policy=tiny", "hydra.run.dir=runs/seed=1"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("pbrl: error: cannot parse the override 'hydra.run.dir=runs/seed=1'")
    assert lines[0].endswith("""'hydra.run.dir="runs/seed=1"'""")
    assert sorted(tmp_path.rglob("*")) == []


def test_rewards_score_refuses_in_one_line(tmp_path, capsys):
    from pbrl.rewards.score import main

    src, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"lang": "de", "response": "Die Antwort ist 4.", "reference": "4", "answer": "4"}) + "\n")
    with pytest.raises(SystemExit) as info:
        main(["reward=accuracy", f"input={src}", f"output={out}", "reward.name=a=b"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1
    assert lines[0].startswith("pbrl: error: cannot parse the override 'reward.name=a=b'")   # was: "pbrl: error: None"
    assert not out.exists()
