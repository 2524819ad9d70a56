"""The PB-RLSVR pipeline: data → pivot references → reward → eval before → train → eval after → report.

`run_pipeline` reads as that list of stage calls. Each stage is a function here that takes what the
run shares (`Run`: config, folder, device, processes, cache, tracker, timings) and hands the nodes it
needs to its stage module (pbrl.data, pbrl.pivot, pbrl.rewards, pbrl.evaluation, pbrl.algos,
pbrl.report). A stage whose output file already exists in the run directory is not redone, so a
restarted or requeued run continues where it stopped (training itself resumes from its last
checkpoint). One process, or one per GPU (per CPU process, gloo) under `accelerate launch` /
torchrun: rank 0 alone writes the run directory and talks to W&B.
"""

from __future__ import annotations

import logging
import platform
import resource
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pbrl.rundir import atomic_write_json, atomic_write_jsonl, read_json, read_jsonl

log = logging.getLogger("pbrl")


class StageTimer:
    """Runs a stage unless its output exists, and records how long each stage took."""

    def __init__(self):
        self.timings: dict[str, dict] = {}

    def run(self, name: str, output: Path, compute, load):
        if output.exists():
            log.info("stage %-10s reusing %s", name, output.name)
            self.timings[name] = {"seconds": 0.0, "reused": True}
            return load(output)
        log.info("stage %-10s running", name)
        start = time.perf_counter()
        result = compute()
        self.timings[name] = {"seconds": round(time.perf_counter() - start, 2), "reused": False}
        return result


def versions() -> dict:
    import peft
    import torch
    import transformers
    import trl

    import pbrl

    return {
        "pbrl": pbrl.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "peft": peft.__version__,
    }


def training_rows(train_examples, references: list[dict], prompter) -> list[dict]:
    """Dataset rows for the trainers: one per (problem, language) whose reference was verified."""
    by_id = {r["id"]: r for r in references}
    rows = []
    for ex in train_examples:
        ref = by_id.get(ex.id)
        if ref is None:
            continue
        rows.append(
            {
                "prompt": prompter(ex),
                "id": ex.id,
                "lang": ex.lang,
                "question": ex.question,
                "question_en": ex.question_en,
                "answer": ex.answer,
                "reference": ref["reference"],
                "reference_answer": ref["reference_answer"],
            }
        )
    return rows


def merged(model):
    """The trained model with its LoRA adapter folded into the base weights, as a resumed run loads
    it (`load_policy(adapter=...)`): one matmul per layer instead of three, and the same answers
    whether or not the run was interrupted."""
    model = getattr(model, "module", model)  # unwrap DDP
    from torch.distributed.fsdp import FSDPModule

    if isinstance(model, FSDPModule) or any(isinstance(m, FSDPModule) for m in model.modules()):
        return model  # sharded: evaluation reads checkpoints/final (lm-eval), not these weights
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def harness_evaluation(cfg: DictConfig, policy, adapter, device: str, out_dir: Path, desc: str, eval_examples) -> dict:
    """`eval.backend=lm_eval`: lm-evaluation-harness on the policy, or on the trained `adapter` folder."""
    from pbrl.harness import evaluate_with_harness
    from pbrl.policy import resolve_dtype

    dtype = str(resolve_dtype(cfg.policy.dtype, device)).removeprefix("torch.")
    lora_rank = cfg.policy.lora.r if cfg.policy.lora else None
    doc_ids = None
    if cfg.data.eval_dataset == "mgsm":  # the held-out MGSM problems only (data=mgsm trains on the others)
        doc_ids = {}
        for ex in eval_examples:
            doc_ids.setdefault(ex.lang, []).append(int(ex.id.removeprefix("mgsm-")))
    return evaluate_with_harness(policy.name_or_path, adapter, list(cfg.langs.eval), cfg.eval, out_dir,
                                 data_root=cfg.paths.data_root, device=device, dtype=dtype, lora_rank=lora_rank,
                                 desc=desc, doc_ids=doc_ids)


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict:
    """Run every stage in order; returns the run's summary (rank 0; {} on the other ranks)."""
    run = start_run(cfg, run_dir)
    try:
        split = data_stage(run)
        policy = load_run_policy(run)
        prompter = run_prompter(cfg)
        references = pivot_stage(run, split["train"], policy)
        rows = ordered_training_rows(run, split["train"], references, prompter)
        reward_set = reward_stage(run, references, rows)
        before = evaluation_stage(run, "before", policy, split["eval"], prompter)
        run.state.wait_for_everyone()
        policy = train_stage(run, policy, rows, reward_set)
        after = evaluation_stage(run, "after", policy, split["eval"], prompter)
        if not run.main:
            return {}
        return report_stage(run, before, after, policy, n_rows=len(rows), n_references=len(references))
    finally:
        run.tracker.finish()


@dataclass
class Run:
    """What the stages of one run share."""

    cfg: DictConfig
    dir: Path
    device: str
    state: Any  # accelerate's PartialState: the processes of the run and which one is rank 0
    cache: Path
    tracker: Any
    stages: StageTimer
    wall_start: float

    @property
    def main(self) -> bool:
        return self.state.is_main_process

    @property
    def final(self) -> Path:
        """Where training saves the trained weights (its output: a run that has it is trained)."""
        return self.dir / "checkpoints" / "final"


def start_run(cfg: DictConfig, run_dir: Path) -> Run:
    """The run folder, device, processes, threads, seed and tracker."""
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    from pbrl.policy import resolve_device
    from pbrl.tracking import make_tracker, redact

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    state = PartialState(cpu=device == "cpu")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    config = redact(OmegaConf.to_container(cfg, resolve=True))
    tracker = make_tracker(cfg.logger, run_dir, config, is_main_process=state.is_main_process)
    return Run(cfg, run_dir, device, state, Path(cfg.paths.cache).expanduser(), tracker, StageTimer(),
               time.perf_counter())


def data_stage(run: Run) -> dict[str, list]:
    """The train and eval problems in their languages (`pbrl.data.load_splits`): examples.jsonl."""
    from pbrl.data import Example, load_splits

    cfg, path = run.cfg, run.dir / "examples.jsonl"

    def compute():
        split = load_splits(cfg.data, list(cfg.langs.train), list(cfg.langs.eval), cfg.paths.data_root,
                            cache_dir=run.cache / "translations")
        if run.main:
            rows = [{"split": name, **asdict(ex)} for name in ("train", "eval") for ex in split[name]]
            atomic_write_jsonl(path, rows)
        return split

    def load(saved: Path):
        split = {"train": [], "eval": []}
        for row in read_jsonl(saved):
            split[row.pop("split")].append(Example(**row))
        return split

    with run.state.main_process_first():
        return run.stages.run("data", path, compute, load)


def load_run_policy(run: Run, adapter: Path | None = None):
    """The policy (with a trained `adapter` folder), stopping at a line break when the data asks."""
    from pbrl.generation import stop_at_newline
    from pbrl.policy import load_policy

    policy = load_policy(run.cfg.policy, run.cache, run.device, adapter=adapter)
    if run.cfg.data.stop_at_newline:
        stop_at_newline(policy.model, policy.tokenizer)
    return policy


def run_prompter(cfg: DictConfig):
    """The task prompt of training rows and evaluation (`pbrl.data.prompts.make_prompter`)."""
    from pbrl.data.prompts import make_prompter

    return make_prompter(cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset,
                         [*cfg.langs.train, *cfg.langs.eval], cfg.paths.data_root)


def pivot_stage(run: Run, train_examples, policy) -> list[dict]:
    """The English pivot's verified references to the training problems (`pbrl.pivot`): references.jsonl."""
    from pbrl.pivot import build_references

    path = run.dir / "references.jsonl"

    def compute():
        reuse = run.cfg.pivot.kind == "self"  # pivot=self answers with the already loaded policy
        refs = build_references(run.cfg.pivot, train_examples, run.cache / "pivot", run.device,
                                self_model=policy.name_or_path, model=policy.model if reuse else None,
                                tokenizer=policy.tokenizer if reuse else None)
        if run.main:
            atomic_write_jsonl(path, refs)
        return refs

    with run.state.main_process_first():
        return run.stages.run("pivot", path, compute, read_jsonl)


def ordered_training_rows(run: Run, train_examples, references: list[dict], prompter) -> list[dict]:
    """The training rows in the order the trainers take them (`data.train_order`)."""
    from pbrl.data.order import training_order

    rows = training_rows(train_examples, references, prompter)
    rows = [rows[i] for i in training_order([r["lang"] for r in rows], run.cfg.seed, run.cfg.data.train_order)]
    log.info("training rows: %d (%d problems with a verified reference)", len(rows), len(references))
    if not rows:
        raise RuntimeError("no training rows: every pivot reference failed verification (see references.jsonl)")
    return rows


def reward_stage(run: Run, references: list[dict], rows: list[dict]):
    """The reward set, prepared with every reference and the training rows (`pbrl.rewards`)."""
    from pbrl.rewards import build_reward

    reward_set = build_reward(run.cfg.reward)
    reward_set.prepare([r["reference"] for r in references], rows=rows)
    return reward_set


def evaluation_stage(run: Run, when: str, policy, eval_examples, prompter) -> dict | None:
    """Evaluation `before` or `after` training (`pbrl.evaluation`, or lm-evaluation-harness with
    `eval.backend=lm_eval`): eval_<when>.json. Off (`eval.<when>=false`) or on another rank: the
    saved result, if any."""
    from pbrl.evaluation import evaluate

    cfg, path = run.cfg, run.dir / f"eval_{when}.json"
    if not (cfg.eval.before if when == "before" else cfg.eval.after) or not run.main:
        return read_json(path) if path.exists() else None

    def compute():
        if cfg.eval.backend == "lm_eval":
            result = harness_evaluation(cfg, policy, run.final if when == "after" else None, run.device,
                                        run.dir / "lm_eval" / when, f"eval {when}", eval_examples)
        else:
            # the untrained policy is the base model: its answers are shared by every run that asks the same
            cache_key = f"{policy.name_or_path}@{cfg.policy.revision}" if when == "before" else None
            result = evaluate(policy.model, policy.tokenizer, eval_examples, cfg.eval, desc=f"eval {when}",
                              data_root=cfg.paths.data_root, prompter=prompter, cache_key=cache_key,
                              cache_dir=run.cache / "eval")
        atomic_write_json(path, result)
        return result

    return run.stages.run(f"eval_{when}", path, compute, read_json)


def train_stage(run: Run, policy, rows: list[dict], reward_set):
    """Train (`pbrl.algos.train`, resuming from the last checkpoint); returns the trained policy, its
    LoRA adapter merged, or reloaded from `checkpoints/final` when an earlier invocation trained it."""
    import datasets

    from pbrl.algos import train

    def compute():
        return train(policy, datasets.Dataset.from_list(rows), reward_set, run.cfg.algo, run.dir, run.tracker,
                     run.cfg.seed)

    trained = run.stages.run("train", run.final, compute, lambda saved: None)
    if trained is None:  # finished in an earlier invocation: evaluate the saved weights
        return load_run_policy(run, adapter=run.final)
    return replace(policy, model=merged(trained.model))


def report_stage(run: Run, before: dict | None, after: dict | None, policy, n_rows: int, n_references: int) -> dict:
    """eval.json, the per-language table (printed) and report.png (`pbrl.report`), summary.json,
    and the run's tables, image and summary in the tracker. Returns the summary."""
    from pbrl.report import write_report

    cfg = run.cfg
    metrics = read_jsonl(run.dir / "metrics.jsonl")
    title = f"{cfg.name}: policy={cfg.policy.name} reward={cfg.reward.name} algo={cfg.algo.name} pivot={cfg.pivot.name}"
    start = time.perf_counter()
    table = write_report(run.dir, before, after, metrics, title, train_langs=list(cfg.langs.train))
    run.stages.timings["report"] = {"seconds": round(time.perf_counter() - start, 2), "reused": False}
    print(f"\n{title}\n{table}")
    summary = run_summary(run, before, after, metrics, policy, n_rows, n_references)
    atomic_write_json(run.dir / "summary.json", summary)
    log_evaluations(run, before, after)
    return summary


def run_summary(run: Run, before, after, metrics: list[dict], policy, n_rows: int, n_references: int) -> dict:
    """summary.json: the run's choices, sizes, first and last metrics, aggregates, timings and versions."""
    cfg = run.cfg
    return {
        "run_dir": str(run.dir),
        "seed": cfg.seed,
        "device": run.device,
        "world_size": run.state.num_processes,
        "choices": {g: cfg[g].name for g in ("policy", "pivot", "reward", "langs", "algo", "data", "eval", "logger")},
        "n_train_rows": n_rows,
        "n_references": n_references,
        "final_metrics": metrics[-1] if metrics else {},
        "first_metrics": metrics[0] if metrics else {},
        "eval": {"before": (before or {}).get("aggregate"), "after": (after or {}).get("aggregate")},
        "stage_timings": run.stages.timings,
        "wall_seconds": round(time.perf_counter() - run.wall_start, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "policy_model": policy.name_or_path,
        "versions": versions(),
    }


def log_evaluations(run: Run, before, after) -> None:
    """The per-language table, report.png and the eval aggregates and per-language metrics in the tracker."""
    evals = read_json(run.dir / "eval.json")
    run.tracker.log_table(
        "eval/per_language",
        ["lang", "when", "n", "accuracy", "fidelity"],
        [[lang, when, m.get("n"), m.get("accuracy"), m.get("fidelity")]
         for lang, by_when in evals["languages"].items() for when, m in by_when.items()],
    )
    run.tracker.log_image("report", run.dir / "report.png")
    run.tracker.summary(
        {f"eval/{when}/{k}": v for when, r in (("before", before), ("after", after)) if r
         for k, v in (r.get("aggregate") or {}).items()}
        | {f"eval/{when}/{lang}/{metric}": value
           for lang, by_when in evals["languages"].items() for when, m in by_when.items()
           for metric, value in m.items() if isinstance(value, (int, float))}
    )
