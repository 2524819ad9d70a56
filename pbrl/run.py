"""`python -m pbrl.run [group=option ...] [key=value ...] [-m]`: the one entrypoint of pbrl.

Examples:
    python -m pbrl.run                                   # the offline laptop demo (SmolLM2 + mE5)
    python -m pbrl.run policy=tiny eval=quick algo.max_steps=4
    python -m pbrl.run -m reward=mt,embed policy=llama8b data=mgsm langs=mgsm hydra/launcher=slurm
    python -m pbrl.run --cfg job                         # print the composed config
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pbrl.config import ConfigError, check_config, check_overrides, compose_config, register_configs, unknown_key_message
from pbrl.config import CONF_DIR  # conf/ in a clone, pbrl/conf in an installed wheel

HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                          "--config-dir", "-cd", "--info", "--experimental-rerun"}


def cli_overrides(argv: list[str]) -> list[str]:
    overrides, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in HYDRA_FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-") and "=" in arg:
            overrides.append(arg)
    return overrides


def first_combination(overrides: list[str]) -> list[str]:
    """A sweep `k=a,b` is checked through its first value; group options are checked for all."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    first = []
    for text, ov in zip(overrides, OverridesParser.create().parse_overrides(overrides)):
        if ov.is_sweep_override():
            value = next(iter(ov.sweep_string_iterator()))
            first.append(f"{ov.get_key_element()}={value}")
        else:
            first.append(text)
    return first


def explain_composition_error(exc: BaseException, overrides: list[str]) -> str:
    """Hydra/OmegaConf errors span many lines and suggest `+key`; users need one line."""
    text = "\n".join(str(e) for e in _chain(exc))
    full_key = re.search(r"full_key: (\S+)", text)
    key = full_key.group(1) if full_key else None
    if key and ("not in struct" in text or "Key '" in text and "not" in text):
        parent_key, _, _ = key.rpartition(".")
        base = compose_config([o for o in overrides if not o.lstrip("+~").startswith(key)])
        node = OmegaConf.select(base, parent_key) if parent_key else base
        allowed = list(node.keys()) if isinstance(node, DictConfig) else []
        if key.startswith("algo.args."):  # free-form trainer arguments: new ones need Hydra's '+'
            return f"'{key}' is not in this algo preset; add trainer arguments with +{key}=..."
        return unknown_key_message(key, allowed)
    first_lines = [line for e in _chain(exc) for line in str(e).splitlines()[:1] if line.strip()]
    detail = first_lines[-1] if first_lines else type(exc).__name__
    return f"bad value for '{key}': {detail}" if key else detail


def _chain(exc: BaseException):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def preflight(argv: list[str]) -> None:
    """Fail at start, in one line, on an unknown option, key, type, language or reward parameter."""
    if any(a in ("--help", "-h", "--hydra-help") for a in argv):
        return
    overrides = [o for o in cli_overrides(argv) if not o.startswith(("hydra.", "hydra/"))]
    try:
        check_overrides(overrides)
        try:
            cfg = compose_config(first_combination(overrides))
        except ConfigError:
            raise
        except Exception as exc:  # Hydra composition / OmegaConf validation
            raise ConfigError(explain_composition_error(exc, overrides)) from exc
        check_config(cfg)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"pbrl: error: {exc}", file=sys.stderr)
        sys.exit(2)


register_configs()


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig):
    from pbrl.pipeline import run_pipeline

    return run_pipeline(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    preflight(sys.argv[1:])
    main()
