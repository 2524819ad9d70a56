"""`python -m pbrl.run [group=option ...] [key=value ...] [-m]`: the one entrypoint of pbrl.

Examples:
    python -m pbrl.run                                   # the offline laptop demo (SmolLM2 + mE5)
    python -m pbrl.run policy=tiny eval=quick algo.max_steps=4
    python -m pbrl.run -m reward=mt,embed policy=llama8b data=mgsm langs=mgsm hydra/launcher=slurm
    python -m pbrl.run --cfg job                         # print the composed config

Before Hydra runs anything, `pbrl.cli.preflight` checks every job of the command (each combination of a
`-m` sweep) and fails in one `pbrl: error:` line, exit status 2, with nothing written. A run
directory is held by one process tree at a time (`HoldRunDir`, a Hydra callback).
"""

from __future__ import annotations

import atexit
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pbrl.config import CONF_DIR, register_configs  # CONF_DIR: conf/ in a clone, pbrl/conf in an installed wheel
from pbrl.hub_errors import describe_hub_error
from pbrl.cli import fail, preflight_argv
from pbrl.rundir import RunDirLock, RunDirLocked


def is_rank_zero() -> bool:
    """Rank 0 of torchrun / accelerate (RANK) or of a multi-task SLURM job (SLURM_PROCID)."""
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) or 0) == 0


class HoldRunDir(Callback):
    """Lock the run directory before Hydra writes into it (`.hydra/`, the job log), release it at the
    end; a second invocation on the same directory fails at once naming the holder's PID and host.
    Enabled in conf/config.yaml (hydra.callbacks.hold_run_dir)."""

    def __init__(self) -> None:
        self.lock: RunDirLock | None = None
        self.per_job = False

    def _acquire(self, run_dir: str) -> None:
        if self.lock is not None or not is_rank_zero():
            return
        lock = RunDirLock(run_dir)
        try:
            lock.acquire()
        except RunDirLocked as err:
            print(f"pbrl: error: {err}", file=sys.stderr, flush=True)
            # Exit now: nothing of this process needs cleaning up, and inside Hydra's callback a
            # SystemExit was seen to leave the process waiting on a heavily loaded machine.
            os._exit(2)
        self.lock = lock
        atexit.register(lock.release)  # also on an exception that ends the process

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._acquire(str(config.hydra.run.dir))

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.lock is None:  # a -m job (in run mode on_run_start already holds it)
            self._acquire(str(config.hydra.runtime.output_dir))
            self.per_job = self.lock is not None

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.per_job:  # the next job of a sweep in this process locks its own directory
            self._release()
            self.per_job = False


def prepare_distributed(cfg: DictConfig, environ=os.environ) -> bool:
    """With several ranks, before the pipeline touches accelerate: FSDP's environment for
    `distributed.sharding=fsdp` (what `accelerate launch` with an FSDP config exports), and the process
    group, whose collective timeout (`distributed.timeout_min`) covers the ranks waiting at a barrier while
    rank 0 builds the pivot references and evaluates (torch's default: 10 minutes). Returns whether it
    started the group."""
    if int(environ.get("WORLD_SIZE", "1") or 1) < 2:
        return False
    from accelerate import PartialState

    from pbrl.policy import fsdp_environment, resolve_device

    if cfg.distributed.sharding == "fsdp":
        environ.update(fsdp_environment())
    PartialState(cpu=resolve_device(cfg.device) == "cpu", timeout=timedelta(minutes=cfg.distributed.timeout_min))
    return True


register_configs()


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig):
    from pbrl.pipeline import run_pipeline

    prepare_distributed(cfg)
    try:
        return run_pipeline(cfg, Path(HydraConfig.get().runtime.output_dir))
    except Exception as exc:  # a stage that needs the hub and cannot reach it: one line, not a traceback
        message = describe_hub_error(exc)
        if message is None:
            raise
        fail(message)


if __name__ == "__main__":
    preflight_argv(sys.argv[1:])
    main()
