"""Experiment tracking: W&B when `logger=wandb`, else a tracker that does nothing.

Code never checks whether W&B is on: it calls `tracker.log(...)` either way (nanochat's DummyWandb).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# Keys naming a credential: whole words of a snake/dot/kebab key, so `max_new_tokens` and
# `tokenizer` pass while `api_key`, `hf_token`, `wandb.key` and `db_password` do not.
SECRET_KEY = re.compile(r"(^|[._-])(api_?key|apikey|key|token|secret|password|passwd|credentials?)($|[._-])", re.I)
# Values that are credentials whatever their key (redacted here, refused by the pre-flight,
# pbrl.cli.secrets): a W&B API key (40 hex, `local-` for W&B Server), Hugging Face / OpenAI-style tokens.
SECRET_VALUE = re.compile(r"^((local-)?[0-9a-f]{40}|hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,})$")
# A pinned model revision is a 40-hex commit id, not a key.
NOT_SECRET_KEY = re.compile(r"(revision|commit|sha|hash)$", re.I)


def redact(obj, key: str = ""):
    """Drop values whose key or form looks like a credential, so no secret lands in a dump or a W&B
    config (a 40-hex `revision`/`commit` is a commit id, kept)."""
    if isinstance(obj, dict):
        return {k: ("<redacted>" if SECRET_KEY.search(str(k)) else redact(v, str(k))) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v, key) for v in obj]
    if isinstance(obj, str) and SECRET_VALUE.match(obj.strip()) and not NOT_SECRET_KEY.search(key):
        return "<redacted>"
    return obj


class NullTracker:
    def log(self, row: dict, step: int | None = None) -> None:
        pass

    def log_table(self, name: str, columns: list[str], rows: list[list]) -> None:
        pass

    def log_image(self, name: str, path: str | os.PathLike) -> None:
        pass

    def summary(self, values: dict) -> None:
        pass

    def finish(self) -> None:
        pass


def run_id_for(run_dir: Path) -> str:
    """Stable W&B id from the run directory, so a requeued job resumes the same W&B run."""
    return hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]


def has_wandb_key() -> bool:
    """An API key in the environment or stored by `wandb login` (~/.netrc), without reading it out."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc

    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].rstrip("/")
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def wandb_mode(mode: str) -> str:
    """The W&B mode: WANDB_DISABLED, then WANDB_MODE (the environment of this machine: a compute node
    without network sets offline), then `logger.mode`, with auto = online if an API key is set."""
    if _env_true("WANDB_DISABLED"):
        return "disabled"
    env = os.environ.get("WANDB_MODE", "").strip().lower()
    if env in ("online", "offline", "disabled", "dryrun", "run"):
        return {"dryrun": "offline", "run": "online"}.get(env, env)
    if mode != "auto":
        return mode
    return "online" if has_wandb_key() else "offline"


class WandbTracker(NullTracker):
    def __init__(self, logger_cfg, run_dir: Path, config: dict, job_type: str | None = None):
        import wandb

        self._wandb = wandb
        self.run = wandb.init(
            project=logger_cfg.project,
            entity=logger_cfg.entity,
            group=logger_cfg.group,
            job_type=job_type or logger_cfg.job_type,
            tags=[str(t) for t in logger_cfg.tags],
            name=f"{Path(run_dir).parent.name}/{Path(run_dir).name}",
            id=run_id_for(run_dir),
            resume="allow",
            dir=str(run_dir),
            mode=wandb_mode(logger_cfg.mode),
            config=redact(config),
        )

    def log(self, row: dict, step: int | None = None) -> None:
        self.run.log({k: v for k, v in row.items() if k != "step" and v is not None}, step=step)

    def log_table(self, name: str, columns: list[str], rows: list[list]) -> None:
        self.run.log({name: self._wandb.Table(columns=columns, data=rows)})

    def log_image(self, name: str, path) -> None:
        self.run.log({name: self._wandb.Image(str(path))})

    def summary(self, values: dict) -> None:
        self.run.summary.update(values)

    def finish(self) -> None:
        self.run.finish()


def make_tracker(logger_cfg, run_dir: Path, config: dict, is_main_process: bool = True):
    if logger_cfg.backend != "wandb" or not is_main_process or wandb_mode(logger_cfg.mode) == "disabled":
        return NullTracker()
    return WandbTracker(logger_cfg, run_dir, config)
