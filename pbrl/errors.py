"""The one error type of bad input, and the one-line messages every layer shares (a leaf module).

Example:
    >>> raise ConfigError(unknown_key_message("reward.wieght", ["weights", "gates"]))
    ConfigError: unknown config key 'reward.wieght' (did you mean 'weights'?); allowed: gates, weights
"""

from __future__ import annotations

import difflib


class ConfigError(ValueError):
    """A bad config value, with a one-line message naming it and what is allowed."""


def unknown_key_message(key: str, allowed, where: str | None = None) -> str:
    leaf = key.rsplit(".", 1)[-1]
    allowed = sorted(allowed)
    close = difflib.get_close_matches(leaf, allowed, n=3)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    listing = ", ".join(allowed) if len(allowed) <= 15 or not where else f"the fields of {where}"
    return f"unknown config key '{key}'{hint}; allowed: {listing}"
