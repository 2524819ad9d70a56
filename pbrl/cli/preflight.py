"""The pre-flight every entrypoint runs: bad input fails at start, in one line, before any stage
runs or any file is written.

`preflight(cfg)` checks a composed run config for what its typed schema (`pbrl.config`) cannot say:
secrets in config values, numeric ranges, languages against the chosen datasets, the data files and
their values, local model paths (and hub ids when offline), every reward backend against every
language it will score, and that the run directory can be written. `preflight_argv(argv)` runs it
for every job of `python -m pbrl.run <argv>` (each combination of a `-m` sweep,
`pbrl.cli.compose.sweep_configs`). The other commands call the narrower checks they need
(`check_reward`, `check_dataset`, `check_model`, ...) inside `pbrl.cli.errors.one_line_errors()`.

Example:
    >>> from pbrl.config import compose_config
    >>> preflight(compose_config(["algo.learning_rate=-1"]))
    ConfigError: algo.learning_rate=-1.0 must be a finite number > 0; e.g. algo.learning_rate=1e-5
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pbrl.cli.compose import sweep_configs
from pbrl.cli.errors import one_line_errors
from pbrl.cli.inputs import check_range, check_writable
from pbrl.cli.secrets import check_config_secrets
from pbrl.config import DataConfig, PbrlConfig, as_schema, check_choice_fields
from pbrl.errors import ConfigError
from pbrl.hub_errors import hub_offline


# --- numbers -----------------------------------------------------------------------------------


def _number(cfg, key: str, **rule) -> None:
    """The value at `key` of the composed config within the range `rule` gives (`check_range`)."""
    check_range(key, OmegaConf.select(cfg, key), sep="=", **rule)


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


def check_choices(cfg) -> None:
    """Known languages, every choice list of the schema (`pbrl.config.check_choice_fields`), the
    trainer registry, and the choices that need another value."""
    from pbrl.algos import TRAINER_MODULES
    from pbrl.languages import check_languages

    check_languages(cfg.langs.train)
    check_languages(cfg.langs.eval)
    check_choice_fields(cfg, PbrlConfig)
    if cfg.algo.trainer not in TRAINER_MODULES:
        raise ConfigError(f"unknown algo.trainer '{cfg.algo.trainer}'; choose one of: {', '.join(TRAINER_MODULES)}")
    if cfg.pivot.kind == "model" and not cfg.pivot.model:
        raise ConfigError("pivot.kind=model needs pivot.model (a hub id or local folder)")
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
    from pbrl.data import DATASETS, check_dataset_languages
    from pbrl.languages import check_languages

    if dataset not in DATASETS:
        raise ConfigError(f"unknown {role} '{dataset}'; choose from: {', '.join(DATASETS)}")
    langs = check_languages(list(langs))  # an unknown code fails on its own, not as the dataset's
    try:
        check_dataset_languages(dataset, langs)
    except ValueError as err:
        raise ConfigError(f"{role}: {err}") from None
    root = None if data_root is None else str(Path(str(data_root)).expanduser())
    if root is not None or dataset == "demo":
        _load(dataset, tuple(langs), root, split)


@lru_cache(maxsize=64)
def _load(dataset: str, langs: tuple[str, ...], root: str | None, split: str) -> None:
    """Read (and value-check) the files once per process, even across the jobs of a sweep."""
    from pbrl.data import load_examples

    load_examples(dataset, list(langs), root, split=split)


def check_data(cfg) -> None:
    """The data root, and the problems of the languages and splits the data stage will read."""
    from pbrl.data import train_pool

    check_data_root(cfg.paths.data_root)
    data, root = as_schema(DataConfig, cfg.data), cfg.paths.data_root
    train_langs = list(cfg.langs.train)
    if data.train_size != 0 and train_langs:
        source_langs, split = train_pool(data, train_langs)
        check_dataset(data.train_dataset, source_langs, root, split, role="data.train_dataset")
        if data.train_source == "translate" and set(train_langs) - {"en"}:
            check_data_translator(data.translator, [lang for lang in train_langs if lang != "en"])
    if list(cfg.langs.eval):
        check_dataset(data.eval_dataset, list(cfg.langs.eval), root, data.eval_split, role="data.eval_dataset")


def check_data_translator(spec, langs: list[str]) -> None:
    """`data.translator` must translate English into every training language (lazy: no model loads)."""
    from pbrl.data.translate import make_translator

    try:
        translator = make_translator(spec)
    except ValueError as err:
        raise ConfigError(str(err)) from None
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
    """The reward node's structure, component parameters, weights, gates and threshold (the reward
    package's own rules, no weights load), and every backend able to serve every language in `langs`
    (MT language pairs and models, embedding vocabularies)."""
    from pbrl.rewards import validate_reward_config
    from pbrl.rewards.embed import embedding_problems
    from pbrl.rewards.mt import translation_problems

    try:
        reward = validate_reward_config(reward_cfg)
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None
    langs = [str(lang) for lang in langs]
    for problem in translation_problems(reward, langs) + embedding_problems(reward, langs):
        raise ConfigError(problem)


def check_trainer(cfg) -> None:
    from pbrl.algos import check_trainer_args

    check_trainer_args(cfg.algo)


# --- run directory -----------------------------------------------------------------------------


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

