from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def load_benchmark():
    """load_benchmark("effect") -> benchmarks/effect.py as a module (benchmarks/ is scripts, not a package)."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO_ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The published benchmark files (PBRL_DATA_ROOT, default ../shared/data); skips when absent."""
    root = Path(os.environ.get("PBRL_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))
    if not (root / "mgsm").is_dir():
        pytest.skip(f"benchmark data not found at {root}; set PBRL_DATA_ROOT")
    return root


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """A cache folder holding the tiny random model, built once per test session."""
    from pbrl.models.tiny import build_tiny

    cache = tmp_path_factory.mktemp("pbrl-cache")
    build_tiny(cache)
    return cache
