"""One line for a stage that could not fetch a model or dataset from the Hugging Face hub.

`pbrl.run` catches a stage's exception and, when `describe_hub_error` recognises a failed hub
download, prints that line (`pbrl: error: could not fetch <repo> ...; <the fix>`) and exits 2
instead of a traceback. The pre-flight (`pbrl.cli.preflight`) uses `hub_offline` for its model checks.

Example:
    >>> print(describe_hub_error(RepositoryNotFoundError("404 for https://huggingface.co/api/models/org/typo")))
    could not fetch org/typo from the Hugging Face hub; check the id; a private repository needs HF_TOKEN (or
    `hf auth login`)
    >>> describe_hub_error(ValueError("shapes do not match")) is None
    True
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def hub_offline() -> bool:
    """HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set: nothing may be downloaded."""
    flags = (os.environ.get(v, "").lower() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def exception_chain(exc: BaseException):
    """`exc`, then its causes and contexts, each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


REPO_ARGUMENTS = ("repo_id", "path_or_repo_id", "pretrained_model_name_or_path", "model_name_or_path", "hub_id", "path")


def _repo_in_frames(chain: list[BaseException]) -> str | None:
    """The repository a failed download asked for: huggingface_hub's and transformers' errors often
    do not name it, but the innermost frame that received it as an argument does."""
    found = None
    for exc in chain:
        tb = exc.__traceback__
        while tb is not None:
            for name in REPO_ARGUMENTS:
                value = tb.tb_frame.f_locals.get(name)
                if isinstance(value, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", value) and not Path(value).exists():
                    found = value
            tb = tb.tb_next
    return found


def _repo_in_text(text: str) -> str | None:
    for pattern in (r"huggingface\.co/(?:api/)?(?:models/|datasets/)?([\w.-]+/[\w.-]+)", r"load ([\w.-]+/[\w.-]+)",
                    r"'([\w.-]+/[\w.-]+)'"):
        for match in re.finditer(pattern, text):
            if not match.group(1).startswith(("docs/", "api/", "spaces/")):
                return match.group(1)
    return None


def describe_hub_error(exc: BaseException) -> str | None:
    """One line naming the model or dataset a stage could not fetch and the fix, or None when
    `exc` is not a failed hub download."""
    chain = list(exception_chain(exc))
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    hub_types = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "RepositoryNotFoundError", "GatedRepoError",
                 "RevisionNotFoundError", "EntryNotFoundError", "HfHubHTTPError", "ConnectionError",
                 "ConnectTimeout", "ReadTimeout", "DatasetNotFoundError", "ConnectError"}
    from_pbrl_data = "from the hub" in text and "could not load" in text
    if not names & hub_types and "huggingface.co" not in text and not from_pbrl_data:
        return None
    repo = _repo_in_frames(chain) or _repo_in_text(text) or "a model"
    if "GatedRepoError" in names or "gated" in text.lower():
        fix = (f"it is gated: accept its licence at https://huggingface.co/{repo} and set HF_TOKEN "
               "(or `hf auth login`)")
    elif "RepositoryNotFoundError" in names or "DatasetNotFoundError" in names:
        fix = "check the id; a private repository needs HF_TOKEN (or `hf auth login`)"
    elif hub_offline() or "OfflineModeIsEnabled" in names or "offline" in text.lower():
        fix = (f"HF_HUB_OFFLINE=1 and it is not cached: download it first (`hf download {repo}`), unset "
               "HF_HUB_OFFLINE on a machine with network, or give a local folder")
    else:
        fix = (f"the hub cannot be reached: check the network (or proxy), download it first (`hf download {repo}`) "
               "and set HF_HUB_OFFLINE=1, or give a local folder")
    return f"could not fetch {repo} from the Hugging Face hub; {fix}"
