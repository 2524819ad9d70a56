"""W&B without a server: pbrl.tracking's offline run files, and analysis' W&B Report object.

The offline `.wandb` file is a LevelDB-style log of protobuf `Record`s (what `wandb sync` uploads);
`wandb_records` reads it so the tests can check what a later sync would send.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

wandb = pytest.importorskip("wandb")

BLOCK = 32 * 1024  # LevelDB log block; a record header never straddles two blocks
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> list:
    """The protobuf records of an offline run file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"not a W&B run file: {path}"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if left < 7 or (kind == 0 and length == 0):  # block padding
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (FULL, FIRST):
            pending = b""
        pending += chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def logger_cfg(**changes):
    base = {"name": "wandb", "backend": "wandb", "project": "pbrl-test", "entity": None, "group": "ablation",
            "job_type": "train", "tags": ["tiny", "embed"], "mode": "offline"}
    return OmegaConf.create({**base, **changes})


def offline_files(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    """One tracked run (config, a metrics row, a summary), then the same run directory resumed."""
    from pbrl.tracking import make_tracker

    home = tmp_path_factory.mktemp("home")
    run_dir = tmp_path_factory.mktemp("runs") / "ablation" / "reward=embed"
    run_dir.mkdir(parents=True)
    config = {"reward": {"name": "embed"}, "seed": 3, "logger": {"api_key": "secret"}}
    with pytest.MonkeyPatch.context() as mp:
        for var in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
            mp.delenv(var, raising=False)
        mp.setenv("HOME", str(home))
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_CONFIG_DIR", str(home / "config"))
        mp.setenv("WANDB_CACHE_DIR", str(home / "cache"))
        mp.setenv("WANDB_DATA_DIR", str(home / "data"))
        tracker = make_tracker(logger_cfg(mode="auto"), run_dir, config)
        tracker.log({"step": 1, "reward/mean": 0.25, "rewards/embed/mean": 0.5, "kl": None}, step=1)
        tracker.summary({"eval/after/de/accuracy": 0.5})
        tracker.finish()
        first = offline_files(run_dir)
        resumed = make_tracker(logger_cfg(), run_dir, config)  # a requeued job
        resumed.finish()
    # W&B's service process may still be flushing the last file when finish() returns
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(has_run_record(f) for f in offline_files(run_dir)):
        time.sleep(0.5)
    return run_dir, first


def has_run_record(path: Path) -> bool:
    try:
        return any(r.WhichOneof("record_type") == "run" for r in wandb_records(path))
    except Exception:  # a file still being written
        return False


def run_record(path: Path):
    return next(r.run for r in wandb_records(path) if r.WhichOneof("record_type") == "run")


def test_offline_run_file_holds_group_config_and_tags(offline_run):
    from pbrl.tracking import run_id_for

    run_dir, (path,) = offline_run
    run = run_record(path)
    assert (run.project, run.run_group, run.job_type) == ("pbrl-test", "ablation", "train")
    assert list(run.tags) == ["tiny", "embed"]
    assert run.display_name == "ablation/reward=embed"
    assert run.run_id == run_id_for(run_dir)
    config = {item.key: json.loads(item.value_json) for item in run.config.update if item.key != "_wandb"}
    assert config == {"reward": {"name": "embed"}, "seed": 3, "logger": {"api_key": "<redacted>"}}


def test_offline_run_file_holds_history_and_summary(offline_run):
    _, (path,) = offline_run
    records = wandb_records(path)
    history = [{"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    assert [(h["_step"], h["reward/mean"], h["rewards/embed/mean"]) for h in history] == [(1, 0.25, 0.5)]
    assert all("kl" not in h for h in history)  # None values are not logged
    summary = {i.key: json.loads(i.value_json) for r in records if r.WhichOneof("record_type") == "summary"
               for i in r.summary.update if i.key}
    assert summary["eval/after/de/accuracy"] == 0.5


def test_a_resumed_run_directory_reuses_the_wandb_run_id(offline_run):
    run_dir, first = offline_run
    files = offline_files(run_dir)
    assert len(files) == 2
    assert {run_record(f).run_id for f in files} == {run_record(first[0]).run_id}


def test_wandb_report_is_built_without_a_server():
    pytest.importorskip("wandb_workspaces")
    import wandb_workspaces.reports.v2 as wr

    from pbrl.analysis.wandb_report import build_report

    report = build_report("team", "pbrl", "ablation", ["en", "de", "sw"], ["accuracy", "embed"])
    assert (report.entity, report.project, report.title) == ("team", "pbrl", "pbrl sweep ablation")
    grids = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    assert len(grids) == 3
    for grid in grids:
        (runset,) = grid.runsets
        assert (runset.entity, runset.project, runset.name) == ("team", "pbrl", "ablation")
        assert str(runset.filters) == "Metric(\"Group\") == 'ablation'"
    accuracy, fidelity, curves = (grid.panels for grid in grids)
    assert [p.metrics for p in accuracy] == [["eval/after/en/accuracy"], ["eval/after/de/accuracy"], ["eval/after/sw/accuracy"]]
    assert [p.metrics for p in fidelity] == [["eval/after/de/fidelity"], ["eval/after/sw/fidelity"]]
    assert [p.y for p in curves] == [["reward/mean"], ["rewards/accuracy/mean"], ["rewards/embed/mean"]]
    for panel in accuracy + fidelity + curves:
        panel._to_model()  # serializes to W&B's internal schema with no server
    with pytest.raises(ValueError, match="no languages"):
        build_report("team", "pbrl", "ablation", [], [])


def test_redact_drops_credentials_and_keeps_settings_that_mention_tokens():
    from pbrl.tracking import redact

    config = {"eval": {"max_new_tokens": 256}, "policy": {"tokenizer": "x"}, "logger": {"api_key": "abc"},
              "hub": {"hf_token": "hf_" + "a" * 34, "revision": "0" * 40}, "other": {"note": "0" * 40}}
    assert redact(config) == {"eval": {"max_new_tokens": 256}, "policy": {"tokenizer": "x"},
                              "logger": {"api_key": "<redacted>"},
                              "hub": {"hf_token": "<redacted>", "revision": "0" * 40}, "other": {"note": "<redacted>"}}
