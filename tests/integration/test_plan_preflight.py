"""`pbrl.run` on a GPU cluster launcher plans the memory of every job before submitting any."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_a_job_that_cannot_fit_is_refused_before_submission(repo_root, data_root, tmp_path):
    from transformers import AutoConfig

    from pbrl.plan import PUBLISHED_CONFIGS

    values = dict(PUBLISHED_CONFIGS["meta-llama/Llama-3.1-8B-Instruct"])
    folder = tmp_path / "llama-3.1-8b"  # the config alone: pre-flight and the plan read nothing else
    AutoConfig.for_model(values.pop("model_type"), **values).save_pretrained(folder)
    env = os.environ | {"PBRL_DATA_ROOT": str(data_root), "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1",
                        "PYTHONPATH": str(repo_root)}
    cmd = [sys.executable, "-m", "pbrl.run", "-m", "experiment=mgsm_llama8b", f"policy.model={folder}",
           "hydra/launcher=slurm", "logger=none", "plan.gpu_memory_gb=24", "seed=0,1", f"paths.runs={tmp_path}/runs"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("pbrl: error:") == 1 and proc.stderr.strip().count("\n") == 0
    assert "does not fit: the train stage needs 29.1 GB per GPU of 24; largest term: policy weights" in proc.stderr
    assert proc.stdout.count("memory plan, mgsm_llama8b") == 1  # two identical jobs, one table
    assert not (tmp_path / "runs").exists(), "nothing submitted, nothing written"


@pytest.mark.gpu
def test_fsdp_shards_the_policy_on_two_gpus(repo_root, tiny_cache, tmp_path):
    """distributed.sharding=fsdp makes pbrl's TRL trainer (shared-prompt scoring, LoRA, the model's gradient
    checkpointing) an FSDP2 one (accelerate shards on GPUs only) and writes checkpoints/final from every rank's
    shards."""
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 CUDA devices")
    script = tmp_path / "fsdp_probe.py"
    script.write_text(f"""
import datasets
from pathlib import Path
from pbrl.algos.grpo import build_config, trainer_class
from pbrl.algos.trl_training import save_sharded_final
from pbrl.config import LoraConfig, compose_config
from pbrl.policy import load_policy, resolve_device
from pbrl.run import prepare_distributed

cfg = compose_config(["policy=tiny", "distributed.sharding=fsdp", "policy.gradient_checkpointing=true",
                      "algo.max_steps=1", "algo.max_completion_length=8"])
cfg.policy.lora = LoraConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"])
prepare_distributed(cfg)
policy = load_policy(cfg.policy, {str(tiny_cache)!r}, "cuda")
config = build_config(cfg.algo, Path({str(tmp_path)!r}) / "out", 0, "cuda", [1.0], policy.gradient_checkpointing)
rows = [{{"prompt": [{{"role": "user", "content": f"{{i}} + {{i}}?"}}]}} for i in range(8)]
trainer = trainer_class("grpo")(model=policy.model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                                args=config, train_dataset=datasets.Dataset.from_list(rows),
                                processing_class=policy.tokenizer, peft_config=policy.peft_config)
trainer.train()
assert trainer.is_fsdp_enabled
save_sharded_final(trainer, policy.tokenizer, Path({str(tmp_path)!r}) / "final")
""")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script)]
    env = os.environ | {"PYTHONPATH": str(repo_root)}
    proc = subprocess.run(torchrun, capture_output=True, text=True, timeout=600, cwd=repo_root, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "final" / "adapter_config.json").exists() and (tmp_path / "final" / "tokenizer_config.json").exists()
