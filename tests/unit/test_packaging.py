"""pyproject.toml ships every package under pbrl/ and every config under conf/ (as pbrl/conf).

The package list is explicit because setuptools' discovery cannot map conf/ to pbrl.conf; this test
is what keeps it complete. tests/integration/test_wheel.py builds and installs the wheel itself.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setuptools_cfg() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_under_pbrl_is_listed(setuptools_cfg):
    packages = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "pbrl").rglob("__init__.py")}
    assert set(setuptools_cfg["packages"]) == packages | {"pbrl.conf"}


def test_conf_ships_as_pbrl_conf_with_every_yaml(setuptools_cfg):
    assert setuptools_cfg["package-dir"] == {"pbrl.conf": "conf"}
    patterns = setuptools_cfg["package-data"]["pbrl.conf"]
    excluded = setuptools_cfg["exclude-package-data"]["pbrl.conf"]
    tracked = [p.relative_to(REPO / "conf").as_posix() for p in (REPO / "conf").rglob("*.yaml")]
    assert tracked, "conf/ holds the config groups"
    # fnmatch's * crosses '/', so compare depths: a pattern with n slashes ships files n folders deep.
    shipped = [f for f in tracked if any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns)]
    assert sorted(shipped) == sorted(tracked)
    assert excluded == ["local/default.yaml"]


def test_no_top_level_package_but_pbrl(setuptools_cfg):
    assert {p.split(".")[0] for p in setuptools_cfg["packages"]} == {"pbrl"}
