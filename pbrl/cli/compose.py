"""The project config as a command sees it: overrides parsed and refused in one line, then composed.

`compose_checked(overrides)` is `pbrl.config.compose_config` for the `key=value` CLIs.
`sweep_configs(argv)` yields each job config `python -m pbrl.run <argv>` would run, through Hydra's
own argument parser, search path and config loader, and for `-m` its basic sweeper's split of the
sweep into jobs, so the pre-flight checks exactly what Hydra will run.

Example:
    >>> compose_checked(["hydra.run.dir=runs/seed=1"])
    ConfigError: cannot parse the override 'hydra.run.dir=runs/seed=1' (...); quote a value holding = , ...:
    'hydra.run.dir="runs/seed=1"'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from omegaconf import DictConfig, OmegaConf

from pbrl.cli.errors import explain_composition_error
from pbrl.cli.secrets import check_config_secrets, check_override_secrets
from pbrl.config import CONF_DIR, check_overrides, compose_config, register_configs, search_path_options
from pbrl.errors import ConfigError


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


def compose_checked(overrides: list[str]):
    """`pbrl.config.compose_config` for the CLIs: secrets refused, composition errors in one line."""
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


def _not_hydra(overrides: Iterable[str]) -> list[str]:
    return [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]


def sweep_configs(argv: list[str]) -> Iterator[DictConfig]:
    """Each job config `python -m pbrl.run <argv>` would run: Hydra's own argument parser, search
    path (`-cd`, `-cn`) and config loader, and for `-m` the basic sweeper's split of the sweep
    (config `hydra.sweeper.params` plus command-line sweeps) into the cartesian product of jobs."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import get_args_parser
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    args = get_args_parser().parse_args(argv)
    overrides = list(args.overrides)
    check_override_syntax(overrides)
    check_override_secrets(overrides)
    register_configs()
    config_name = args.config_name or "config"
    GlobalHydra.instance().clear()
    hydra = Hydra.create_main_hydra2(task_name="pbrl", config_search_path=_search_path(args.config_dir))
    # a group's options come from the whole search path: a user's `--config-dir` adds options
    options = search_path_options(hydra.config_loader, config_name, overrides)
    try:
        check_overrides(_not_hydra(overrides), options)
        mode = RunMode.MULTIRUN if args.multirun else RunMode.RUN
        try:
            master = hydra.compose_config(config_name, overrides, run_mode=mode, with_log_configuration=False)
        except Exception as exc:  # Hydra composition / OmegaConf validation: many lines, one cause
            raise ConfigError(explain_composition_error(exc, overrides)) from None
        if args.multirun:
            yield from _sweep_jobs(hydra, master, options)
        else:
            yield master
    finally:
        GlobalHydra.instance().clear()


def _search_path(config_dir: str | None):
    """pbrl's conf/, with a user's `--config-dir` in front of it as Hydra puts it."""
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery

    search_path = create_config_search_path(f"file://{CONF_DIR}")
    if config_dir is not None:
        folder = os.path.abspath(config_dir)
        if not os.path.isdir(folder):
            raise ConfigError(f"--config-dir {config_dir} is not a folder; give the folder of your config files")
        search_path.prepend("command-line", f"file://{folder}", anchor=SearchPathQuery(provider="schema"))
    return search_path


def _sweep_jobs(hydra, master: DictConfig, options) -> Iterator[DictConfig]:
    """The job configs of a `-m` sweep, split as Hydra's basic sweeper splits it; a sweeper with
    ranges or intervals (optuna, ax) yields the master config alone."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    params = [f"{k}={v}" for k, v in (OmegaConf.select(master, "hydra.sweeper.params") or {}).items()]
    task = OmegaConf.to_container(master.hydra.overrides.task, resolve=False)
    check_override_secrets(params)
    parsed = OverridesParser.create(config_loader=hydra.config_loader).parse_overrides(params + task)
    try:
        jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except HydraException:
        yield master
        return
    for job in jobs:
        check_overrides([o for o in job if not o.startswith(("hydra.", "hydra/"))], options)
        try:
            yield hydra.config_loader.load_sweep_config(master, job)
        except Exception as exc:
            raise ConfigError(explain_composition_error(exc, job)) from None
