from __future__ import annotations

import json

import pytest

from pbrl.pivot.__main__ import main
from pbrl.rundir import read_jsonl


def test_cli_builds_gold_references(tmp_path, capsys):
    root = tmp_path / "data"
    (root / "gsm8k").mkdir(parents=True)
    rows = [{"question": f"Q{i}?", "answer": f"1 + {i} = <<1+{i}={1 + i}>>{1 + i}\n#### {1 + i}"} for i in range(3)]
    (root / "gsm8k" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    argv = ["pivot=gold", "dataset=gsm8k", "split=train", f"paths.data_root={root}", "limit=2", f"out={out}"]
    assert main(argv) == 0
    refs = read_jsonl(out / "references.jsonl")
    assert [r["reference"] for r in refs] == ["1 + 0 = 1\nThe answer is 1.", "1 + 1 = 2\nThe answer is 2."]
    assert "2/2 references verified" in capsys.readouterr().out


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["pivot=gold", "dataset=mgsm", f"paths.data_root={tmp_path}", f"out={tmp_path / 'o'}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pbrl: error: mgsm file") and "\n" not in err
    assert not (tmp_path / "o").exists()
