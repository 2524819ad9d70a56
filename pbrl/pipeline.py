"""The PB-RLSVR pipeline: data → pivot references → reward → train → evaluate → report.

Each stage is one function of its own module; this file only puts them in order. A stage whose
output file already exists in the run directory is not redone, so a restarted or requeued run
continues where it stopped (training itself resumes from its last checkpoint).
"""

from __future__ import annotations

import logging
import platform
import resource
import time
from dataclasses import asdict, replace
from pathlib import Path

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
    import datasets
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    from pbrl.algos import train
    from pbrl.data import Example, load_splits
    from pbrl.data.order import training_order
    from pbrl.data.prompts import make_prompter
    from pbrl.generation import stop_at_newline
    from pbrl.evaluation import evaluate
    from pbrl.pivot import build_references
    from pbrl.policy import load_policy, resolve_device
    from pbrl.report import write_report
    from pbrl.rewards import build_reward
    from pbrl.tracking import make_tracker, redact

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    # One process, or one per GPU (per CPU process, gloo) under `accelerate launch` / torchrun:
    # rank 0 alone writes the run directory and talks to W&B.
    state = PartialState(cpu=device == "cpu")
    main = state.is_main_process
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    cache = Path(cfg.paths.cache).expanduser()
    config = redact(OmegaConf.to_container(cfg, resolve=True))
    tracker = make_tracker(cfg.logger, run_dir, config, is_main_process=main)
    stages = StageTimer()
    wall_start = time.perf_counter()

    def load_examples(path):
        rows = read_jsonl(path)
        split = {"train": [], "eval": []}
        for row in rows:
            split[row.pop("split")].append(Example(**row))
        return split

    def compute_examples():
        split = load_splits(
            cfg.data, list(cfg.langs.train), list(cfg.langs.eval), cfg.paths.data_root, cache_dir=cache / "translations"
        )
        if main:
            rows = [{"split": name, **asdict(ex)} for name in ("train", "eval") for ex in split[name]]
            atomic_write_jsonl(run_dir / "examples.jsonl", rows)
        return split

    try:
        with state.main_process_first():
            split = stages.run("data", run_dir / "examples.jsonl", compute_examples, load_examples)

        policy = load_policy(cfg.policy, cache, device)
        if cfg.data.stop_at_newline:
            stop_at_newline(policy.model, policy.tokenizer)
        prompter = make_prompter(
            cfg.data.prompt_style, cfg.data.few_shot, cfg.data.train_dataset,
            [*cfg.langs.train, *cfg.langs.eval], cfg.paths.data_root,
        )

        def compute_references():
            reuse = cfg.pivot.kind == "self"  # pivot=self answers with the already loaded policy
            refs = build_references(
                cfg.pivot, split["train"], cache / "pivot", device,
                self_model=policy.name_or_path,
                model=policy.model if reuse else None,
                tokenizer=policy.tokenizer if reuse else None,
            )
            if main:
                atomic_write_jsonl(run_dir / "references.jsonl", refs)
            return refs

        with state.main_process_first():
            references = stages.run("pivot", run_dir / "references.jsonl", compute_references, read_jsonl)
        rows = training_rows(split["train"], references, prompter)
        rows = [rows[i] for i in training_order([r["lang"] for r in rows], cfg.seed, cfg.data.train_order)]
        log.info("training rows: %d (%d problems with a verified reference)", len(rows), len(references))
        if not rows:
            raise RuntimeError("no training rows: every pivot reference failed verification (see references.jsonl)")

        reward_set = build_reward(cfg.reward)
        reward_set.prepare([r["reference"] for r in references], rows=rows)

        def evaluation(when: str):
            path = run_dir / f"eval_{when}.json"
            enabled = cfg.eval.before if when == "before" else cfg.eval.after
            if not enabled or not main:
                return read_json(path) if path.exists() else None

            def compute():
                if cfg.eval.backend == "lm_eval":
                    result = harness_evaluation(cfg, policy, final if when == "after" else None, device,
                                                run_dir / "lm_eval" / when, f"eval {when}", split["eval"])
                else:
                    # the untrained policy is the base model: its answers are shared by every run that asks the same
                    result = evaluate(policy.model, policy.tokenizer, split["eval"], cfg.eval, desc=f"eval {when}",
                                      data_root=cfg.paths.data_root, prompter=prompter,
                                      cache_key=f"{policy.name_or_path}@{cfg.policy.revision}" if when == "before" else None,
                                      cache_dir=cache / "eval")
                atomic_write_json(path, result)
                return result

            return stages.run(f"eval_{when}", path, compute, read_json)

        final = run_dir / "checkpoints" / "final"
        before = evaluation("before")
        state.wait_for_everyone()

        def compute_train():
            dataset = datasets.Dataset.from_list(rows)
            return train(policy, dataset, reward_set, cfg.algo, run_dir, tracker, cfg.seed)

        trained = stages.run("train", final, compute_train, lambda saved: None)
        if trained is None:  # finished in an earlier invocation: evaluate the saved weights
            policy = load_policy(cfg.policy, cache, device, adapter=final)
            if cfg.data.stop_at_newline:
                stop_at_newline(policy.model, policy.tokenizer)
        else:
            policy = replace(policy, model=merged(trained.model))
        after = evaluation("after")
        if not main:
            return {}

        metrics = read_jsonl(run_dir / "metrics.jsonl")
        title = f"{cfg.name}: policy={cfg.policy.name} reward={cfg.reward.name} algo={cfg.algo.name} pivot={cfg.pivot.name}"
        start = time.perf_counter()
        table = write_report(run_dir, before, after, metrics, title, train_langs=list(cfg.langs.train))
        stages.timings["report"] = {"seconds": round(time.perf_counter() - start, 2), "reused": False}
        print(f"\n{title}\n{table}")
        summary = {
            "run_dir": str(run_dir),
            "seed": cfg.seed,
            "device": device,
            "world_size": state.num_processes,
            "choices": {g: cfg[g].name for g in ("policy", "pivot", "reward", "langs", "algo", "data", "eval", "logger")},
            "n_train_rows": len(rows),
            "n_references": len(references),
            "final_metrics": metrics[-1] if metrics else {},
            "first_metrics": metrics[0] if metrics else {},
            "eval": {"before": (before or {}).get("aggregate"), "after": (after or {}).get("aggregate")},
            "stage_timings": stages.timings,
            "wall_seconds": round(time.perf_counter() - wall_start, 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
            "policy_model": policy.name_or_path,
            "versions": versions(),
        }
        atomic_write_json(run_dir / "summary.json", summary)
        evals = read_json(run_dir / "eval.json")
        tracker.log_table(
            "eval/per_language",
            ["lang", "when", "n", "accuracy", "fidelity"],
            [[lang, when, m.get("n"), m.get("accuracy"), m.get("fidelity")]
             for lang, by_when in evals["languages"].items() for when, m in by_when.items()],
        )
        tracker.log_image("report", run_dir / "report.png")
        tracker.summary(
            {f"eval/{when}/{k}": v for when, r in (("before", before), ("after", after)) if r
             for k, v in (r.get("aggregate") or {}).items()}
            | {f"eval/{when}/{lang}/{metric}": value
               for lang, by_when in evals["languages"].items() for when, m in by_when.items()
               for metric, value in m.items() if isinstance(value, (int, float))}
        )
        return summary
    finally:
        tracker.finish()
