"""The memory plan (`pbrl.plan`): the GPU presets' numbers per GPU, and the refusals that name a fix."""

from __future__ import annotations

import pytest

from pbrl import plan as planner
from pbrl.config import ConfigError
from pbrl.cli import sweep_configs

SLURM_1GPU = ["hydra/launcher=slurm"]
SLURM_8GPU = ["hydra/launcher=slurm_8gpu"]


def plan_of(*overrides: str) -> planner.Plan:
    (cfg,) = list(sweep_configs(list(overrides)))
    return planner.build_plan(cfg)


def term(plan: planner.Plan, stage: str, starts: str) -> planner.Term:
    return next(t for t in plan.terms if t.stage == stage and t.what.startswith(starts))


def test_published_shapes_count_what_the_architectures_hold():
    """Meta-device counts against the closed forms of the published configs (embeddings untied)."""
    qwen = planner.model_shape("Qwen/Qwen3-32B", "/nonexistent")
    h, i, layers, vocab, q, kv = 5120, 25600, 64, 151936, 64 * 128, 8 * 128
    per_layer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h + 2 * 128  # + q_norm and k_norm
    assert qwen.params == 2 * vocab * h + layers * per_layer + h == 32_762_123_264
    llama = planner.model_shape("meta-llama/Llama-3.1-8B-Instruct", "/nonexistent")
    assert llama.params == 8_030_261_248 and llama.kv_bytes(2) == 2 * 32 * 8 * 128 * 2


def test_lora_parameters_of_the_presets():
    """The issue's count for Qwen3-32B (537M, r=64 on 7 modules) and Llama-3.1-8B's."""
    from pbrl.config import LoraConfig

    lora = LoraConfig(r=64, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                            "down_proj"])
    assert planner.lora_parameters(planner.model_shape("Qwen/Qwen3-32B", "/x"), lora) == 536_870_912
    assert planner.lora_parameters(planner.model_shape("meta-llama/Llama-3.1-8B-Instruct", "/x"), lora) == 167_772_160
    top = LoraConfig(r=64, target_modules=["q_proj"], layers_to_transform=[30, 31])
    assert planner.lora_parameters(planner.model_shape("meta-llama/Llama-3.1-8B-Instruct", "/x"), top) == 2 * 64 * 8192


def test_llama8b_preset_fits_one_80gb_gpu():
    plan = plan_of("experiment=mgsm_llama8b", *SLURM_1GPU)
    assert term(plan, "train", "policy weights").gb == pytest.approx(16.06, abs=0.01)
    assert term(plan, "train", "LoRA r=64 on 7 modules: 168M").gb == pytest.approx(2.68, abs=0.01)
    assert 5 < term(plan, "train", "activations: 16 x 768 tokens").gb < 15
    assert plan.total("train") < 40 and planner.refusal(plan) is None


def test_qwen3_32b_on_one_gpu_is_refused_naming_the_weights_and_sharding():
    plan = plan_of("experiment=mgsm_qwen3_32b", *SLURM_1GPU)
    assert term(plan, "train", "policy weights").gb == pytest.approx(65.52, abs=0.01)
    assert term(plan, "train", "LoRA").gb == pytest.approx(8.59, abs=0.01)
    message = planner.refusal(plan)
    assert "does not fit: the train stage needs" in message and "largest term: policy weights" in message
    assert message.endswith("fix: more GPUs with sharding: hydra/launcher=slurm_8gpu distributed.sharding=fsdp")
    assert "\n" not in message


def test_qwen3_32b_fits_eight_gpus_sharded_with_fsdp():
    plan = plan_of("experiment=mgsm_qwen3_32b", *SLURM_8GPU)
    assert plan.resources.ranks == 8 and plan.resources.gpus == 8
    assert term(plan, "train", "policy weights").gb == pytest.approx(65.52 / 8, abs=0.01)
    assert term(plan, "train", "LoRA").gb == pytest.approx(8.59 / 8, abs=0.01)
    assert term(plan, "train", "vLLM rollouts").gb == pytest.approx(0.3 * 80)
    assert term(plan, "host", "rank 0 reads the whole policy").gb == pytest.approx(65.52, abs=0.01)
    assert planner.refusal(plan) is None and plan.total("train") < 80 and plan.total("eval") < 80


def test_eight_gpus_with_one_task_asks_for_one_rank_per_gpu():
    message = planner.refusal(plan_of("experiment=mgsm_qwen3_32b", *SLURM_1GPU, "hydra.launcher.gpus_per_node=8"))
    assert message.endswith("fix: one rank per GPU: hydra.launcher.tasks_per_node=8 distributed.sharding=fsdp")


def test_vllm_rollouts_without_a_context_limit_are_refused():
    """Finding 3: vLLM would size its KV cache for Llama-3.1's 131,072 tokens (17.2 GB) beside 16 GB of weights."""
    plan = plan_of("experiment=mgsm_llama8b", *SLURM_1GPU, "+algo.args.use_vllm=true")
    message = planner.refusal(plan)
    assert "17.2 GB of KV cache for one 131072-token sequence exceed its 0.3 x 80 GB" in message
    assert "fix: algo.args.vllm_max_model_length=1024" in message
    fixed = plan_of("experiment=mgsm_llama8b", *SLURM_1GPU, "+algo.args.use_vllm=true",
                    "+algo.args.vllm_max_model_length=2048")
    assert planner.refusal(fixed) is None and term(fixed, "train", "vLLM rollouts").gb == pytest.approx(24.0)


def test_a_70b_pivot_needs_four_gpus():
    message = planner.refusal(plan_of("experiment=mgsm_llama8b", "pivot=llama70b", *SLURM_1GPU))
    assert "pivot.vllm.tensor_parallel_size=4 needs 4 GPUs on one node, the launcher gives 1" in message
    four = plan_of("experiment=mgsm_llama8b", "pivot=llama70b", *SLURM_1GPU, "hydra.launcher.gpus_per_node=4",
                   "hydra.launcher.tasks_per_node=4")
    assert planner.refusal(four) is None and four.stages()[0] == "pivot"
    squeezed = planner.refusal(plan_of("experiment=mgsm_llama8b", "pivot=llama70b", *SLURM_1GPU,
                                       "hydra.launcher.gpus_per_node=4", "hydra.launcher.tasks_per_node=4",
                                       "pivot.vllm.gpu_memory_utilization=0.3"))
    assert "35.3 GB of weights per GPU" in squeezed and "pivot.vllm.tensor_parallel_size=8" in squeezed


def test_rank_zero_evaluation_of_an_fsdp_policy_is_refused():
    message = planner.refusal(plan_of("experiment=mgsm_qwen3_32b", *SLURM_8GPU, "eval=default"))
    assert "eval.backend=pbrl evaluates on rank 0 alone" in message and "fix: eval=lm_eval" in message


def test_pivot_self_of_an_fsdp_policy_is_refused():
    message = planner.refusal(plan_of("experiment=mgsm_qwen3_32b", *SLURM_8GPU, "pivot=self"))
    assert "pivot=self answers with the policy on rank 0" in message
    assert message.endswith("fix: pivot.kind=model pivot.model=Qwen/Qwen3-32B pivot.backend=vllm")


def test_a_small_host_memory_is_named_with_the_size_to_ask_for():
    message = planner.refusal(plan_of("experiment=mgsm_qwen3_32b", *SLURM_8GPU, "hydra.launcher.mem_gb=64"))
    assert "the host stage needs 97.5 GB per node (hydra.launcher.mem_gb) of 64" in message
    assert message.endswith("fix: hydra.launcher.mem_gb=118")  # 97.5 GB + 20 %


def test_table_has_each_term_and_each_stage_total():
    table = planner.format_plan(plan_of("experiment=mgsm_qwen3_32b", *SLURM_1GPU)).splitlines()
    assert table[0].startswith("memory plan, mgsm_qwen3_32b: policy Qwen/Qwen3-32B (32.76B parameters")
    assert table[1] == "| stage | term | GB per GPU |"
    assert "| train | policy weights (65.5 GB) | 65.5 |" in table
    assert any(line.startswith("| **train** | **total** |") and "(does not fit)" in line for line in table)


def test_check_launch_plans_gpu_cluster_jobs_only(capsys):
    configs = list(sweep_configs(["experiment=mgsm_qwen3_32b", "hydra/launcher=slurm_cpu"]))
    planner.check_launch(configs)  # a CPU cluster: nothing to plan
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigError, match="does not fit: the train stage"):
        planner.check_launch(list(sweep_configs(["-m", "experiment=mgsm_qwen3_32b", *SLURM_1GPU, "seed=0,1"])))
    assert capsys.readouterr().out.count("memory plan, ") == 1, "identical jobs print one table"


@pytest.mark.parametrize("override, message", [
    ("distributed.sharding=zero3", "unknown distributed.sharding 'zero3'; choose one of: none, fsdp"),
    ("eval.lm_eval.vllm.gpu_memory_utilization=1.5", "eval.lm_eval.vllm.gpu_memory_utilization=1.5 must be a share"),
    ("pivot.vllm.tensor_parallel_size=0", "pivot.vllm.tensor_parallel_size=0 must be a number >= 1"),
])
def test_bad_settings_fail_in_one_line(override, message):
    (cfg,) = list(sweep_configs([override]))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        planner.check_settings(cfg)


def test_cli_exits_2_with_one_error_line(capsys):
    from pbrl.cli.plan import main

    with pytest.raises(SystemExit) as exit_:
        main(["experiment=mgsm_qwen3_32b", *SLURM_1GPU])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert "| train | policy weights (65.5 GB) | 65.5 |" in captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith("pbrl: error: mgsm_qwen3_32b")
    assert main(["experiment=mgsm_qwen3_32b", *SLURM_8GPU]) == 0


def test_a_model_without_a_config_offline_names_the_fix():
    with pytest.raises(ConfigError, match="cannot read the config of model 'nobody/unknown-7b' offline"):
        planner.model_config("nobody/unknown-7b", "/nonexistent")
