"""A stage that cannot fetch a hub model fails in one line naming the model and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FETCH = """
import sys
from pbrl.hub_errors import describe_hub_error
from transformers import AutoConfig
try:
    AutoConfig.from_pretrained(sys.argv[1])
except Exception as exc:
    print(describe_hub_error(exc))
"""


def test_offline_fetch_names_the_model_and_the_fix(tmp_path):
    """transformers' own error names neither the model nor the setting; ours names both."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", FETCH, "some-org/not-cached-model"], capture_output=True,
                          text=True, timeout=300, env=env)
    line = proc.stdout.strip()
    assert line.startswith("could not fetch some-org/not-cached-model from the Hugging Face hub"), proc.stdout
    assert "HF_HUB_OFFLINE" in line and "hf download some-org/not-cached-model" in line


def test_gated_and_missing_repositories_get_their_own_fix():
    from pbrl.hub_errors import describe_hub_error

    class GatedRepoError(Exception):
        pass

    class RepositoryNotFoundError(Exception):
        pass

    url = "https://huggingface.co/meta-llama/Llama-3.1-8B/resolve/main/config.json"
    gated = describe_hub_error(GatedRepoError(f"401 Client Error. Cannot access gated repo for url {url}"))
    assert "meta-llama/Llama-3.1-8B" in gated and "accept its licence" in gated and "HF_TOKEN" in gated
    missing = describe_hub_error(RepositoryNotFoundError("404 for https://huggingface.co/api/models/org/typo"))
    assert "org/typo" in missing and "check the id" in missing


def test_other_errors_are_not_hub_errors():
    from pbrl.hub_errors import describe_hub_error

    assert describe_hub_error(ValueError("shapes do not match")) is None
    assert describe_hub_error(RuntimeError("CUDA out of memory")) is None
