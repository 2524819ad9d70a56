"""Evaluation through lm-evaluation-harness (`eval.backend=lm_eval`): numbers a reviewer can reproduce.

    result = evaluate_with_harness("/models/smollm2", None, ["en", "de"], cfg.eval, run_dir / "lm_eval")
    result["languages"]["de"]["lm_eval/mgsm_native_cot_de/flexible-extract"]  # the harness's exact match
    result["languages"]["de"]["accuracy"]  # pbrl's answer extraction on the same generations

The harness runs its own task definitions (MGSM `mgsm_native_cot_<lang>`, `mgsm_en_cot_<lang>`,
`mgsm_direct_<lang>`; MMLU-ProX `mmlu_prox_<lang>`, `mmlu_prox_lite_<lang>`) on the policy (before
training) or on the trained checkpoint (after): the HF backend with `peft=<adapter>`, or vLLM with
`lora_local_path=<adapter>`. With a local data root (`PBRL_DATA_ROOT`), the MGSM tasks are the
harness's own YAML with only the dataset swapped for the local TSV files (converted to the hub's
columns under the output folder); otherwise everything comes from the hub.

Per language the result holds every filter the harness reports (`lm_eval/<task>/<filter>`: MGSM's
strict-match and flexible-extract, its stderr as `.../<filter>_stderr`), plus what the harness does
not measure, computed by pbrl on the harness's logged samples: `n`, `accuracy` (pbrl's answer
extraction, on the first MGSM task), `fidelity` (the response is in the language, py3langid) and
`lm_eval/<task>/fidelity`. The exact `lm_eval` command that reproduces the numbers is stored in
`result["lm_eval"]["command"]`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from statistics import mean

import yaml

from pbrl.answers import normalize_answer
from pbrl.config import LM_EVAL_MODELS, EvalConfig, as_schema
from pbrl.isolated import run_module

log = logging.getLogger(__name__)

# task family -> languages the installed harness defines it for (MGSM: 11; MMLU-ProX: 29).
MGSM_FAMILIES = ("mgsm_native_cot", "mgsm_en_cot", "mgsm_direct")
MMLU_PROX_FAMILIES = ("mmlu_prox", "mmlu_prox_lite")
FAMILIES = MGSM_FAMILIES + MMLU_PROX_FAMILIES


def check_harness_config(eval_cfg, langs) -> None:
    """Start-up check of `eval.backend=lm_eval`: the harness (and vLLM) installed, known task families,
    at least one task for the evaluation languages. Raises a one-line ValueError naming the fix."""
    if importlib.util.find_spec("lm_eval") is None:
        raise ValueError("eval.backend=lm_eval needs lm-evaluation-harness: pip install 'lm-eval>=0.4'; "
                         "or eval.backend=pbrl")
    opts = eval_cfg.lm_eval
    if opts.model == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ValueError("eval.lm_eval.model=vllm needs vllm (pip install 'pbrl[vllm]'); or eval.lm_eval.model=hf")
    if opts.limit is not None and int(opts.limit) < 1:
        raise ValueError(f"eval.lm_eval.limit={opts.limit} must be >= 1 (or null for every document)")
    tasks, _ = plan_tasks(list(opts.tasks), [str(x) for x in langs])
    if not tasks:
        raise ValueError(f"eval.lm_eval.tasks={list(opts.tasks)} has no task for the evaluation languages "
                         f"{list(langs)}; MGSM has {', '.join(family_languages('mgsm_native_cot'))}")


def _lm_eval_tasks_dir() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def task_name(family: str, lang: str) -> str:
    return f"{family}_{lang}"


def family_languages(family: str) -> list[str]:
    """Languages the installed harness has `family` for."""
    if family not in FAMILIES:
        raise ValueError(f"unknown eval.lm_eval.tasks entry '{family}'; choose from: {', '.join(FAMILIES)}")
    root = _lm_eval_tasks_dir()
    if family in MGSM_FAMILIES:
        folder = root / "mgsm" / family.removeprefix("mgsm_")
        return sorted(p.stem.removeprefix(family + "_") for p in folder.glob(f"{family}_*.yaml"))
    lite = "_lite" if family == "mmlu_prox_lite" else ""
    return sorted(p.parent.name for p in (root / "mmlu_prox").glob(f"*/_mmlu_prox{lite}_*.yaml"))


def plan_tasks(families, langs) -> tuple[dict[str, list[str]], list[str]]:
    """({lang: [task names]}, ["<family>_<lang>" that the harness does not define]) for `langs`."""
    tasks: dict[str, list[str]] = {}
    missing = []
    for family in families:
        available = set(family_languages(family))
        for lang in langs:
            if lang in available:
                tasks.setdefault(lang, []).append(task_name(family, lang))
            else:
                missing.append(task_name(family, lang))
    return tasks, missing


def _read_task_yaml(path: Path) -> dict:
    """A harness task YAML merged over its `include` (tasks with `!function` are not rewritten)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    include = config.pop("include", None)
    if include:
        base = yaml.safe_load((path.parent / include).read_text(encoding="utf-8"))
        config = {**base, **config}
    return config


def _mgsm_rows(data_root: Path, lang: str) -> tuple[list[dict], list[dict]]:
    """Test and train (exemplar) rows of local MGSM in the columns of the hub's juletxara/mgsm."""
    from pbrl.data.files import read_tsv_file

    test = [
        {"question": q, "answer": None, "answer_number": int(float(normalize_answer(a))), "equation_solution": None}
        for q, a in read_tsv_file(data_root / "mgsm" / f"mgsm_{lang}.tsv", "mgsm", columns=2)
    ]
    exemplars_path = data_root / "mgsm" / "mgsm_exemplars.json"
    train = []
    if exemplars_path.exists():
        exemplars = json.loads(exemplars_path.read_text(encoding="utf-8")).get(lang, [])
        train = [
            {"question": e["q"], "answer": e["a"], "answer_number": int(e["answer_number"]),
             "equation_solution": e.get("equation_solution")}
            for e in exemplars
        ]
    return test, train


def write_local_tasks(task_names, data_root, folder) -> Path:
    """Harness task YAMLs for the MGSM tasks in `task_names`, reading `data_root/mgsm/mgsm_<lang>.tsv`.

    Each is the installed harness's own task config with only the dataset replaced (parquet files in
    the hub's columns: question, answer=None, answer_number; the exemplars as the train split), under
    the same task name, so results and keys match a hub run. Returns `folder` (TaskManager include_path).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = _lm_eval_tasks_dir() / "mgsm"
    for name in task_names:
        family = next((f for f in MGSM_FAMILIES if name.startswith(f + "_")), None)
        if family is None:
            continue
        lang = name.removeprefix(family + "_")
        config = _read_task_yaml(root / family.removeprefix("mgsm_") / f"{name}.yaml")
        test, train = _mgsm_rows(Path(data_root), lang)
        files = {"train": folder / f"mgsm_{lang}_train.parquet"} if train else {}
        files["test"] = folder / f"mgsm_{lang}_test.parquet"
        for split, path in files.items():
            _write_parquet(test if split == "test" else train, path)
        config.pop("tag", None)  # the hub task keeps the tag; two members of one tag would run twice
        config.update(dataset_path="parquet", dataset_name=None,
                      dataset_kwargs={"data_files": {k: str(v) for k, v in files.items()}})
        if not train:
            config.pop("training_split", None)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=True), "utf-8")
    return folder


# Parquet, not JSON lines: the schema is explicit, so `answer` (null in every test row, text in the
# exemplars) is a string column in both splits instead of a type the loader guesses per file.
def _write_parquet(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("question", pa.string()), ("answer", pa.string()), ("answer_number", pa.int64()),
                        ("equation_solution", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def model_args(model: str, base: str, adapter: str | None, dtype: str, device: str, extra: dict | None = None,
               lora_rank: int | None = None, engine: dict | None = None,
               chat_template_kwargs: dict | None = None) -> dict:
    """The harness's model_args for the policy (`adapter` None) or a trained checkpoint.

    A LoRA adapter folder goes to the HF backend as `peft=` and to vLLM as `lora_local_path=`; a
    fully fine-tuned checkpoint replaces the base weights (`pretrained=`). vLLM also gets its `engine`
    settings (`eval.lm_eval.vllm`: memory share, context, tensor parallelism); both backends get the
    policy's chat-template options (`enable_thinking` is the harness's own argument, the rest go in
    `chat_template_args`). `extra` (`eval.lm_eval.model_args`) wins over all of these.

    Example:
        >>> model_args("hf", "/m/base", None, "float32", "cpu", chat_template_kwargs={"enable_thinking": False})
        {'pretrained': '/m/base', 'dtype': 'float32', 'device': 'cpu', 'enable_thinking': False}
    """
    if model not in LM_EVAL_MODELS:
        raise ValueError(f"unknown eval.lm_eval.model '{model}'; choose from: {', '.join(LM_EVAL_MODELS)}")
    is_lora = adapter is not None and (Path(adapter) / "adapter_config.json").exists()
    args: dict = {"pretrained": str(adapter) if adapter is not None and not is_lora else str(base), "dtype": dtype}
    if model == "hf":
        args["device"] = device
        if is_lora:
            args["peft"] = str(adapter)
    else:
        if is_lora:
            args["lora_local_path"] = str(adapter)
            if lora_rank:
                args["max_lora_rank"] = int(lora_rank)
        args |= dict(engine or {})
    template = dict(chat_template_kwargs or {})
    if "enable_thinking" in template:
        args["enable_thinking"] = template.pop("enable_thinking")
    if template:
        args["chat_template_args"] = template
    return args | dict(extra or {})


def command_line(model: str, args: dict, tasks: list[str], options: dict, include_path: Path | None) -> str:
    """The `lm_eval` command that reproduces a harness call."""
    parts = ["lm_eval", "--model", model, "--model_args", ",".join(f"{k}={v}" for k, v in args.items()),
             "--tasks", ",".join(tasks), "--log_samples", "--output_path", "<dir>"]
    if include_path is not None:
        parts += ["--include_path", str(include_path)]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = f"--{key}"
        text = ",".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        parts += [flag] if value is True else [flag, shlex.quote(text)]
    return " ".join(parts)


def _response(sample: dict) -> str:
    resps = sample.get("resps") or [[""]]
    first = resps[0]
    return str(first[0] if isinstance(first, (list, tuple)) else first)


def _samples_by_task(samples: dict, task: str) -> dict[int, dict]:
    """The logged samples of `task` (a group: of its subtasks), one per document, with every filter's
    extraction and correctness: {doc key: {response, target, filters: {filter: (extracted, correct)}}}."""
    out: dict = {}
    for name, rows in samples.items():
        if name != task and not name.startswith(task + "_"):
            continue
        for s in rows:
            key = (name, s["doc_id"])
            row = out.setdefault(key, {"task": name, "doc_id": s["doc_id"], "response": _response(s),
                                       "target": str(s.get("target", "")), "filters": {}})
            filtered = s.get("filtered_resps") or [None]
            row["filters"][s.get("filter", "none")] = {
                "extracted": filtered[0] if isinstance(filtered, list) else filtered,
                "correct": bool(s.get("exact_match", 0)),
            }
    return out


def summarize(results: dict, samples: dict, tasks_by_lang: dict[str, list[str]]) -> dict:
    """pbrl's eval result shape from the harness's `results` and logged `samples`.

    Example:
        >>> results = {"mgsm_native_cot_de": {"exact_match,strict-match": 0.0, "exact_match,flexible-extract": 1.0}}
        >>> samples = {"mgsm_native_cot_de": [{"doc_id": 0, "target": "18", "filter": f, "exact_match": e,
        ...     "resps": [["Sie verdient 18 Dollar."]], "filtered_resps": [x]}
        ...     for f, e, x in (("strict-match", 0.0, "[invalid]"), ("flexible-extract", 1.0, "18"))]}
        >>> m = summarize(results, samples, {"de": ["mgsm_native_cot_de"]})["languages"]["de"]
        >>> m["accuracy"], m["fidelity"], m["lm_eval/mgsm_native_cot_de/flexible-extract"]
        (1.0, 1.0, 1.0)
    """
    from pbrl.evaluation import aggregate, score_row

    languages: dict[str, dict] = {}
    predictions = []
    for lang, tasks in tasks_by_lang.items():
        metrics: dict = {}
        for i, task in enumerate(tasks):
            for key, value in (results.get(task) or {}).items():
                metric, _, filter_name = key.partition(",")
                if not filter_name or not isinstance(value, (int, float)):
                    continue
                suffix = "_stderr" if metric.endswith("_stderr") else ""
                metrics[f"lm_eval/{task}/{filter_name}{suffix}"] = float(value)
            docs = _samples_by_task(samples, task)
            scored = []
            for row in docs.values():
                mgsm = task.startswith("mgsm_")
                s = score_row({"lang": lang, "response": row["response"], "answer": row["target"] if mgsm else ""})
                scored.append(s)
                predictions.append({
                    "id": f"{row['task']}/{row['doc_id']}", "lang": lang, "task": row["task"],
                    "response": row["response"], "answer": row["target"], "pred": s["pred"] if mgsm else None,
                    "correct": s["correct"] if mgsm else None, "detected_lang": s["detected_lang"],
                    "lm_eval": row["filters"],
                })
            if scored:
                metrics[f"lm_eval/{task}/fidelity"] = float(mean(s["detected_lang"] == lang for s in scored))
                metrics[f"lm_eval/{task}/n"] = len(scored)
            if i == 0 and scored:
                metrics["n"] = len(scored)
                metrics["fidelity"] = metrics[f"lm_eval/{task}/fidelity"]
                metrics["accuracy"] = float(mean(s["correct"] for s in scored)) if task.startswith("mgsm_") else None
        languages[lang] = metrics
    scored_langs = {k: v for k, v in languages.items() if v.get("accuracy") is not None}
    return {"languages": languages, "aggregate": aggregate(scored_langs) if scored_langs else {},
            "predictions": predictions}


def evaluate_with_harness(base: str, adapter, langs, eval_cfg, out_dir, data_root=None, device: str = "cpu",
                          dtype: str = "float32", lora_rank: int | None = None, desc: str = "eval",
                          doc_ids: dict[str, list[int]] | None = None) -> dict:
    """Run the configured harness tasks for `langs` on `base` (+ `adapter`) and summarize them.

    `doc_ids` ({lang: MGSM row numbers}) restricts the MGSM tasks to those documents: the run's
    held-out problems when it trains on MGSM (data=mgsm), so no trained problem is evaluated
    (`limit` then takes the first of them). Ignored when a non-MGSM task is also requested.

    eval_cfg (an EvalConfig, or a DictConfig/dict of its keys): max_new_tokens, batch_size, few_shot and
    `lm_eval` (tasks, model, limit, apply_chat_template, model_args, vllm, chat_template_kwargs); see
    conf/eval/lm_eval.yaml. Samples and the raw results go to `out_dir` (results.json,
    samples_<task>.jsonl). The harness runs in a process of its own (`pbrl.isolated`), so a multi-rank
    run's rank variables cannot make it wait for ranks that never join.
    """
    eval_cfg = as_schema(EvalConfig, eval_cfg)
    opts = eval_cfg.lm_eval
    families, model = list(opts.tasks), opts.model
    tasks_by_lang, missing = plan_tasks(families, [str(x) for x in langs])
    if missing:
        log.warning("%s: the harness has no task %s; those languages are not evaluated by it", desc,
                    ", ".join(missing))
    names = [t for tasks in tasks_by_lang.values() for t in tasks]
    if not names:
        raise ValueError(f"eval.lm_eval.tasks={families} defines no task for languages {list(langs)}; "
                         f"MGSM has: {', '.join(family_languages('mgsm_native_cot'))}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_root = data_root or os.environ.get("PBRL_DATA_ROOT")
    include = None
    if data_root and (Path(data_root) / "mgsm").is_dir() and any(n.startswith("mgsm_") for n in names):
        include = write_local_tasks(names, data_root, out_dir / "tasks")
    args = model_args(model, base, str(adapter) if adapter else None, dtype, device, dict(opts.model_args), lora_rank,
                      engine=dataclasses.asdict(opts.vllm), chat_template_kwargs=dict(opts.chat_template_kwargs))
    options, selected = harness_options(eval_cfg, names, tasks_by_lang, doc_ids, desc)
    command = command_line(model, args, names, options, include)
    log.info("%s through lm-evaluation-harness: %s", desc, command)
    spec = {"model": model, "model_args": args, "tasks": names, "include": str(include) if include else None,
            "options": options, "selected": selected, "out_dir": str(out_dir)}
    logged = run_module("pbrl.harness", spec, out_dir, f"{desc} (lm-evaluation-harness)")["tasks"]
    results = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    samples = {task: [json.loads(line) for line in (out_dir / f"samples_{task}.jsonl").read_text("utf-8").splitlines()]
               for task in logged}
    result = summarize(results, samples, tasks_by_lang)
    result["lm_eval"] = {"command": command, "model": model, "model_args": args, "tasks": names,
                         "not_defined": missing, "version": _version(), "output_dir": str(out_dir)}
    for lang, m in sorted(result["languages"].items()):
        shown = " ".join(f"{k.split('/', 2)[-1]}={v:.3f}" for k, v in m.items()
                         if k.startswith("lm_eval/") and isinstance(v, float) and not k.endswith("_stderr"))
        log.info("%s %s: n=%s pbrl accuracy=%s %s", desc, lang, m.get("n"), m.get("accuracy"), shown)
    return result


def harness_options(eval_cfg: EvalConfig, names: list[str], tasks_by_lang: dict, doc_ids, desc: str):
    """(simple_evaluate's options as `lm_eval` flags, {task: MGSM documents} or None)."""
    opts = eval_cfg.lm_eval
    few_shot = eval_cfg.few_shot or None
    limit = opts.limit
    selected = None
    if doc_ids and all(n.startswith("mgsm_") for n in names):
        selected = {task: sorted(doc_ids.get(lang, []))[:limit] for lang, tasks in tasks_by_lang.items()
                    for task in tasks}
        limit = None  # the harness takes either a limit or document lists
    elif doc_ids:
        log.warning("%s: MGSM documents are not restricted to the held-out problems when other tasks run too", desc)
    options = {
        "num_fewshot": few_shot,
        "limit": limit,
        "samples": json.dumps(selected) if selected else None,
        "batch_size": eval_cfg.batch_size,
        "apply_chat_template": opts.apply_chat_template,
        "fewshot_as_multiturn": opts.apply_chat_template and few_shot is not None,
        "gen_kwargs": {"max_gen_toks": eval_cfg.max_new_tokens},
        "seed": 0,
    }
    return options, selected


def run_harness(spec: dict) -> dict:
    """The child's side of `evaluate_with_harness` (`python -m pbrl.harness spec.json result.json`, a
    process of its own with no rank variables): `lm_eval.simple_evaluate`, results and logged samples
    written to `spec["out_dir"]`."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    options, out_dir = spec["options"], Path(spec["out_dir"])
    output = lm_eval.simple_evaluate(
        model=spec["model"], model_args=spec["model_args"], tasks=spec["tasks"], log_samples=True,
        task_manager=TaskManager(include_path=spec["include"]), num_fewshot=options["num_fewshot"],
        limit=options["limit"], samples=spec["selected"], batch_size=options["batch_size"],
        apply_chat_template=options["apply_chat_template"], fewshot_as_multiturn=options["fewshot_as_multiturn"],
        gen_kwargs=options["gen_kwargs"], random_seed=0, numpy_random_seed=0, torch_random_seed=0,
        fewshot_random_seed=0,
    )
    results = _jsonable(output["results"])
    samples = _jsonable(output.get("samples") or {})
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), "utf-8")
    for task, rows in samples.items():
        (out_dir / f"samples_{task}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return {"tasks": sorted(samples)}


def _version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def _jsonable(value):
    """numpy scalars and tuples in the harness's output, as plain JSON values."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


if __name__ == "__main__":
    from pbrl.isolated import child_main

    sys.exit(child_main(sys.argv[1:], run_harness))
