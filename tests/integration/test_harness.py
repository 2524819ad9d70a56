"""`eval.backend=lm_eval`: lm-evaluation-harness on local MGSM, on the tiny policy and a LoRA adapter, offline."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import yaml

pytest.importorskip("lm_eval")

from pbrl.harness import (  # noqa: E402
    command_line,
    evaluate_with_harness,
    family_languages,
    model_args,
    plan_tasks,
    write_local_tasks,
)

LIMIT = 2


@pytest.fixture(scope="module")
def tiny_model(tiny_cache):
    from pbrl.models import resolve_model

    return resolve_model("pbrl:tiny", tiny_cache)


@pytest.fixture(scope="module")
def tiny_adapter(tiny_model, tmp_path_factory):
    """A LoRA adapter with random (non-zero) B matrices, so the adapted model answers differently."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    return folder


def eval_cfg(**lm_eval):
    from omegaconf import OmegaConf

    from pbrl.config import EvalConfig

    cfg = OmegaConf.structured(EvalConfig(name="test", max_new_tokens=8, batch_size=4, backend="lm_eval"))
    cfg.lm_eval.limit = LIMIT
    for key, value in lm_eval.items():
        cfg.lm_eval[key] = value
    return cfg


def test_task_plan_and_languages():
    assert "de" in family_languages("mgsm_native_cot") and "pt" not in family_languages("mgsm_native_cot")
    assert "pt" in family_languages("mmlu_prox") and "pt" in family_languages("mmlu_prox_lite")
    tasks, missing = plan_tasks(["mgsm_native_cot", "mmlu_prox_lite"], ["en", "pt"])
    assert tasks == {"en": ["mgsm_native_cot_en", "mmlu_prox_lite_en"], "pt": ["mmlu_prox_lite_pt"]}
    assert missing == ["mgsm_native_cot_pt"]
    with pytest.raises(ValueError, match="unknown eval.lm_eval.tasks entry 'mgsm'"):
        plan_tasks(["mgsm"], ["en"])


def test_adapter_goes_to_peft_or_lora_local_path(tiny_adapter, tmp_path):
    hf = model_args("hf", "/m/base", str(tiny_adapter), "bfloat16", "cuda")
    assert hf == {"pretrained": "/m/base", "dtype": "bfloat16", "device": "cuda", "peft": str(tiny_adapter)}
    vllm = model_args("vllm", "/m/base", str(tiny_adapter), "bfloat16", "cuda", {"gpu_memory_utilization": 0.4}, 16)
    assert vllm == {"pretrained": "/m/base", "dtype": "bfloat16", "lora_local_path": str(tiny_adapter),
                    "max_lora_rank": 16, "gpu_memory_utilization": 0.4}
    full = tmp_path / "final"
    full.mkdir()  # a fully fine-tuned checkpoint: no adapter_config.json
    assert model_args("hf", "/m/base", str(full), "float32", "cpu")["pretrained"] == str(full)
    cmd = command_line("hf", hf, ["mgsm_native_cot_de"], {"limit": 2, "apply_chat_template": True}, None)
    assert cmd.startswith("lm_eval --model hf --model_args pretrained=/m/base,dtype=bfloat16,device=cuda,peft=")
    assert cmd.endswith("--tasks mgsm_native_cot_de --log_samples --output_path <dir> --limit 2 --apply_chat_template")


def test_vllm_engine_settings_and_chat_options_become_harness_model_args():
    engine = {"gpu_memory_utilization": 0.35, "max_model_len": 3072, "tensor_parallel_size": 4}
    vllm = model_args("vllm", "/m/base", None, "bfloat16", "cuda", engine=engine,
                      chat_template_kwargs={"enable_thinking": False})
    assert vllm == {"pretrained": "/m/base", "dtype": "bfloat16", **engine, "enable_thinking": False}
    hf = model_args("hf", "/m/base", None, "float16", "cuda", {"max_length": 4096}, engine=engine,
                    chat_template_kwargs={"enable_thinking": False, "reasoning": "low"})
    assert hf == {"pretrained": "/m/base", "dtype": "float16", "device": "cuda", "enable_thinking": False,
                  "chat_template_args": {"reasoning": "low"}, "max_length": 4096}  # no vLLM keys for hf
    assert model_args("vllm", "/m", None, "auto", "cuda", {"gpu_memory_utilization": 0.2},
                      engine=engine)["gpu_memory_utilization"] == 0.2  # eval.lm_eval.model_args wins


def test_qwen3_policy_evaluates_without_thinking_through_the_harness():
    from pbrl.config import EvalConfig, as_schema, compose_config

    cfg = compose_config(["eval=lm_eval", "policy=qwen3_32b"])
    assert as_schema(EvalConfig, cfg.eval).lm_eval.chat_template_kwargs == {"enable_thinking": False}
    assert compose_config(["eval=lm_eval"]).eval.lm_eval.chat_template_kwargs == {}


def test_harness_of_rank_zero_runs_alone(tiny_model, data_root, tmp_path, monkeypatch):
    """Rank 0 of a 2-rank run evaluates while rank 1 waits: in-process, the HF backend would read
    WORLD_SIZE=2 and wait for a rank that never joins its process group."""
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29731"}.items():
        monkeypatch.setenv(key, value)
    result = evaluate_with_harness(tiny_model, None, ["de"], eval_cfg(limit=1), tmp_path, data_root=data_root)
    assert result["languages"]["de"]["n"] == 1


def test_local_task_is_the_harness_task_on_local_files(data_root, tmp_path):
    from lm_eval.tasks import TaskManager

    folder = write_local_tasks(["mgsm_native_cot_de", "mgsm_direct_sw", "mmlu_prox_de"], data_root, tmp_path)
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["mgsm_direct_sw.yaml", "mgsm_native_cot_de.yaml"]
    config = yaml.safe_load((folder / "mgsm_native_cot_de.yaml").read_text(encoding="utf-8"))
    assert config["dataset_path"] == "parquet" and config["task"] == "mgsm_native_cot_de"
    assert [f["name"] for f in config["filter_list"]] == ["strict-match", "flexible-extract"]
    task = TaskManager(include_path=str(folder)).load(["mgsm_native_cot_de"])["tasks"]["mgsm_native_cot_de"]
    docs = list(task.test_docs())
    assert len(docs) == 250 and task.doc_to_target(docs[0]) == "18"
    assert task.doc_to_text(docs[0]).startswith("Frage: Janets Enten legen 16 Eier pro Tag.")
    assert task.doc_to_text(docs[0]).endswith("\nSchritt-für-Schritt-Antwort:")
    exemplar = next(iter(task.training_docs()))  # the 8 exemplars as the few-shot split, as on the hub
    assert task.doc_to_target(exemplar).endswith("Die Antwort ist 11.")


def test_harness_on_tiny_policy_before_and_after(tiny_model, tiny_adapter, data_root, tmp_path):
    before = evaluate_with_harness(tiny_model, None, ["en", "de", "pt"], eval_cfg(), tmp_path / "before",
                                   data_root=data_root)
    after = evaluate_with_harness(tiny_model, str(tiny_adapter), ["en", "de"], eval_cfg(), tmp_path / "after",
                                  data_root=data_root)
    assert set(before["languages"]) == {"en", "de"} and before["lm_eval"]["not_defined"] == ["mgsm_native_cot_pt"]
    assert "peft=" in after["lm_eval"]["command"] and "peft=" not in before["lm_eval"]["command"]
    for result in (before, after):
        for lang, m in result["languages"].items():
            task = f"mgsm_native_cot_{lang}"
            assert m["n"] == LIMIT and 0.0 <= m["fidelity"] <= 1.0 and 0.0 <= m["accuracy"] <= 1.0
            for filter_name in ("strict-match", "flexible-extract"):
                logged = [p["lm_eval"][filter_name]["correct"] for p in result["predictions"] if p["lang"] == lang]
                assert m[f"lm_eval/{task}/{filter_name}"] == pytest.approx(sum(logged) / LIMIT)
        assert [p["answer"] for p in result["predictions"] if p["lang"] == "de"] == ["18", "3"]  # local MGSM rows
    responses = lambda r: [p["response"] for p in r["predictions"]]  # noqa: E731
    assert responses(before)[:LIMIT * 2] != responses(after), "the adapter changes what the model answers"
    samples = (tmp_path / "before" / "samples_mgsm_native_cot_de.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(samples) == 2 * LIMIT  # one logged sample per document and filter
    assert json.loads((tmp_path / "before" / "results.json").read_text())["mgsm_native_cot_de"]["sample_len"] == LIMIT


def test_run_with_lm_eval_backend_carries_metrics_into_eval_json_and_analysis(tiny_cache, data_root, tmp_path):
    overrides = ["policy=tiny", "eval=lm_eval", "eval.lm_eval.limit=2", "eval.max_new_tokens=8", "data=mgsm",
                 "data.train_size=4", "data.eval_size=2", "langs=en_pt", "langs.train=[de]", "langs.eval=[en,de]",
                 "reward=accuracy",
                 "algo.max_steps=1", "algo.max_completion_length=8", "threads=2",
                 f"paths.runs={tmp_path}/runs", f"paths.cache={tiny_cache}", f"paths.data_root={data_root}"]
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", *overrides], capture_output=True, text=True,
                          timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "default").iterdir()
    evals = json.loads((run_dir / "eval.json").read_text())
    for when in ("before", "after"):
        de = evals["languages"]["de"][when]
        assert {"n", "accuracy", "fidelity", "lm_eval/mgsm_native_cot_de/strict-match",
                "lm_eval/mgsm_native_cot_de/flexible-extract", "lm_eval/mgsm_native_cot_de/fidelity"} <= set(de)
    before = json.loads((run_dir / "eval_before.json").read_text())
    assert "peft=" not in before["lm_eval"]["command"] and "--samples" in before["lm_eval"]["command"]
    held_out = {json.loads(line)["id"].removeprefix("mgsm-") for line in (run_dir / "examples.jsonl").read_text().splitlines()
                if json.loads(line)["split"] == "eval" and json.loads(line)["lang"] == "de"}
    evaluated = {p["id"].rsplit("/", 1)[1] for p in before["predictions"] if p["lang"] == "de"}
    assert evaluated == held_out and len(held_out) == 2  # only problems the run did not train on
    from pbrl.analysis.collect import harness_metrics, load_sweep
    from pbrl.analysis.report import write_analysis

    runs = load_sweep(tmp_path / "runs" / "default")
    assert harness_metrics(runs) == ["lm_eval/mgsm_native_cot/strict-match", "lm_eval/mgsm_native_cot/flexible-extract",
                                     "lm_eval/mgsm_native_cot/fidelity"]
    flexible = evals["languages"]["de"]["after"]["lm_eval/mgsm_native_cot_de/flexible-extract"]
    assert runs[0].value("de", "after", "lm_eval/mgsm_native_cot/flexible-extract") == flexible
    written = write_analysis(runs, tmp_path / "analysis")
    assert (tmp_path / "analysis" / "lm_eval_mgsm_native_cot_strict-match.csv") in written
    assert "lm-evaluation-harness mgsm_native_cot/flexible-extract" in (tmp_path / "analysis" / "report.md").read_text()


@pytest.mark.parametrize(
    "override, message",
    [
        ("eval.lm_eval.tasks=[mgsm_cot]", "unknown eval.lm_eval.tasks entry 'mgsm_cot'"),
        ("eval.lm_eval.model=vlm", "unknown eval.lm_eval.model 'vlm'; choose one of: hf, vllm"),
        ("eval.lm_eval.limit=0", "eval.lm_eval.limit=0 must be >= 1"),
        ("langs.eval=[pt]", "has no task for the evaluation languages ['pt']"),
        ("eval.backend=harness", "unknown eval.backend 'harness'; choose one of: pbrl, lm_eval"),
    ],
)
def test_bad_harness_settings_fail_at_start_in_one_line(override, message):
    from pbrl.config import compose_config
    from pbrl.cli.preflight import check_config

    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        check_config(compose_config(["eval=lm_eval", override]))
    assert "\n" not in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_harness_without_vllm_names_the_fix():
    from pbrl.config import compose_config
    from pbrl.cli.preflight import check_config

    with pytest.raises(ValueError, match=r"eval.lm_eval.model=vllm needs vllm \(pip install 'pbrl\[vllm\]'\)"):
        check_config(compose_config(["eval=lm_eval", "eval.lm_eval.model=vllm"]))
