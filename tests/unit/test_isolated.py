"""`pbrl.isolated`: lm-eval and the vLLM pivot run in a child that is not a rank of the training world."""

from __future__ import annotations

import textwrap

import pytest

from pbrl.isolated import RANK_VARIABLES, run_module, single_process_env

RANKED = {"RANK": "0", "WORLD_SIZE": "8", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "8", "MASTER_ADDR": "node1",
          "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x", "ACCELERATE_USE_FSDP": "true",
          "FSDP_CPU_RAM_EFFICIENT_LOADING": "true", "OMPI_COMM_WORLD_SIZE": "8", "PMI_RANK": "0"}


def test_rank_variables_are_cleared_and_the_rest_kept():
    env = single_process_env(RANKED | {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "0,1,2,3", "SLURM_JOB_ID": "7",
                                       "HF_HUB_OFFLINE": "1"})
    assert env == {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "0,1,2,3", "SLURM_JOB_ID": "7", "HF_HUB_OFFLINE": "1"}


@pytest.fixture()
def probe_module(tmp_path, monkeypatch):
    """A child module that returns the rank variables it sees and the spec it got."""
    (tmp_path / "rank_probe.py").write_text(textwrap.dedent("""
        import os, sys
        from pbrl.isolated import RANK_VARIABLES, child_main

        def work(spec):
            if spec.get("fail"):
                print("first line", file=sys.stderr)
                raise SystemExit("CUDA out of memory. Tried to allocate 2.00 GiB")
            return {"seen": {k: os.environ[k] for k in RANK_VARIABLES if k in os.environ}, "spec": spec}

        if __name__ == "__main__":
            sys.exit(child_main(sys.argv[1:], work))
    """))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "rank_probe"


def test_the_child_of_a_rank_sees_no_rank_variables(probe_module, tmp_path, monkeypatch):
    for key, value in RANKED.items():
        monkeypatch.setenv(key, value)
    result = run_module(probe_module, {"prompts": [["é", 1]]}, tmp_path / "work", "probe")
    assert result == {"seen": {}, "spec": {"prompts": [["é", 1]]}}
    assert set(RANK_VARIABLES) >= {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}


def test_a_failed_child_names_itself_and_its_last_error_line(probe_module, tmp_path):
    with pytest.raises(RuntimeError, match=r"probe failed in its own process \(exit 1\): CUDA out of memory"):
        run_module(probe_module, {"fail": True}, tmp_path / "work", "probe")
