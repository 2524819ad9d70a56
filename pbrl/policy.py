"""Load the policy (model + tokenizer + optional LoRA config) described by a `policy` config node."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pbrl.models import resolve_model


@dataclass
class Policy:
    name_or_path: str  # resolved local folder or hub id
    model: Any
    tokenizer: Any
    peft_config: Any | None  # peft.LoraConfig, applied by the trainer
    gradient_checkpointing: bool = False


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but no CUDA device is visible; use device=cpu or device=auto")
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """auto: bfloat16 on CUDA and on CPUs that multiply in bfloat16 natively (`cpu_has_native_bfloat16`:
    on 2 EPYC cores SmolLM2-135M with LoRA evaluates 1.07-1.19x and trains 1.22-1.24x faster than in
    float32, benchmarks/cpu_speedups.py); float32 on other CPUs, where bfloat16 is emulated (on an
    AVX2-only CPU a bfloat16 matmul runs ~80x slower than float32)."""
    if dtype == "auto":
        return torch.bfloat16 if device == "cuda" or cpu_has_native_bfloat16() else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise ValueError(f"unknown policy.dtype '{dtype}'; choose one of: auto, float32, bfloat16, float16") from None


# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) at or above which it multiplies bfloat16 in hardware
# (AVX512_CORE_BF16, the AMX levels, AVX10); AVX512_CORE and below emulate it.
_ONEDNN_BF16_ISAS = ("BF16", "AMX", "AVX10", "FP16")


def cpu_has_native_bfloat16() -> bool:
    """Whether torch will run this process's bfloat16 matmuls on bfloat16 hardware: the CPU has
    AVX-512 BF16 or AMX, ATen's kernels are not capped below AVX-512 (ATEN_CPU_CAPABILITY), and
    oneDNN's not below AVX512_CORE_BF16 (ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA). oneDNN's own
    check alone answers yes on AVX-512 CPUs without BF16, where it emulates bfloat16."""
    import torch.cpu

    try:
        hardware = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
    aten = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    onednn_cap = cap in ("ALL", "DEFAULT") or any(isa in cap for isa in _ONEDNN_BF16_ISAS)
    return bool(hardware and onednn and aten and onednn_cap)


def load_tokenizer(name_or_path: str, chat_template: str | None = None, revision: str | None = None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
    if chat_template:
        tokenizer.chat_template = chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def lora_config(lora_cfg):
    if lora_cfg is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lora_cfg.r,
        lora_alpha=lora_cfg.alpha,
        lora_dropout=lora_cfg.dropout,
        target_modules=list(lora_cfg.target_modules),
        layers_to_transform=list(lora_cfg.layers_to_transform) if lora_cfg.layers_to_transform else None,
        task_type="CAUSAL_LM",
    )


def load_policy(policy_cfg, cache_dir: str | os.PathLike, device: str, adapter: str | os.PathLike | None = None) -> Policy:
    """Load the base model; with `adapter`, a trained checkpoint folder (LoRA adapter or full model)."""
    from transformers import AutoModelForCausalLM

    name_or_path = resolve_model(policy_cfg.model, cache_dir)
    dtype = resolve_dtype(policy_cfg.dtype, device)
    source = name_or_path
    if adapter is not None and not (Path(adapter) / "adapter_config.json").exists():
        source = str(adapter)  # a fully fine-tuned checkpoint replaces the base weights
    kwargs = dict(dtype=dtype, revision=policy_cfg.revision if source == name_or_path else None)
    if policy_cfg.attn_implementation:
        kwargs["attn_implementation"] = policy_cfg.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs).to(device)
    if adapter is not None and source == name_or_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if policy_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    has_tokenizer = adapter is not None and (Path(adapter) / "tokenizer_config.json").exists()
    tokenizer = load_tokenizer(str(adapter) if has_tokenizer else name_or_path, policy_cfg.chat_template)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return Policy(name_or_path, model, tokenizer, lora_config(policy_cfg.lora), bool(policy_cfg.gradient_checkpointing))
