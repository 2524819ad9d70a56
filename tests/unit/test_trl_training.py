"""TRL arguments on GPUs (mixed precision by hardware), vLLM stop tokens, the FSDP final save, and the
collective timeout `pbrl.run` sets before the pipeline starts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

import pbrl.policy
from pbrl.algos import trl_training
from pbrl.config import compose_config


def arguments(device: str) -> dict:
    return trl_training.training_arguments(compose_config([]).algo, Path("/tmp/x"), 0, device, False)


@pytest.mark.parametrize("bf16_gpu, bf16, fp16", [(True, True, False), (False, False, True)])
def test_gpu_mixed_precision_is_bfloat16_only_where_the_gpu_has_it(monkeypatch, bf16_gpu, bf16, fp16):
    monkeypatch.setattr(pbrl.policy, "cuda_has_bfloat16", lambda: bf16_gpu)
    args = arguments("cuda")
    assert (args["bf16"], args["fp16"], args["use_cpu"]) == (bf16, fp16, False)
    cpu = arguments("cpu")
    assert (cpu["bf16"], cpu["fp16"], cpu["use_cpu"]) == (False, False, True)


def generation_config(eos):
    return SimpleNamespace(eos_token_id=eos)


def test_stop_tokens_reach_vllm_sampling():
    """`data.stop_at_newline` puts line breaks in the model's eos ids; TRL's vLLM path only reads generation_kwargs."""
    config = SimpleNamespace(use_vllm=True, generation_kwargs={"stop_token_ids": [7], "min_tokens": 1})
    kwargs = trl_training.sampling_kwargs(config, generation_config([2, 198, 7]))
    assert kwargs == {"stop_token_ids": [7, 2, 198], "min_tokens": 1}
    assert config.generation_kwargs == {"stop_token_ids": [7], "min_tokens": 1}, "the config's dict is not modified"
    assert trl_training.sampling_kwargs(SimpleNamespace(use_vllm=True, generation_kwargs=None),
                                        generation_config(2)) == {"stop_token_ids": [2]}


def test_without_vllm_generation_kwargs_are_left_to_the_model():
    config = SimpleNamespace(use_vllm=False, generation_kwargs=None)
    assert trl_training.sampling_kwargs(config, generation_config([2, 198])) is None


def test_stop_tokens_fit_the_installed_grpo_config():
    from trl import GRPOConfig

    config = GRPOConfig(output_dir="/tmp/x", use_cpu=True, use_vllm=True, report_to="none",
                        per_device_train_batch_size=2, num_generations=2)
    config.generation_kwargs = trl_training.sampling_kwargs(config, generation_config([2, 198]))
    assert config.generation_kwargs == {"stop_token_ids": [2, 198]}


@pytest.mark.parametrize("trainer", ["grpo", "rloo"])
def test_grpo_train_hands_stop_tokens_to_the_trainers_vllm_config(monkeypatch, tmp_path, trainer):
    """The wiring: `pbrl.algos.grpo.train` sets them before TRL builds its vLLM sampling from the config."""
    import torch

    from pbrl.algos import grpo

    seen = {}

    class FakeTrainer:
        def __init__(self, args, **kwargs):
            seen["generation_kwargs"] = args.generation_kwargs
            self.model = None

    monkeypatch.setattr(grpo, "trainer_class", lambda name: FakeTrainer)
    monkeypatch.setattr(grpo, "share_prefill", lambda model: None)
    monkeypatch.setattr(grpo, "train_trl", lambda *args, **kwargs: None)
    algo = compose_config([f"algo={trainer}", "+algo.args.use_vllm=true"]).algo
    model = SimpleNamespace(device=torch.device("cpu"), generation_config=generation_config([2, 198]))
    policy = SimpleNamespace(model=model, tokenizer=None, peft_config=None, gradient_checkpointing=False)
    rewards = SimpleNamespace(weights=[1.0], funcs=[lambda **kwargs: []])
    grpo.train(policy, None, rewards, algo, tmp_path, None, 0)
    assert seen["generation_kwargs"] == {"stop_token_ids": [2, 198]}


class FakeFsdpTrainer:
    """The parts of a transformers Trainer that the FSDP final save uses."""

    is_fsdp_enabled = True

    def __init__(self, main: bool):
        self.accelerator = SimpleNamespace(is_main_process=main, wait_for_everyone=lambda: None)
        self.saved_to = None

    def save_model(self, output_dir: str):
        self.saved_to = output_dir
        if self.accelerator.is_main_process:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            (Path(output_dir) / "adapter_model.safetensors").write_text("weights")


class FakeTokenizer:
    def save_pretrained(self, folder):
        (Path(folder) / "tokenizer_config.json").write_text("{}")


def test_fsdp_final_save_gathers_on_every_rank_and_rank0_renames(tmp_path):
    final = tmp_path / "checkpoints" / "final"
    other = FakeFsdpTrainer(main=False)
    trl_training.save_sharded_final(other, FakeTokenizer(), final)
    assert other.saved_to == str(final.with_name("final.partial")) and not final.exists()
    main = FakeFsdpTrainer(main=True)
    trl_training.save_sharded_final(main, FakeTokenizer(), final)
    assert sorted(p.name for p in final.iterdir()) == ["adapter_model.safetensors", "tokenizer_config.json"]
    assert not final.with_name("final.partial").exists()


def test_every_rank_releases_its_cached_gpu_memory_before_rank_0_evaluates(monkeypatch, tmp_path):
    """Rank 0's lm-eval vLLM engine spans the GPUs of other ranks (tensor parallel): their allocator caches
    (the training step's activations) go back before the barrier that lets rank 0 go on."""
    import pbrl.isolated

    events = []
    monkeypatch.setattr(pbrl.isolated, "release_accelerator_cache", lambda: events.append("released"))
    trainer = SimpleNamespace(
        accelerator=SimpleNamespace(is_main_process=False, wait_for_everyone=lambda: events.append("barrier")),
        add_callback=lambda callback: None, train=lambda **kwargs: events.append("trained"), model=None)
    trl_training.train_trl(trainer, FakeTokenizer(), tmp_path, tracker=None)
    assert events == ["trained", "released", "barrier"]


def test_several_ranks_get_fsdp_environment_and_a_long_collective_timeout(monkeypatch):
    import accelerate

    import pbrl.run

    started = {}
    monkeypatch.setattr(accelerate, "PartialState", lambda **kwargs: started.update(kwargs))
    cfg = compose_config(["experiment=mgsm_qwen3_32b", "eval.lm_eval.model=hf", "distributed.timeout_min=90"])
    environ = {"WORLD_SIZE": "8"}
    assert pbrl.run.prepare_distributed(cfg, environ)
    assert started["timeout"] == timedelta(minutes=90) and "cpu" in started
    assert environ["ACCELERATE_USE_FSDP"] == "true" and environ["FSDP_ACTIVATION_CHECKPOINTING"] == "false"
    started.clear()
    assert not pbrl.run.prepare_distributed(cfg, {"WORLD_SIZE": "1"}) and started == {}
    plain = {"WORLD_SIZE": "2"}
    assert pbrl.run.prepare_distributed(compose_config([]), plain) and "ACCELERATE_USE_FSDP" not in plain


def test_default_timeout_covers_more_than_torchs_ten_minutes():
    assert compose_config([]).distributed.timeout_min >= 60
