"""benchmarks/gpu_check.py: its CPU-checkable parts here; the full check on a GPU (marker `gpu`)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def gpu_check(load_benchmark):
    return load_benchmark("gpu_check")


def test_arguments_and_plan(gpu_check):
    args = gpu_check.parse_args(["--device", "cpu", "--dry-run"])
    assert args.model == "pbrl:tiny" and args.steps == 2 and args.lm_eval_limit == 1
    plan = gpu_check.plan(args)
    assert [row[0] for row in plan] == ["grpo", "pivot", "lora", "lora", "lm_eval"]
    assert plan[0][1] == "" and plan[0][2] == "grpo:hf"  # no vLLM side in a dry run
    assert "experiment=mgsm_llama8b as configured" in plan[3][3] and plan[3][4] == "GB"
    assert gpu_check.LORA_ROWS["llama8b"] == ["experiment=mgsm_llama8b"]
    assert plan[-1][1] == "lm_eval:hf"
    full = gpu_check.parse_args([])
    assert full.device == "cuda" and full.model == "pbrl:smollm2-135m-instruct" and full.lm_eval_limit == 50
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--sections", "grpo,nonsense"])


def fake_wheel(folder: Path, name: str, requires: tuple[str, ...] = ()) -> None:
    """A minimal pure-Python wheel `name` 1.0 whose module is `name` with dashes as underscores."""
    module, dist = name.replace("-", "_"), f"{name.replace('-', '_')}-1.0"
    files = {f"{module}/__init__.py": "VALUE = 1\n",
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
                                           + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{n},,\n" for n in [*files, f"{dist}.dist-info/RECORD"])
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


@pytest.fixture()
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    folder.mkdir()
    fake_wheel(folder, "pbrl-fake-ok")
    fake_wheel(folder, "pbrl-fake-pinned", requires=("torch==0.0.1",))  # like vLLM's exact torch pin
    return folder


def test_install_goes_package_by_package(gpu_check, wheels, tmp_path):
    site = tmp_path / "site"
    done = gpu_check.install_missing(wheels, {"pbrl_fake_ok": "pbrl-fake-ok", "json": "never-installed"},
                                     pip_args=("--target", str(site)))
    assert done == ["pbrl-fake-ok"] and (site / "pbrl_fake_ok" / "__init__.py").exists()


def test_a_package_pip_cannot_install_stops_the_check_naming_it(gpu_check, wheels, tmp_path):
    site = tmp_path / "site"
    with pytest.raises(gpu_check.InstallError, match=r"pip could not install pbrl-fake-pinned from .*wheels: ERROR: "
                                                      r".*torch==0.0.1"):
        gpu_check.install_missing(wheels, {"pbrl_fake_pinned": "pbrl-fake-pinned", "pbrl_fake_ok": "pbrl-fake-ok"},
                                  pip_args=("--target", str(site)))
    assert not (site / "pbrl_fake_ok").exists(), "nothing after the failure runs"
    with pytest.raises(gpu_check.InstallError, match="no wheel folder"):
        gpu_check.install_missing(tmp_path / "absent", {"pbrl_fake_ok": "pbrl-fake-ok"})


def test_lm_eval_row_without_mgsm_files_fails_at_start(gpu_check, tmp_path, monkeypatch):
    monkeypatch.delenv("PBRL_DATA_ROOT", raising=False)
    monkeypatch.setattr(gpu_check, "REPO", tmp_path / "checkout")
    args = gpu_check.parse_args(["--device", "cpu", "--dry-run"])
    with pytest.raises(SystemExit, match="the lm_eval row reads MGSM offline.*PBRL_DATA_ROOT"):
        gpu_check.require_data_root(args)
    gpu_check.require_data_root(gpu_check.parse_args(["--device", "cpu", "--sections", "grpo,lora"]))
    (tmp_path / "data" / "mgsm").mkdir(parents=True)
    monkeypatch.setenv("PBRL_DATA_ROOT", str(tmp_path / "data"))
    gpu_check.require_data_root(args)
    assert args.data_root == (tmp_path / "data").resolve()


def test_table_reports_ratio_failures_and_skips(gpu_check):
    table = gpu_check.format_table([
        {"what": "GRPO", "unit": "s/step", "a": {"value": 0.5, "n": 5, "wall_s": 10}, "b": {"value": 2.0, "n": 5,
                                                                                         "wall_s": 30}},
        {"what": "pivot", "unit": "questions/s", "a": {"skipped": "no vllm"}, "b": {"value": 3.0, "n": 72,
                                                                                   "wall_s": 24}},
        {"what": "lm_eval", "unit": "flexible-extract", "a": {"error": "CUDA out of memory"}},
    ]).splitlines()
    assert table[2] == "| GRPO | 0.500 | 2.000 | 0.25 | s/step | 5/5 | 40 |"
    assert table[3] == "| pivot | – (no vllm) | 3.000 |  | questions/s | 72 | 24 |"
    assert table[4].startswith("| lm_eval | failed: CUDA out of memory | – |")


@pytest.mark.slow
def test_dry_run_on_cpu_runs_every_non_vllm_path(repo_root, tiny_cache, data_root, tmp_path):
    out = tmp_path / "rows.json"
    env = {"PBRL_CACHE": str(tiny_cache), "PBRL_DATA_ROOT": str(data_root), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    import os

    proc = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--dry-run", "--no-install",
                           "--work", str(tmp_path / "work"), "--json", str(out)], cwd=repo_root,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = {row["section"] + ":" + row["what"]: row for row in json.loads(out.read_text())["rows"]}
    grpo = next(r for k, r in rows.items() if k.startswith("grpo"))
    assert grpo["b"]["value"] > 0 and grpo["b"]["n"] == 1 and grpo["a"] == {"skipped": "dry run"}
    pivot = next(r for k, r in rows.items() if k.startswith("pivot"))
    assert pivot["b"]["value"] > 0 and pivot["b"]["n"] == 4
    lora = [r for k, r in rows.items() if k.startswith("lora")]
    assert lora[0]["a"]["value"] > 0 and lora[0]["a"]["plan"] > 0 and "skipped" in lora[1]["a"]
    lm_eval = next(r for k, r in rows.items() if k.startswith("lm_eval"))
    assert lm_eval["a"]["n"] == 1 and 0.0 <= lm_eval["a"]["value"] <= 1.0
    assert "| check | A | B | A/B | unit | n | wall s |" in proc.stdout


@pytest.mark.gpu
def test_full_gpu_check_within_eight_minutes(repo_root, data_root, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    import os

    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--json", str(out)], cwd=repo_root,
                          capture_output=True, text=True, timeout=480,
                          env={**os.environ, "PBRL_DATA_ROOT": str(data_root)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(proc.stdout[-3000:])
    rows = json.loads(out.read_text())["rows"]
    assert all("error" not in row.get(side, {}) for row in rows for side in ("a", "b"))
    for row in rows:  # the memory plan against torch.cuda.max_memory_allocated of the same step
        if row["section"] == "lora" and "value" in row.get("a", {}) and "value" in row.get("b", {}):
            assert row["b"]["value"] == pytest.approx(row["a"]["value"], rel=0.25), row["what"]
