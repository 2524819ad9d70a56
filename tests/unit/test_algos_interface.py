"""Every module behind `algo.trainer` implements pbrl.algos.interface.TrainerModule, signature included."""

from __future__ import annotations

import importlib
import inspect

import pytest

from pbrl.algos import TRAINER_MODULES, trainer_module
from pbrl.algos.interface import Trained, TrainerModule


@pytest.mark.parametrize("trainer", sorted(TRAINER_MODULES))
def test_each_algo_module_implements_the_trainer_interface(trainer):
    module = importlib.import_module(TRAINER_MODULES[trainer])
    assert isinstance(module, TrainerModule), f"{module.__name__} lacks config_class or train"
    for name in ("config_class", "train"):
        declared = inspect.signature(getattr(TrainerModule, name))
        implemented = inspect.signature(getattr(module, name))
        assert list(implemented.parameters) == [p for p in declared.parameters if p != "self"], (module, name)
    assert implemented.return_annotation in (Trained, "Trained"), f"{module.__name__}.train must return Trained"
    assert inspect.isclass(module.config_class(trainer))


def test_an_unknown_trainer_names_the_choices():
    from types import SimpleNamespace

    from pbrl.config import ConfigError

    with pytest.raises(ConfigError, match="unknown algo.trainer 'reinforce'; choose one of: grpo, rloo, ppo, sft"):
        trainer_module(SimpleNamespace(trainer="reinforce"))
