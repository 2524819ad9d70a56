import importlib.util

import pytest

from pbrl.rewards import comet as comet_module
from pbrl.rewards.comet import CometReward


def test_missing_extra_gives_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        comet_module.importlib.util, "find_spec", lambda name, *a: None if name == "comet" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'pbrl\[comet\]' && pip install --no-deps unbabel-comet==2.2.7") as err:
        CometReward()
    assert "\n" not in str(err.value)


def test_bad_mode_is_rejected_before_the_import_check():
    with pytest.raises(ValueError, match="unknown comet mode 'mqm'"):
        CometReward(mode="mqm")
