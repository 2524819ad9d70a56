"""`pivot.backend=vllm`: the engine's settings are config keys and it runs in a process of its own.

A stand-in `vllm` package records what pbrl asks of it (vLLM itself needs a GPU)."""

from __future__ import annotations

import json
import textwrap

import pytest

from pbrl.data.example import Example
from pbrl.pivot import sample_references

FAKE_VLLM = textwrap.dedent("""
    import json, os

    class SamplingParams:
        def __init__(self, n=1, **kwargs):
            self.n, self.kwargs = n, kwargs

    class _Out:
        def __init__(self, text):
            self.text = text

    class _Request:
        def __init__(self, outputs):
            self.outputs = outputs

    class LLM:
        def __init__(self, model, **kwargs):
            self.record = {"model": model, "engine": kwargs, "pid": os.getpid(),
                           "rank_vars": sorted(k for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK") if k in os.environ)}

        def chat(self, prompts, params, use_tqdm=True, chat_template_kwargs=None):
            self.record |= {"chat_template_kwargs": chat_template_kwargs, "n": params.n, "params": params.kwargs}
            with open(os.environ["FAKE_VLLM_RECORD"], "w") as f:
                json.dump(self.record, f)
            return [_Request([_Out(f" {p[-1]['content'][:12]} #{i} ") for i in range(params.n)]) for p in prompts]
""")


@pytest.fixture()
def fake_vllm(tmp_path, monkeypatch):
    (tmp_path / "fake" / "vllm").mkdir(parents=True)
    (tmp_path / "fake" / "vllm" / "__init__.py").write_text(FAKE_VLLM)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))  # find_spec("vllm") in this process
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))  # the engine's own process
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(tmp_path / "record.json"))
    for key, value in {"RANK": "0", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    return tmp_path / "record.json"


def test_engine_settings_and_chat_options_reach_vllm_in_its_own_process(fake_vllm, tmp_path):
    import os

    examples = [Example(f"q{i}", "en", f"What is {i} + 1?", f"What is {i} + 1?", str(i + 1)) for i in range(3)]
    pivot = {"kind": "model", "model": "Org/Pivot-70B", "backend": "vllm", "num_samples": 2, "temperature": 0.7,
             "max_new_tokens": 64, "vllm": {"tensor_parallel_size": 4, "gpu_memory_utilization": 0.6,
                                            "max_model_len": 2048},
             "chat_template_kwargs": {"enable_thinking": False}}
    samples = sample_references(examples, "Org/Pivot-70B", pivot, tmp_path / "cache")
    assert [len(s) for s in samples] == [2, 2, 2] and samples[0][1].endswith("#1")
    record = json.loads(fake_vllm.read_text())
    assert record["engine"] == {"seed": 0, "dtype": "float16", "gpu_memory_utilization": 0.6, "max_model_len": 2048,
                                "tensor_parallel_size": 4}  # float16: no bfloat16 GPU here
    assert record["chat_template_kwargs"] == {"enable_thinking": False} and record["n"] == 2
    assert record["params"] == {"temperature": 0.7, "max_tokens": 64, "seed": 0}
    assert record["pid"] != os.getpid() and record["rank_vars"] == []


def test_default_engine_settings_are_the_schema_defaults(fake_vllm, tmp_path):
    from pbrl.config import VllmEngineConfig

    examples = [Example("q0", "en", "What is 1 + 1?", "What is 1 + 1?", "2")]
    sample_references(examples, "Org/Pivot-7B", {"kind": "model", "backend": "vllm"}, tmp_path / "cache")
    engine = json.loads(fake_vllm.read_text())["engine"]
    defaults = VllmEngineConfig()
    assert engine["gpu_memory_utilization"] == defaults.gpu_memory_utilization < 0.9  # not vLLM's 0.9
    assert engine["max_model_len"] == defaults.max_model_len and engine["tensor_parallel_size"] == 1
