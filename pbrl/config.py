"""Typed schema of every config group, registered in Hydra's ConfigStore, and its composition.

Each group's YAML files merge into one of these dataclasses, so a typo'd key or a wrong type fails
at composition. The schema is the one place of every default and of every choice list (a field made
with `choice`); `as_schema` converts a node to its dataclass and checks the choices. Everything the
schema cannot express (languages against datasets, reward parameters, TRL arguments, numeric
ranges, files, hub availability) is checked by `pbrl.cli.preflight`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, TypeVar

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pbrl.errors import ConfigError, unknown_key_message  # noqa: F401  (re-exported)

# conf/ sits at the top of a clone and ships inside the wheel as pbrl/conf (pyproject's package-dir).
_PACKAGED_CONF_DIR = Path(__file__).resolve().parent / "conf"
CONF_DIR = _PACKAGED_CONF_DIR if _PACKAGED_CONF_DIR.is_dir() else Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("policy", "pivot", "reward", "langs", "algo", "data", "eval", "logger")
UNNAMED = "unnamed"  # the `name` of a node built by hand (tests, benchmarks) instead of composed from conf/
# The choice lists (`choice` fields below). Choices backed by a registry of code live in it:
# algo.trainer in pbrl.algos.TRAINER_MODULES, data.*_dataset in pbrl.data.DATASETS.
PIVOT_KINDS = ("gold", "self", "model")
PIVOT_BACKENDS = ("transformers", "vllm")
SHARDING = ("none", "fsdp")
TRAIN_SOURCES = ("parallel", "translate")
TRAIN_ORDERS = ("balanced", "shuffled")
PROMPT_STYLES = ("chat", "plain")
EVAL_BACKENDS = ("pbrl", "lm_eval")
LM_EVAL_MODELS = ("hf", "vllm")
DTYPES = ("auto", "float32", "bfloat16", "float16")
LOGGER_BACKENDS = ("none", "wandb")
LOGGER_MODES = ("auto", "online", "offline", "disabled")
DEVICES = ("auto", "cpu", "cuda")


def choice(default: str, options: tuple[str, ...]):
    """A string field whose value is one of `options` (`as_schema` and the pre-flight check it)."""
    return field(default=default, metadata={"choices": options})


@dataclass
class LoraConfig:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: List[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    layers_to_transform: Optional[List[int]] = None  # null = every layer


@dataclass
class PolicyConfig:
    name: str = MISSING
    model: str = MISSING  # hub id, local folder, or pbrl:<name> from the model store
    revision: Optional[str] = None
    dtype: str = choice("auto", DTYPES)  # auto = bfloat16 on CUDA and on CPUs with native bfloat16 (AVX-512 BF16, AMX), else float32
    lora: Optional[LoraConfig] = None  # null = full fine-tuning
    gradient_checkpointing: bool = False
    attn_implementation: Optional[str] = None
    chat_template: Optional[str] = None  # a Jinja template overriding the tokenizer's
    # Defaults for the chat template's variables wherever it renders (training, evaluation, pivot=self,
    # the saved checkpoint): Qwen3 {enable_thinking: false} answers without a <think> block.
    chat_template_kwargs: Dict[str, Any] = field(default_factory=dict)


@dataclass
class VllmEngineConfig:
    """A vLLM engine pbrl starts in its own process (the pivot, lm-eval's vllm backend)."""

    gpu_memory_utilization: float = 0.4  # share of each GPU the engine claims; the policy holds the rest
    max_model_len: int = 4096  # its KV cache is sized for this context, not the model's (Llama-3.1: 131,072)
    tensor_parallel_size: int = 1  # GPUs one engine spans (a 70B model in bf16: 141 GB, 4 x 80 GB)


@dataclass
class PivotConfig:
    name: str = MISSING
    kind: str = choice("gold", PIVOT_KINDS)
    model: Optional[str] = None
    num_samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int = 256
    batch_size: int = 16
    backend: str = choice("transformers", PIVOT_BACKENDS)
    vllm: VllmEngineConfig = field(default_factory=VllmEngineConfig)  # backend=vllm: runs in its own process
    chat_template_kwargs: Dict[str, Any] = field(default_factory=dict)  # e.g. {enable_thinking: false}


@dataclass
class RewardConfig:
    name: str = MISSING
    components: Dict[str, Any] = MISSING  # name -> {_target_: class, **params} (defaults: the class's own)
    weights: Dict[str, float] = field(default_factory=dict)  # one per component; empty = each 1.0
    gates: Dict[str, str] = field(default_factory=dict)  # component -> component gating it
    gate_threshold: float = 0.5  # a gated component counts where its gate scores >= this, else 0


@dataclass
class LangsConfig:
    name: str = MISSING
    train: List[str] = MISSING
    eval: List[str] = MISSING


@dataclass
class AlgoConfig:
    name: str = MISSING
    trainer: str = MISSING  # grpo | rloo | ppo | sft: pbrl.algos.TRAINER_MODULES
    max_steps: int = 20
    learning_rate: float = 1e-5
    per_device_batch_size: int = 8  # completions per device per step
    gradient_accumulation_steps: int = 1
    num_generations: int = 4
    max_completion_length: int = 128
    temperature: float = 1.0
    beta: float = 0.0  # KL coefficient to the reference policy
    save_steps: int = 10
    logging_steps: int = 1
    args: Dict[str, Any] = field(default_factory=dict)  # passed to the TRL/pbrl trainer config as is


@dataclass
class DataConfig:
    name: str = MISSING
    train_dataset: str = MISSING
    eval_dataset: str = MISSING
    train_size: int = 32
    eval_size: int = 16
    eval_levels: Optional[List[str]] = None  # evaluate only problems of these levels (null = all)
    train_levels: Optional[List[str]] = None  # train only on problems of these levels (null = all)
    eval_split: str = "test"  # split the eval problems come from (gsm8k: test; wordproblems: test | dev)
    number_scale: str = "standard"  # wordproblems: standard (answers <= 100/200) | small (numbers <= 20)
    train_source: str = choice("parallel", TRAIN_SOURCES)
    translator: Optional[Dict[str, Any]] = None
    prompt_style: str = choice("chat", PROMPT_STYLES)  # pbrl.data.prompts, for training rows and evaluation
    few_shot: int = 0  # worked exemplars in the prompt (the dataset's own; MGSM's for the benchmarks)
    stop_at_newline: bool = False  # one-line answers: generation ends at the first line break
    split_seed: int = 0
    # balanced: each language once per len(train langs) rows (pbrl.data.order) | shuffled
    train_order: str = choice("balanced", TRAIN_ORDERS)
    hub_ids: Dict[str, str] = field(default_factory=dict)


@dataclass
class LmEvalConfig:
    tasks: List[str] = field(default_factory=lambda: ["mgsm_native_cot"])  # + mgsm_en_cot mgsm_direct mmlu_prox(_lite)
    model: str = choice("hf", LM_EVAL_MODELS)
    limit: Optional[int] = None  # documents per task (null = all)
    apply_chat_template: bool = True
    model_args: Dict[str, Any] = field(default_factory=dict)  # extra harness model_args (win over the keys below)
    vllm: VllmEngineConfig = field(default_factory=VllmEngineConfig)  # model=vllm: its engine
    chat_template_kwargs: Dict[str, Any] = field(default_factory=dict)  # conf/eval/lm_eval.yaml: the policy's


@dataclass
class EvalConfig:
    name: str = MISSING
    before: bool = True
    after: bool = True
    max_new_tokens: int = 256
    batch_size: int = 16
    max_batch_tokens: Optional[int] = None  # also cap key/value positions per batch: rows x (longest prompt + max_new_tokens)
    few_shot: int = 0
    backend: str = choice("pbrl", EVAL_BACKENDS)  # pbrl: its own loop; lm_eval: lm-evaluation-harness (pbrl.harness)
    lm_eval: LmEvalConfig = field(default_factory=LmEvalConfig)


@dataclass
class LoggerConfig:
    name: str = MISSING
    backend: str = choice("none", LOGGER_BACKENDS)
    project: str = "pbrl"
    entity: Optional[str] = None
    group: Optional[str] = None
    job_type: str = "train"
    tags: List[str] = field(default_factory=list)
    mode: str = choice("auto", LOGGER_MODES)  # auto: online if an API key is set, else offline


@dataclass
class DistributedConfig:
    """Several ranks (SLURM tasks_per_node > 1, torchrun): how they hold the policy and how long they wait."""

    sharding: str = choice("none", SHARDING)  # none: every rank a whole copy (DDP); fsdp: FSDP2 full shard (accelerate)
    timeout_min: int = 120  # collective timeout: ranks wait at barriers while rank 0 builds the pivot and evaluates


@dataclass
class PlanConfig:
    """What the memory plan (`python -m pbrl.plan`) checks a run against."""

    gpu_memory_gb: float = 80.0  # per GPU, GB of 1e9 bytes (an "80 GB" A100 holds 85.9, an H100 85.5)
    gpus: Optional[int] = None  # null: the launcher's nodes x gpus_per_node (1 for a local run)
    prompt_tokens: int = 256  # the longest prompt of a batch, in tokens (an assumption: raise it for few-shot prompts)


@dataclass
class PathsConfig:
    runs: str = "runs"  # run directories go here: <runs>/<name>/<run id>
    data_root: Optional[str] = None
    cache: str = "~/.cache/pbrl"


@dataclass
class PbrlConfig:
    policy: PolicyConfig = MISSING
    pivot: PivotConfig = MISSING
    reward: RewardConfig = MISSING
    langs: LangsConfig = MISSING
    algo: AlgoConfig = MISSING
    data: DataConfig = MISSING
    eval: EvalConfig = MISSING
    logger: LoggerConfig = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    name: str = "default"  # experiment name: the first folder of the run directory
    seed: int = 0
    device: str = choice("auto", DEVICES)
    threads: Optional[int] = None  # torch CPU threads; null = torch's default
    local: Any = None  # conf/local/default.yaml: cluster account, partition, W&B entity (free-form)


Schema = TypeVar("Schema")


def as_schema(schema: type[Schema], cfg) -> Schema:
    """`cfg` as an instance of the dataclass `schema`: what a stage converts its node to, once, where
    it receives it, and then reads without defaults of its own.

    An instance passes as it is. A DictConfig (composed, interpolations resolved) or a plain dict
    (tests, benchmarks: any key may be left out) is merged into the schema, so the schema's defaults
    fill what is missing and a wrong type or an unknown key fails here. A node built by hand needs no
    `name` (the option's label, which composition sets). Values OmegaConf cannot hold (a translator
    object for `data.translator`) are passed on as they are.

    Example:
        >>> as_schema(PivotConfig, {"kind": "self"}).num_samples
        1
    """
    if isinstance(cfg, schema):
        return cfg
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    values = dict(cfg or {})
    objects = {key: value for key, value in values.items() if not _config_value(value)}
    try:
        node = OmegaConf.merge(OmegaConf.structured(schema),
                               {key: value for key, value in values.items() if key not in objects})
        if "name" in OmegaConf.missing_keys(node):
            node.name = UNNAMED
        typed = OmegaConf.to_object(node)
    except OmegaConfBaseException as err:  # many lines; the first names the key
        raise ConfigError(f"{schema.__name__}: {str(err).splitlines()[0]}") from None
    check_choice_fields(typed, schema, _key_of(schema))
    return dataclasses.replace(typed, **objects)


def check_choice_fields(node, schema: type | None = None, prefix: str = "") -> None:
    """Every `choice` field of `node` (a `schema` instance, or a DictConfig/dict of its keys) holds
    one of its options, in the nodes inside it too; nothing else is converted or checked.

    Example:
        >>> check_choice_fields(LoggerConfig(name="x", mode="sometimes"), prefix="logger.")
        ConfigError: unknown logger.mode 'sometimes'; choose one of: auto, online, offline, disabled
    """
    schema = schema or type(node)
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        value = getattr(node, f.name) if dataclasses.is_dataclass(node) else node.get(f.name)
        options = f.metadata.get("choices")
        if options is not None and value not in options:
            raise ConfigError(f"unknown {prefix}{f.name} '{value}'; choose one of: {', '.join(options)}")
        child = next((t for t in (hints[f.name], *typing.get_args(hints[f.name])) if dataclasses.is_dataclass(t)), None)
        if child is not None and value is not None:
            check_choice_fields(value, child, f"{prefix}{f.name}.")


def _key_of(schema: type) -> str:
    """Where nodes of `schema` sit in the root config, as a key prefix ("logger.", "" for the root)."""
    if schema is PbrlConfig:
        return ""
    hints = typing.get_type_hints(PbrlConfig)
    return next((f"{name}." for name, hint in hints.items() if hint is schema), "")


def _config_value(value) -> bool:
    """Whether OmegaConf can hold `value` (a primitive or a container of them)."""
    return value is None or isinstance(value, (str, bytes, int, float, bool, Path, list, tuple, dict,
                                               DictConfig, ListConfig))


def register_configs() -> None:
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="pbrl_schema", node=PbrlConfig)
    if not OmegaConf.has_resolver("pbrl_run_id"):
        OmegaConf.register_new_resolver("pbrl_run_id", run_id)


def run_id(override_dirname: str) -> str:
    """The run folder's name: the overrides that define the run, so a requeued job finds its work."""
    if not override_dirname:
        return "default"
    name = override_dirname.replace("/", "_").replace(" ", "")
    if len(name) > 120:  # file systems cap names at 255 bytes; keep it readable and unique
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[:100]}-{digest}"
    return name


def group_options(group: str) -> list[str]:
    """The options of `group` in pbrl's own conf/ (without a user's `--config-dir`/`hydra.searchpath`)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def search_path_options(config_loader, config_name: str | None, overrides: list[str]) -> Callable[[str], list[str]]:
    """`group -> options` over Hydra's whole search path: pbrl's conf/, `--config-dir`, and
    `hydra.searchpath` from the overrides or the primary config (Hydra's own loader finds them)."""
    return lambda group: sorted(set(config_loader.get_group_options(group, config_name=config_name,
                                                                    overrides=overrides)))


def check_overrides(overrides: list[str], options: Callable[[str], list[str]] = group_options) -> None:
    """Fail fast on `group=option` overrides naming an option that has no YAML file; `options`
    lists a group's options (default: pbrl's conf/ only; see `search_path_options`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    for ov in parsed:
        key = ov.key_or_group
        if key not in GROUPS and key != "experiment":
            continue
        choices = options(key)
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.get_value_element_as_str()]
        for value in values:
            if value not in choices and value != "null":
                raise ConfigError(f"unknown option {key}={value}; choose one of: {', '.join(choices)}")


def compose_config(overrides: list[str] | None = None):
    """Compose conf/config.yaml with overrides outside of `@hydra.main` (CLIs and tests)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    overrides = list(overrides or [])
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        check_overrides(overrides, search_path_options(GlobalHydra.instance().config_loader(), "config", overrides))
        return compose(config_name="config", overrides=overrides)
