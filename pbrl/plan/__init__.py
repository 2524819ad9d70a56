"""The memory plan of a run: GB per GPU for each stage, against the GPUs the launcher gives, before
anything is submitted or loaded. `python -m pbrl.run` runs it as a pre-flight step on GPU launchers.

    python -m pbrl.plan experiment=mgsm_llama8b hydra/launcher=slurm
    python -m pbrl.plan experiment=mgsm_qwen3_32b hydra/launcher=slurm_8gpu
    python -m pbrl.plan policy=llama8b hydra/launcher=slurm hydra.launcher.gpus_per_node=8 plan.gpu_memory_gb=40

The same `key=value` overrides as `pbrl.run` (launcher included). Prints one table per distinct plan;
a run that cannot fit exits 2 with one `pbrl: error:` line naming the largest term and the fix.
Stages: `pivot` (the pivot model answering, beside the loaded policy), `train` (one optimizer micro-step
after the rollouts), `eval` (evaluation after training, beside what training still holds), `host`
(memory of one node while the policy loads).

Where each term comes from:
- parameters: the model built on the meta device from its config.json (the HF cache, a local folder,
  or the published values in `PUBLISHED_CONFIGS`), counted by torch; bytes = 2 (bf16/fp16) or 4.
- LoRA: r * (in + out) per adapted nn.Linear (PEFT's A: r x in, B: out x r). TRL's GRPOTrainer keeps
  PEFT's autocast_adapter_dtype (fp32 adapters) outside ZeRO-3, and torch's AdamW keeps exp_avg and
  exp_avg_sq in the parameter's dtype: 4 + 4 (gradient) + 8 = 16 bytes a parameter. Full fine-tuning:
  gradient + two AdamW states, 3 x the weights' bytes. DDP adds a gradient bucket (4 bytes a trainable
  parameter); FSDP divides all of these by the ranks (ZeRO-3, Rajbhandari et al. 2020, arXiv 1910.02054)
  and holds two layers unsharded (the one computing, the one prefetched).
- activations, per micro-batch of T = per_device_batch_size x (plan.prompt_tokens + max_completion_length)
  tokens: with gradient checkpointing each decoder layer keeps only its input (T x hidden x bytes;
  Korthikanti et al. 2022, arXiv 2205.05198, section 4) and backward recomputes one layer at a time;
  a layer's saved tensors are counted one by one for a Llama/Qwen block under SDPA (no T x T score
  matrix; the padding mask, B x S x S, is saved per layer), with LoRA's fp32 input copies, dropout
  outputs and masks (`layer_bytes`); TRL's fused LM head (trl/trainer/utils.py add_fused_lm_head)
  scores 4096-token x 32768-vocabulary tiles instead of T x vocabulary logits. Measured against
  what torch allocates on CPU for SmolLM2-135M and the tiny model (tests/integration/test_plan_measured.py).
- KV cache: 2 x layers x kv_heads x head_dim x bytes a token. Transformers rollouts hold it for the
  whole generation batch (per_device_batch_size x steps_per_generation rows).
- vLLM: an engine claims gpu_memory_utilization x the GPU's memory at start, and refuses to start unless
  its weights / tensor_parallel_size plus one max_model_len sequence of KV cache fit in that share.
- CUDA context, NCCL and allocator slack: 1 GB a process (an assumption, not a documented figure).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from functools import lru_cache

from omegaconf import OmegaConf

from pbrl.config import SHARDING, ConfigError

GB = 1e9
CUDA_CONTEXT_GB = 1.0
PROCESS_HOST_GB = 4.0  # host memory of one rank besides model weights (python, torch, CUDA, tokenizer, data)
HEAD_TOKENS, HEAD_VOCAB = 4096, 32768  # TRL's fused LM head tile (kernels/chunked_logprob.py)
ADAPTER_BYTES = 4  # fp32 LoRA weights (PEFT autocast_adapter_dtype=True)
LORA_STATE_BYTES = 16  # fp32 weight + gradient + two AdamW moments
FSDP_UNSHARDED_LAYERS = 2

# The published config.json (https://huggingface.co/<id>/blob/main/config.json) of each model the presets
# name, for planning without the hub; parameter counts follow from them (tests/unit/test_plan.py).
PUBLISHED_CONFIGS = {
    "meta-llama/Llama-3.1-8B-Instruct": {
        "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "max_position_embeddings": 131072, "tie_word_embeddings": False},
    "meta-llama/Llama-3.1-70B-Instruct": {
        "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
        "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
        "max_position_embeddings": 131072, "tie_word_embeddings": False},
    "Qwen/Qwen3-32B": {
        "model_type": "qwen3", "hidden_size": 5120, "intermediate_size": 25600, "num_hidden_layers": 64,
        "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "max_position_embeddings": 40960, "tie_word_embeddings": False},
    "Qwen/Qwen2.5-7B-Instruct": {
        "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
        "max_position_embeddings": 32768, "tie_word_embeddings": False},
    "Qwen/Qwen2.5-1.5B-Instruct": {
        "model_type": "qwen2", "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
        "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
        "max_position_embeddings": 32768, "tie_word_embeddings": True},
    "HuggingFaceTB/SmolLM2-135M-Instruct": {
        "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
        "max_position_embeddings": 8192, "tie_word_embeddings": True},
}
PUBLISHED_CONFIGS["pbrl:smollm2-135m-instruct"] = PUBLISHED_CONFIGS["HuggingFaceTB/SmolLM2-135M-Instruct"]


@dataclass(frozen=True)
class Shape:
    """What the plan needs of a model: counts from its meta-device instance."""

    name: str
    params: int
    layer_params: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    max_positions: int
    linears: tuple  # ((leaf name, in_features, out_features), ...) of one decoder layer

    def kv_bytes(self, dtype_bytes: int) -> int:
        """KV cache bytes per token."""
        return 2 * self.layers * self.kv_heads * self.head_dim * dtype_bytes


@dataclass
class Term:
    stage: str
    what: str
    gb: float
    fix: str = ""  # what to change when this term is the largest of a stage that does not fit


@dataclass
class Resources:
    gpus: int
    gpus_per_node: int
    ranks: int
    gpu_gb: float
    host_gb: float | None  # the launcher's mem_gb per node
    launcher: str  # "slurm" | "local"


@dataclass
class Plan:
    title: str
    resources: Resources
    terms: list[Term] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # hard limits broken (a vLLM engine that cannot start...)

    def total(self, stage: str) -> float:
        return sum(t.gb for t in self.terms if t.stage == stage)

    def capacity(self, stage: str) -> float | None:
        return self.resources.host_gb if stage == "host" else self.resources.gpu_gb

    def stages(self) -> list[str]:
        return list(dict.fromkeys(t.stage for t in self.terms))

    def overflow(self) -> list[str]:
        return [s for s in self.stages() if self.capacity(s) is not None and self.total(s) > self.capacity(s)]


# --- model shapes ------------------------------------------------------------------------------


def model_config(name: str, cache_dir):
    """The transformers config of `name`: a local or pbrl: folder, the HF cache, or `PUBLISHED_CONFIGS`."""
    from transformers import AutoConfig

    from pbrl.models.store import PBRL_PREFIX

    folder = _local_folder(name, cache_dir)
    if folder is not None:
        return AutoConfig.from_pretrained(folder)
    if not name.startswith(PBRL_PREFIX):
        try:
            return AutoConfig.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError):
            pass
    if name in PUBLISHED_CONFIGS:
        values = dict(PUBLISHED_CONFIGS[name])
        return AutoConfig.for_model(values.pop("model_type"), **values)
    raise ConfigError(f"the memory plan cannot read the config of model '{name}' offline; give a local folder "
                      f"(policy.model=/path/to/model) or download it once (hf download {name} config.json)")


def _local_folder(name: str, cache_dir) -> str | None:
    from pathlib import Path

    from pbrl.models import resolve_model
    from pbrl.models.store import PBRL_PREFIX

    if name == "pbrl:tiny":
        return resolve_model(name, cache_dir)  # built in a second
    if name.startswith(PBRL_PREFIX):
        folder = Path(cache_dir).expanduser() / "models" / name[len(PBRL_PREFIX):]
        return str(folder) if (folder / "config.json").exists() else None
    folder = Path(name).expanduser()
    return str(folder) if (folder / "config.json").exists() else None


@lru_cache(maxsize=16)
def model_shape(name: str, cache_dir: str) -> Shape:
    """Parameter counts and dimensions of `name`, from an instance on the meta device (no memory)."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model_config(name, cache_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    layer = model.get_decoder().layers[0]
    text = config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    linears = tuple((n.rsplit(".", 1)[-1], m.in_features, m.out_features) for n, m in layer.named_modules()
                    if isinstance(m, torch.nn.Linear))
    return Shape(name=name, params=sum(p.numel() for p in model.parameters()),
                 layer_params=sum(p.numel() for p in layer.parameters()), layers=text.num_hidden_layers,
                 hidden=text.hidden_size, intermediate=text.intermediate_size, heads=text.num_attention_heads,
                 kv_heads=text.num_key_value_heads, head_dim=head_dim, vocab=text.vocab_size,
                 max_positions=text.max_position_embeddings, linears=linears)


def lora_parameters(shape: Shape, lora) -> int:
    """Trainable LoRA parameters: r x (in + out) per targeted Linear of each adapted layer."""
    if lora is None:
        return 0
    layers = len(lora.layers_to_transform) if lora.layers_to_transform else shape.layers
    per_layer = sum(lora.r * (fan_in + fan_out) for leaf, fan_in, fan_out in shape.linears
                    if leaf in set(lora.target_modules))
    return per_layer * layers


# --- activations ------------------------------------------------------------------------------

# Linears that read the same tensor (their inputs are saved once when they share it).
INPUT_GROUPS = {"q_proj": "attention in", "k_proj": "attention in", "v_proj": "attention in",
                "o_proj": "attention out", "gate_proj": "mlp in", "up_proj": "mlp in", "down_proj": "mlp out"}


def layer_bytes(shape: Shape, rows: int, seq: int, dtype_bytes: int, lora, adapted: bool, device: str) -> float:
    """Bytes one decoder layer keeps for backward on `rows` x `seq` tokens (Llama / Qwen block, SDPA).

    Each RMSNorm keeps its fp32 input (a copy in bf16, the residual itself in fp32); attention keeps the
    rotated queries, the keys and values repeated to the query heads, SDPA's output and logsumexp, and
    the additive padding mask; the MLP keeps gate (SiLU's input), SiLU's output and up. A LoRA module
    keeps its input cast to fp32 (shared only when no cast is needed and no dropout applies), dropout's
    output and mask (bool on CUDA, a float copy in torch's CPU path), and A's r-wide output. Frozen
    base weights keep nothing; full fine-tuning keeps every Linear's input.
    """
    d, tokens = dtype_bytes, rows * seq
    q_width = shape.heads * shape.head_dim
    per_token = 2 * shape.hidden * 4 + 4 * q_width * d + shape.heads * 4 + 3 * shape.intermediate * d
    if lora is None:
        groups = {INPUT_GROUPS.get(leaf, leaf): fan_in for leaf, fan_in, _ in shape.linears}
        per_token += sum(groups.values()) * d
    elif adapted:
        targeted = [(leaf, fan_in) for leaf, fan_in, _ in shape.linears if leaf in set(lora.target_modules)]
        per_token += len(targeted) * lora.r * ADAPTER_BYTES
        if lora.dropout > 0:
            mask = 1 if device == "cuda" else ADAPTER_BYTES
            per_token += sum(fan_in for _, fan_in in targeted) * (ADAPTER_BYTES + mask)
        elif d != ADAPTER_BYTES:
            per_token += sum(fan_in for _, fan_in in targeted) * ADAPTER_BYTES
        else:
            per_token += sum({INPUT_GROUPS.get(leaf, leaf): fan_in for leaf, fan_in in targeted}.values()) * d
    return tokens * per_token + rows * seq * seq * d


def activation_bytes(shape: Shape, rows: int, prompt: int, completion: int, dtype_bytes: int, lora,
                     checkpointing: bool, device: str = "cuda", lm_head: bool = True,
                     shared_prompt: bool = False) -> float:
    """Peak bytes of one training micro-batch's activations (forward kept + backward's working set);
    `lm_head=False`: the decoder layers alone; `shared_prompt`: pbrl's GRPO/RLOO scoring without
    checkpointing (pbrl.algos.shared_prompt), whose head sees only the completion and the last prompt token.

    Checkpointed: every layer's input, plus one layer recomputed with the gradients flowing through it
    (T x (hidden + intermediate) x 8, calibrated on SmolLM2) or the LM head's backward, whichever is
    larger. TRL's fused head scores the completion tokens (every position where Triton is missing, as on
    a CPU) through a 4096 x 32768 buffer; torch's fallback adds seven fp32 temporaries and a mask of
    each tile (4096 x min(vocabulary, 32768)); a trained head accumulates its gradient in fp32.
    """
    seq, d = prompt + completion, dtype_bytes
    tokens = rows * seq
    scored = rows * completion if device == "cuda" else rows * (completion + 1 if shared_prompt else seq - 1)
    tile_tokens, tile_vocab = min(scored, HEAD_TOKENS), min(shape.vocab, HEAD_VOCAB)
    head = tile_tokens * HEAD_VOCAB * d + scored * shape.hidden * 4
    if device != "cuda":
        head += tile_tokens * tile_vocab * (7 * 4 + 1)
    if lora is None:
        head += shape.vocab * shape.hidden * 4
    head *= lm_head
    working = tokens * (shape.hidden + shape.intermediate) * 8
    first = min(lora.layers_to_transform) if lora is not None and lora.layers_to_transform else 0
    adapted = set(lora.layers_to_transform) if lora is not None and lora.layers_to_transform else None

    def saved(index: int) -> float:
        return layer_bytes(shape, rows, seq, d, lora, adapted is None or index in adapted, device)

    if checkpointing:
        return shape.layers * tokens * shape.hidden * d + max(head, saved(shape.layers - 1) + working)
    # Without checkpointing, layers below the first adapted one record nothing for backward.
    return sum(saved(i) for i in range(first, shape.layers)) + max(head, working)


# --- the plan of a composed run -------------------------------------------------------------


def resources(cfg) -> Resources:
    """GPUs, ranks and memory the run gets: a SLURM launcher's nodes x gpus_per_node and tasks, else
    `plan.gpus` (one rank per GPU, as torchrun starts them) or 1; GPU memory from `plan.gpu_memory_gb`."""
    launcher = OmegaConf.select(cfg, "hydra.launcher", default=None)
    target = str(launcher.get("_target_", "")) if launcher is not None else ""
    gpu_gb = float(cfg.plan.gpu_memory_gb)
    if "Slurm" in target:
        nodes, tasks = int(launcher.nodes or 1), int(launcher.tasks_per_node or 1)
        per_node = int(launcher.gpus_per_node or 0)
        gpus = int(cfg.plan.gpus or nodes * per_node)
        return Resources(gpus, per_node or gpus, nodes * tasks, gpu_gb, launcher.get("mem_gb"), "slurm")
    gpus = int(cfg.plan.gpus or 1)
    return Resources(gpus, gpus, gpus, gpu_gb, None, "local")


def is_gpu_cluster_launch(cfg) -> bool:
    launcher = OmegaConf.select(cfg, "hydra.launcher", default=None)
    return launcher is not None and "Slurm" in str(launcher.get("_target_", "")) and bool(launcher.get("gpus_per_node"))


def dtype_bytes(dtype: str) -> int:
    """Bytes of a weight on a GPU: `auto` is bfloat16 (float16 without it), both 2."""
    return 4 if dtype == "float32" else 2


def trl_default(name: str):
    """A GRPOConfig field's default in the installed TRL (pbrl passes `algo.args` to it verbatim)."""
    import dataclasses

    from trl import GRPOConfig

    return next(f.default for f in dataclasses.fields(GRPOConfig) if f.name == name)


def build_plan(cfg) -> Plan:
    """The memory plan of a composed run config (DictConfig from `compose_config` or Hydra)."""
    from pathlib import Path

    from pbrl.config import AlgoConfig, EvalConfig, PivotConfig, PolicyConfig, as_schema

    res = resources(cfg)
    policy, algo = as_schema(PolicyConfig, cfg.policy), as_schema(AlgoConfig, cfg.algo)
    shape = model_shape(policy.model, str(Path(cfg.paths.cache).expanduser()))
    d, fsdp = dtype_bytes(policy.dtype), cfg.distributed.sharding == "fsdp" and res.ranks > 1
    sharding = f", FSDP over {res.ranks} ranks" if fsdp else (f", {res.ranks} ranks (DDP)" if res.ranks > 1 else "")
    plan = Plan(f"{cfg.name}: policy {policy.model} ({shape.params / 1e9:.2f}B parameters, {d}-byte weights) on "
                f"{res.gpus} x {res.gpu_gb:g} GB GPU{'s' * (res.gpus > 1)}{sharding}", res)
    prompt = int(cfg.plan.prompt_tokens)
    loaded = (0.0 if fsdp else shape.params * d / GB) + CUDA_CONTEXT_GB
    if res.ranks > res.gpus:
        plan.problems.append(f"{res.ranks} ranks share {res.gpus} GPUs; fix: hydra.launcher.gpus_per_node="
                             "hydra.launcher.tasks_per_node (one rank per GPU)")
    pivot = as_schema(PivotConfig, cfg.pivot)
    if fsdp and pivot.kind == "self":
        plan.problems.append("pivot=self answers with the policy on rank 0, whose weights FSDP keeps in its host memory "
                             f"until training; fix: pivot.kind=model pivot.model={policy.model} pivot.backend=vllm")
    pivot_terms(plan, pivot, shape, loaded, prompt, str(Path(cfg.paths.cache).expanduser()))
    resident = training_terms(plan, policy, algo, shape, d, fsdp, prompt)
    eval_terms(plan, as_schema(EvalConfig, cfg.eval), shape, d, resident, fsdp, prompt)
    host_terms(plan, shape, d, fsdp)
    return plan


def _add(plan: Plan, stage: str, what: str, nbytes: float, fix: str = "") -> float:
    plan.terms.append(Term(stage, what, nbytes / GB, fix))
    return nbytes / GB


def _more_gpus_fix(res: Resources, fsdp: bool) -> str:
    if res.gpus > res.ranks:
        return f"one rank per GPU: hydra.launcher.tasks_per_node={res.gpus_per_node}" + ("" if fsdp else " distributed.sharding=fsdp")
    if not fsdp:
        return "more GPUs with sharding: hydra/launcher=slurm_8gpu distributed.sharding=fsdp"
    return f"more GPUs: hydra.launcher.nodes=2 (or hydra.launcher.gpus_per_node / tasks_per_node above {res.gpus_per_node})"


def training_terms(plan: Plan, policy, algo, shape: Shape, d: int, fsdp: bool, prompt: int) -> float:
    """Adds the `train` stage; returns the GB per GPU training still holds afterwards."""
    res = plan.resources
    shard = res.ranks if fsdp else 1
    weights_fix = _more_gpus_fix(res, fsdp)
    held = _add(plan, "train", f"policy weights ({shape.params * d / GB:.1f} GB{f' / {shard} ranks' if fsdp else ''})",
                shape.params * d / shard, weights_fix)
    if fsdp:
        held += _add(plan, "train", f"FSDP: {FSDP_UNSHARDED_LAYERS} of {shape.layers} layers gathered whole",
                     FSDP_UNSHARDED_LAYERS * shape.layer_params * d, weights_fix)
    held += _optimizer_terms(plan, policy, algo, shape, d, shard, weights_fix)
    held += _rollout_and_activation_terms(plan, policy, algo, shape, d, prompt)
    return held + _add(plan, "train", "CUDA context, NCCL, allocator slack (assumed)", CUDA_CONTEXT_GB * GB)


def _optimizer_terms(plan: Plan, policy, algo, shape: Shape, d: int, shard: int, weights_fix: str) -> float:
    res, lora = plan.resources, policy.lora
    trainable = lora_parameters(shape, lora)
    if trainable:
        modules = len(set(lora.target_modules) & {leaf for leaf, _, _ in shape.linears})
        held = _add(plan, "train", f"LoRA r={lora.r} on {modules} modules: {trainable / 1e6:.0f}M fp32 parameters + "
                    f"gradients + AdamW{f' / {shard}' if shard > 1 else ''}", trainable * LORA_STATE_BYTES / shard,
                    "a smaller LoRA: policy.lora.r=16, or fewer policy.lora.target_modules")
    else:
        trainable = shape.params
        held = _add(plan, "train", f"full fine-tuning: gradients + AdamW{f' / {shard}' if shard > 1 else ''}",
                    3 * shape.params * d / shard, "LoRA adapters instead of every weight (policy.lora)")
    if res.ranks > 1 and shard == 1:
        held += _add(plan, "train", "DDP gradient buckets", trainable * (ADAPTER_BYTES if lora else d), weights_fix)
    if algo.beta > 0 and not lora:
        held += _add(plan, "train", "reference model (algo.beta > 0)", shape.params * d / shard, weights_fix)
    return held


def _rollout_and_activation_terms(plan: Plan, policy, algo, shape: Shape, d: int, prompt: int) -> float:
    """The colocated vLLM engine and, not at once, the rollout KV cache or the micro-batch's activations
    (the larger of the two). Returns what stays held after training: the engine."""
    args, rows, completion = dict(algo.args or {}), algo.per_device_batch_size, algo.max_completion_length
    held = 0.0
    rollouts = algo.trainer not in ("sft",)
    vllm = rollouts and algo.trainer != "ppo" and bool(args.get("use_vllm", False))
    if vllm and args.get("vllm_mode", trl_default("vllm_mode")) == "colocate":
        held += _colocated_vllm(plan, args, shape, d, prompt + completion)
    acts = activation_bytes(shape, rows, prompt, completion, d, policy.lora, bool(policy.gradient_checkpointing))
    act_fix = ("policy.gradient_checkpointing=true" if not policy.gradient_checkpointing else
               f"shorter completions or micro-batches: algo.max_completion_length={max(completion // 2, 1)} or "
               f"algo.per_device_batch_size={max(rows // 2, 1)} (and double algo.gradient_accumulation_steps)")
    steps = int(args.get("steps_per_generation") or algo.gradient_accumulation_steps)
    generated = rows * steps if algo.trainer in ("grpo", "rloo") else rows
    kv = generated * (prompt + completion) * shape.kv_bytes(d) if rollouts and not vllm else 0
    if kv > acts:
        _add(plan, "train", f"rollout KV cache: {generated} x {prompt + completion} tokens (transformers; "
             f"activations {acts / GB:.1f} GB come after)", kv,
             "rollouts in vLLM (algo.args.use_vllm=true), or +algo.args.steps_per_generation=1")
    else:
        kept = "checkpointed" if policy.gradient_checkpointing else "not checkpointed"
        also = f"; rollout KV cache {kv / GB:.1f} GB comes before" if kv else ""
        _add(plan, "train", f"activations: {rows} x {prompt + completion} tokens, {kept}{also}", acts, act_fix)
    return held


def _colocated_vllm(plan: Plan, args: dict, shape: Shape, d: int, sequence: int) -> float:
    res = plan.resources
    share = float(args.get("vllm_gpu_memory_utilization", trl_default("vllm_gpu_memory_utilization")))
    tp = int(args.get("vllm_tensor_parallel_size", trl_default("vllm_tensor_parallel_size")))
    max_len = args.get("vllm_max_model_length") or shape.max_positions
    engine_problems(plan, "rollouts (TRL colocated vLLM)", "algo.args.vllm_", shape, d, share, tp, int(max_len), sequence)
    if res.ranks % tp:
        plan.problems.append(f"algo.args.vllm_tensor_parallel_size={tp} must divide the {res.ranks} ranks (TRL "
                             f"colocate); fix: algo.args.vllm_tensor_parallel_size={math.gcd(tp, res.ranks)}")
    return _add(plan, "train", f"vLLM rollouts, colocated: {share:g} of each GPU, tensor parallel {tp}",
                share * res.gpu_gb * GB, "a smaller share: algo.args.vllm_gpu_memory_utilization="
                f"{max(share - 0.1, 0.1):.1f}, or algo.args.vllm_mode=server on GPUs of its own")


def engine_problems(plan: Plan, what: str, key: str, shape: Shape, d: int, share: float, tp: int, max_len: int,
                    sequence: int) -> None:
    """vLLM's own start-up checks: its GPUs exist, and weights / tp plus the KV cache of one
    `max_len`-token sequence fit in its share (else it refuses: "max seq len ... larger than the
    maximum number of tokens that can be stored in KV cache")."""
    res = plan.resources
    tp_key = f"{key}tensor_parallel_size"
    len_key = f"{key}max_model_len" if key.endswith(".") else f"{key}max_model_length"
    share_key = f"{key}gpu_memory_utilization"
    if not 0 < share <= 1:
        plan.problems.append(f"{share_key}={share} must be in (0, 1]; e.g. {share_key}=0.4")
        return
    if tp > res.gpus_per_node:
        plan.problems.append(f"{what}: {tp_key}={tp} needs {tp} GPUs on one node, the launcher gives "
                             f"{res.gpus_per_node}; fix: hydra.launcher.gpus_per_node={tp} (and tasks_per_node)")
    if max_len < sequence:
        plan.problems.append(f"{what}: {len_key}={max_len} is shorter than a prompt and its completion "
                             f"({sequence} tokens); fix: {len_key}={_round_up(sequence)}")
    weights, kv = shape.params * d / tp / GB, max_len * shape.kv_bytes(d) / tp / GB
    if weights + kv > share * res.gpu_gb:
        fix = (f"{len_key}={_round_up(sequence)} (it sizes the KV cache, default the model's {shape.max_positions})"
               if kv > weights else f"{tp_key}={tp * 2} on {tp * 2} GPUs, or a larger {share_key}")
        plan.problems.append(f"{what}: {weights:.1f} GB of weights per GPU + {kv:.1f} GB of KV cache for one "
                             f"{max_len}-token sequence exceed its {share:g} x {res.gpu_gb:g} GB; fix: {fix}")


def _round_up(tokens: int) -> int:
    return int(math.ceil(tokens / 1024) * 1024)


def pivot_terms(plan: Plan, pivot, policy_shape: Shape, loaded_gb: float, prompt: int, cache: str) -> None:
    """The `pivot` stage: the pivot model answers after the policy is loaded (pivot.kind=gold: none)."""
    if pivot.kind == "gold":
        return
    res, answers = plan.resources, pivot.batch_size * pivot.num_samples
    sequence = prompt + pivot.max_new_tokens
    _add(plan, "pivot", "the policy, loaded before the pivot runs (with its CUDA context)", loaded_gb * GB,
         "pivot.backend=vllm on GPUs the policy leaves free")
    if pivot.kind == "self":
        _add(plan, "pivot", f"pivot=self: KV cache of {answers} x {sequence} tokens", answers * sequence *
             policy_shape.kv_bytes(2), f"pivot.batch_size={max(pivot.batch_size // 2, 1)}")
        return
    shape = model_shape(pivot.model, cache)
    if pivot.backend == "vllm":
        share, tp = pivot.vllm.gpu_memory_utilization, pivot.vllm.tensor_parallel_size
        engine_problems(plan, f"pivot {pivot.model}", "pivot.vllm.", shape, 2, share, tp,
                        pivot.vllm.max_model_len, sequence)
        _add(plan, "pivot", f"pivot {pivot.model} in vLLM, own process: {share:g} of each of {tp} GPU(s)",
             share * res.gpu_gb * GB, f"pivot.vllm.gpu_memory_utilization={max(share - 0.1, 0.1):.1f} with "
             f"pivot.vllm.tensor_parallel_size={tp * 2}")
        return
    _add(plan, "pivot", f"pivot {pivot.model} weights ({shape.params / 1e9:.1f}B, transformers)", shape.params * 2,
         "pivot.backend=vllm with pivot.vllm.tensor_parallel_size=2 or more")
    _add(plan, "pivot", f"pivot KV cache: {answers} x {sequence} tokens", answers * sequence * shape.kv_bytes(2),
         f"pivot.batch_size={max(pivot.batch_size // 2, 1)}")


def eval_terms(plan: Plan, ev, shape: Shape, d: int, resident_gb: float, fsdp: bool, prompt: int) -> None:
    """The `eval` stage: rank 0 evaluates beside what training still holds on its GPU."""
    if not (ev.before or ev.after):
        return
    sequence = prompt + ev.max_new_tokens
    _add(plan, "eval", "what training still holds (weights, optimizer states, colocated vLLM, context)",
         resident_gb * GB, "eval=lm_eval eval.lm_eval.model=vllm with a smaller eval.lm_eval.vllm.gpu_memory_utilization")
    kv_fix = f"eval.batch_size={max(ev.batch_size // 2, 1)}"
    if ev.backend != "lm_eval":
        if fsdp:
            plan.problems.append("eval.backend=pbrl evaluates on rank 0 alone, which a policy sharded with FSDP "
                                 "cannot do; fix: eval=lm_eval eval.lm_eval.model=vllm")
        _add(plan, "eval", f"generation KV cache: {ev.batch_size} x {sequence} tokens", ev.batch_size * sequence *
             shape.kv_bytes(d), kv_fix)
    elif ev.lm_eval.model == "hf":
        _add(plan, "eval", "lm-eval (hf, own process): a second copy of the policy", shape.params * d,
             "eval.lm_eval.model=vllm with eval.lm_eval.vllm.tensor_parallel_size=2 or more")
        _add(plan, "eval", f"lm-eval KV cache: {ev.batch_size} x {sequence} tokens",
             ev.batch_size * sequence * shape.kv_bytes(d), kv_fix)
    else:
        engine = ev.lm_eval.vllm
        engine_problems(plan, "lm-eval (vllm)", "eval.lm_eval.vllm.", shape, d, engine.gpu_memory_utilization,
                        engine.tensor_parallel_size, engine.max_model_len, sequence)
        _add(plan, "eval", f"lm-eval in vLLM, own process: {engine.gpu_memory_utilization:g} of each of "
             f"{engine.tensor_parallel_size} GPU(s)", engine.gpu_memory_utilization * plan.resources.gpu_gb * GB,
             f"eval.lm_eval.vllm.gpu_memory_utilization={max(engine.gpu_memory_utilization - 0.1, 0.1):.1f}")


def host_terms(plan: Plan, shape: Shape, d: int, fsdp: bool) -> None:
    """The `host` stage, per node, when the launcher states its memory (`mem_gb`)."""
    res = plan.resources
    if res.host_gb is None:
        return
    per_node = max(res.ranks * res.gpus_per_node // max(res.gpus, 1), 1)
    fix = "hydra.launcher.mem_gb={need}"  # filled in by `refusal`
    _add(plan, "host", f"{per_node} rank process(es) x {PROCESS_HOST_GB:g} GB (python, torch, CUDA, data; assumed)",
         per_node * PROCESS_HOST_GB * GB, fix)
    if fsdp:
        _add(plan, "host", "rank 0 reads the whole policy before FSDP broadcasts it", shape.params * d, fix)


# --- output ------------------------------------------------------------------------------------


def format_plan(plan: Plan) -> str:
    """The plan as one short Markdown table: each term, then each stage's total against its capacity."""
    lines = [f"memory plan, {plan.title}", "| stage | term | GB per GPU |", "|---|---|---:|"]
    for stage in plan.stages():
        for term in (t for t in plan.terms if t.stage == stage):
            lines.append(f"| {stage} | {term.what} | {term.gb:.1f} |")
        capacity = plan.capacity(stage)
        total = plan.total(stage)
        verdict = "" if capacity is None else f" of {capacity:g}" + (" (does not fit)" if total > capacity else "")
        unit = " GB per node" if stage == "host" else ""
        lines.append(f"| **{stage}** | **total{unit}** | **{total:.1f}{verdict}** |")
    return "\n".join(lines)


def refusal(plan: Plan) -> str | None:
    """One line naming why the run cannot fit and the fix, or None when it fits: the largest term of the
    stage that overflows most, else the first broken hard limit (a vLLM engine that cannot start)."""
    over = plan.overflow()
    if not over:
        return f"{plan.title}: {plan.problems[0]}" if plan.problems else None
    stage = over[0]  # stages in order: pivot, train, eval (which holds what training holds), host
    largest = max((t for t in plan.terms if t.stage == stage), key=lambda t: t.gb)
    need = math.ceil(round(plan.total(stage) * 1.2, 3))  # 20 % headroom
    where = "per node (hydra.launcher.mem_gb)" if stage == "host" else "per GPU"
    return (f"{plan.title} does not fit: the {stage} stage needs {plan.total(stage):.1f} GB {where} of "
            f"{plan.capacity(stage):g}; largest term: {largest.what}, {largest.gb:.1f} GB; fix: "
            f"{largest.fix.format(need=need)}")


def check_settings(cfg) -> None:
    """The plan's and the distributed settings' own values, for every run (one line on a bad one)."""
    if cfg.distributed.sharding not in SHARDING:
        raise ConfigError(f"unknown distributed.sharding '{cfg.distributed.sharding}'; choose one of: "
                          f"{', '.join(SHARDING)}")
    for key, low in (("distributed.timeout_min", 1), ("plan.gpu_memory_gb", 1), ("plan.prompt_tokens", 1),
                     ("pivot.vllm.max_model_len", 1), ("pivot.vllm.tensor_parallel_size", 1),
                     ("eval.lm_eval.vllm.max_model_len", 1), ("eval.lm_eval.vllm.tensor_parallel_size", 1)):
        value = OmegaConf.select(cfg, key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= low:
            raise ConfigError(f"{key}={value!r} must be a number >= {low}")
    for key in ("pivot.vllm.gpu_memory_utilization", "eval.lm_eval.vllm.gpu_memory_utilization"):
        value = OmegaConf.select(cfg, key)
        if not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ConfigError(f"{key}={value!r} must be a share of the GPU in (0, 1]; e.g. {key}=0.4")


def check_launch(configs, out=None) -> None:
    """`pbrl.run`'s pre-flight step: every job's settings; on a GPU cluster launcher its memory plan,
    printed once per distinct plan, and a ConfigError (one line) for a job that cannot fit."""
    printed = set()
    for cfg in configs:
        check_settings(cfg)
        if not is_gpu_cluster_launch(cfg):
            continue
        plan = build_plan(cfg)
        table = format_plan(plan)
        if table not in printed:
            printed.add(table)
            print(table, file=out or sys.stdout, flush=True)
        message = refusal(plan)
        if message:
            raise ConfigError(message)
