"""Run a stage in its own single-process Python: lm-evaluation-harness and the vLLM pivot.

Rank 0 alone runs them while the other ranks wait. In-process, lm-eval's HF backend would see the
run's world size through accelerate, split the documents and all-gather with ranks that never come
(a hang, then an NCCL timeout), and a vLLM engine would inherit the torch.distributed variables and
the GPU memory the caching allocator holds. The child starts with the rank variables cleared, reads a
JSON spec and writes a JSON result; its stderr is passed through and its last line names a failure.

    result = run_module("pbrl.pivot.vllm_worker", {"model": "...", ...}, workdir, "vLLM pivot")
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# torchrun / torch.distributed, accelerate, and MPI launchers' rank variables.
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                  "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT")
RANK_PREFIXES = ("TORCHELASTIC_", "ACCELERATE_", "FSDP_", "PMI_", "OMPI_COMM_WORLD_", "MV2_COMM_WORLD_")


def single_process_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) without the variables that make a process one rank of many.

    Example:
        >>> single_process_env({"RANK": "0", "WORLD_SIZE": "4", "ACCELERATE_USE_FSDP": "true", "PATH": "/bin"})
        {'PATH': '/bin'}
    """
    environ = os.environ if environ is None else environ
    return {key: value for key, value in environ.items()
            if key not in RANK_VARIABLES and not key.startswith(RANK_PREFIXES)}


def run_module(module: str, spec: dict, workdir: str | os.PathLike, what: str) -> Any:
    """`python -m <module> <spec.json> <result.json>` in a single-process environment; its result.

    Raises RuntimeError naming `what`, the exit status and the child's last stderr line.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = workdir / f"{module}.spec.json", workdir / f"{module}.result.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    release_accelerator_cache()
    proc = subprocess.Popen([sys.executable, "-m", module, str(spec_path), str(result_path)],
                            env=single_process_env(), stderr=subprocess.PIPE, text=True, errors="replace")
    tail: deque[str] = deque(maxlen=20)
    for line in proc.stderr:  # passed through as it comes: SLURM logs show the child's progress
        sys.stderr.write(line)
        if line.strip():
            tail.append(line.strip())
    if proc.wait() != 0 or not result_path.exists():
        last = tail[-1] if tail else "no output"
        raise RuntimeError(f"{what} failed in its own process (exit {proc.returncode}): {last[:300]}")
    return json.loads(result_path.read_text(encoding="utf-8"))


def child_main(argv: list[str], work) -> int:
    """The child's side: `work(spec) -> result`, spec and result as JSON files named in `argv`."""
    usage = "usage: python -m <module> SPEC.json RESULT.json  (a stage's child process; pbrl starts it itself)"
    if any(a in ("-h", "--help") for a in argv):
        print(usage)
        return 0
    if len(argv) != 2:
        print(f"pbrl: error: expected SPEC.json RESULT.json, got {len(argv)} argument(s); {usage}", file=sys.stderr)
        return 2
    spec_path, result_path = argv
    result = work(json.loads(Path(spec_path).read_text(encoding="utf-8")))
    Path(result_path).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


def release_accelerator_cache() -> None:
    """Hand the memory torch's caching allocator holds back to the GPU, so a child (a vLLM engine) can claim it."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def vllm_dtype() -> str:
    """vLLM's `dtype`: the checkpoint's (bfloat16) where the GPU has bfloat16, else float16 (V100, T4)."""
    from pbrl.policy import cuda_has_bfloat16

    return "auto" if cuda_has_bfloat16() else "float16"
