"""Hydra callbacks for jobs launched through submitit (conf/hydra/launcher/slurm*.yaml, local.yaml).

`NameFailedJobs`: a failed swept job names itself, its run directory and its log files.
`ExportTorchDistributedEnv`: a job with several SLURM tasks becomes one torch.distributed world.

With hydra-submitit-launcher a job whose task function raises still *completes* on SLURM: Hydra's
`run_job` stores the exception in the JobReturn, and the sweeper re-raises it in the submitting
process with nothing but the overrides. The SLURM job id and the log file holding the traceback are
lost there (and `on_multirun_end` never runs once the sweeper has raised). This callback runs at the
end of each job, inside the job, and swaps the stored exception for a `JobFailedError` whose one-line
message carries what a person needs to find the failure. Jobs killed by SLURM (time limit, memory,
node failure) surface as submitit's `UncompletedJobError`, which already names the job's log files.

Enabled in conf/config.yaml:
    hydra:
      callbacks:
        name_failed_jobs:
          _target_: pbrl.launch_callbacks.NameFailedJobs
        torch_distributed_env:
          _target_: pbrl.launch_callbacks.ExportTorchDistributedEnv
"""

from __future__ import annotations

import logging
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class JobFailedError(RuntimeError):
    """A swept job raised; the message names the job, its overrides, run directory and logs."""


def _job_environment():
    """The submitit job this process runs in, or None outside submitit (plain runs, basic launcher)."""
    import submitit

    try:
        return submitit.JobEnvironment()
    except RuntimeError:
        return None


def describe_failed_job(job_return: JobReturn, error: BaseException) -> str:
    """One line naming the submitit job (if any), overrides, run directory and log files."""
    overrides = " ".join(job_return.overrides or []) or "(no overrides)"
    run_dir = job_return.hydra_cfg.hydra.runtime.output_dir if job_return.hydra_cfg else "?"
    where = f"run dir {run_dir}"
    env = _job_environment()
    if env is not None:
        # Hydra's job logging writes to stdout, so the traceback logged below lands in the .out file.
        where = f"{env.cluster} job {env.job_id}; traceback in {env.paths.stdout}; {where}"
    return f"job [{overrides}] failed with {type(error).__name__}: {error} -- {where}"


class NameFailedJobs(Callback):
    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status != JobStatus.FAILED:
            return
        error = job_return._return_value
        if not isinstance(error, BaseException) or isinstance(error, JobFailedError):
            return
        if _job_environment() is None:
            return  # a plain run prints its own traceback; only submitted jobs lose theirs
        message = describe_failed_job(job_return, error)
        # The traceback only exists in this process: write it to the job's own log before replacing.
        log.error(message, exc_info=(type(error), error, error.__traceback__))
        job_return.return_value = JobFailedError(message)


class ExportTorchDistributedEnv(Callback):
    """Export MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE/LOCAL_RANK when a job runs several SLURM tasks.

    Multi-GPU pattern: `hydra.launcher.tasks_per_node=N hydra.launcher.gpus_per_node=N` starts N
    copies of the job, one per GPU; with these variables accelerate/TRL (env:// initialization) join
    them into one process group. CUDA_VISIBLE_DEVICES is left alone because accelerate selects
    `cuda:LOCAL_RANK` itself.
    """

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        env = _job_environment()
        if env is None or env.num_tasks < 2:
            return
        import submitit

        dist = submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        log.info("torch.distributed rank %d/%d via %s:%d", dist.rank, dist.world_size, dist.master_addr, dist.master_port)
