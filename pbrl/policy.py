"""Load the policy (model + tokenizer + optional LoRA config) described by a `policy` config node."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pbrl.config import DTYPES, PolicyConfig, as_schema
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
    """auto: bfloat16 on GPUs that have it (compute capability 8.0+: A100, H100; float16 on V100 and
    T4) and on CPUs that multiply in bfloat16 natively (`cpu_has_native_bfloat16`; the default run's
    stages per CPU class are in docs/testing.md); float32 on other CPUs, where bfloat16 is emulated (on an AVX2-only
    CPU a bfloat16 matmul runs ~80x slower than float32). An explicit bfloat16 on a GPU without it fails."""
    if dtype == "auto":
        if device == "cuda":
            return torch.bfloat16 if cuda_has_bfloat16() else torch.float16
        return torch.bfloat16 if cpu_has_native_bfloat16() else torch.float32
    try:
        resolved = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise ValueError(f"unknown policy.dtype '{dtype}'; choose one of: {', '.join(DTYPES)}") from None
    if resolved is torch.bfloat16 and device == "cuda" and not cuda_has_bfloat16():
        raise ValueError(f"policy.dtype=bfloat16 but {torch.cuda.get_device_name()} has no bfloat16 (compute "
                         "capability below 8.0); use policy.dtype=auto (float16 there) or policy.dtype=float16")
    return resolved


def cuda_has_bfloat16() -> bool:
    """Whether the visible GPU computes in bfloat16 (compute capability 8.0+; ROCm GPUs report 9+)."""
    return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8


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


def load_tokenizer(name_or_path: str, chat_template: str | None = None, revision: str | None = None,
                   chat_template_kwargs: dict | None = None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
    if chat_template:
        tokenizer.chat_template = chat_template
    if chat_template_kwargs and isinstance(tokenizer.chat_template, str):
        tokenizer.chat_template = with_template_defaults(tokenizer.chat_template, chat_template_kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def with_template_defaults(template: str, defaults: dict) -> str:
    """`template` with `defaults` for its variables: every renderer of the tokenizer (TRL's rollouts in
    any vLLM mode, pbrl's evaluation, pivot=self, the saved checkpoint) sees them, and an explicit
    `apply_chat_template(..., enable_thinking=True)` still wins. Applying it twice changes nothing.

    Example:
        >>> with_template_defaults("{{ enable_thinking }}", {"enable_thinking": False})
        '{%- if enable_thinking is not defined %}{%- set enable_thinking = false %}{%- endif %}{{ enable_thinking }}'
    """
    header = ""
    for name, value in defaults.items():
        if not str(name).isidentifier():
            raise ValueError(f"policy.chat_template_kwargs key {name!r} is not a template variable name")
        header += f"{{%- if {name} is not defined %}}{{%- set {name} = {_jinja_literal(name, value)} %}}{{%- endif %}}"
    return template if template.startswith(header) else header + template


def _jinja_literal(name: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    raise ValueError(f"policy.chat_template_kwargs.{name}={value!r}: give a bool, number or string")


# TRL's FSDP2 config (trl/accelerate_configs/fsdp2.yaml) as `accelerate launch --config_file` exports
# it: one wrap per decoder layer (the model's _no_split_modules), the checkpoint saved as one HF folder,
# the weights read on rank 0 only and broadcast (others start on the meta device). Activation
# checkpointing stays the model's (policy.gradient_checkpointing, TRL's gradient_checkpointing), not
# FSDP's: transformers refuses both at once, and pbrl's shared-prompt scoring keys its fallback on TRL's.
FSDP_ENVIRONMENT = {
    "ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
    "FSDP_RESHARD_AFTER_FORWARD": "true", "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT",
    "FSDP_CPU_RAM_EFFICIENT_LOADING": "true", "FSDP_SYNC_MODULE_STATES": "true", "FSDP_OFFLOAD_PARAMS": "false",
    "FSDP_ACTIVATION_CHECKPOINTING": "false",
}


def fsdp_environment() -> dict[str, str]:
    """The environment that makes accelerate (and so TRL's trainer) shard the policy with FSDP2."""
    return dict(FSDP_ENVIRONMENT)


def fsdp_enabled(environ=os.environ) -> bool:
    """Whether this process shards the policy with FSDP: pbrl.run's `distributed.sharding=fsdp`, or an
    `accelerate launch` with an FSDP config."""
    return environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def placement(device: str, environ=os.environ) -> dict:
    """`from_pretrained` keywords that put the weights where this rank uses them, read shard by shard
    instead of materialized whole in host RAM first: straight to this rank's GPU (`cuda:LOCAL_RANK`),
    or, under FSDP, on rank 0's CPU only (accelerate shards and broadcasts them).

    Example:
        >>> placement("cuda", {"LOCAL_RANK": "3"})
        {'device_map': {'': 'cuda:3'}}
    """
    if device != "cuda" or fsdp_enabled(environ):
        return {}
    return {"device_map": {"": f"cuda:{int(environ.get('LOCAL_RANK', 0) or 0)}"}}


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

    policy_cfg = as_schema(PolicyConfig, policy_cfg)
    name_or_path = resolve_model(policy_cfg.model, cache_dir)
    dtype = resolve_dtype(policy_cfg.dtype, device)
    source = name_or_path
    if adapter is not None and not (Path(adapter) / "adapter_config.json").exists():
        source = str(adapter)  # a fully fine-tuned checkpoint replaces the base weights
    kwargs = dict(dtype=dtype, revision=policy_cfg.revision if source == name_or_path else None, **placement(device))
    if policy_cfg.attn_implementation:
        kwargs["attn_implementation"] = policy_cfg.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if adapter is not None and source == name_or_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if policy_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    has_tokenizer = adapter is not None and (Path(adapter) / "tokenizer_config.json").exists()
    tokenizer = load_tokenizer(str(adapter) if has_tokenizer else name_or_path, policy_cfg.chat_template,
                               chat_template_kwargs=dict(policy_cfg.chat_template_kwargs or {}))
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return Policy(name_or_path, model, tokenizer, lora_config(policy_cfg.lora), bool(policy_cfg.gradient_checkpointing))
