"""Credentials never go into configs or overrides: they would be saved in .hydra/, the run
directory's name, logs and W&B. Refused in one line naming where, with the fix.

Example:
    >>> check_override_secrets(["logger.api_key=0123..."])
    ConfigError: override 'logger.api_key=...' looks like a credential; ... set it in the environment instead ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from omegaconf import OmegaConf

from pbrl.errors import ConfigError
from pbrl.tracking import NOT_SECRET_KEY, SECRET_KEY, SECRET_VALUE


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
