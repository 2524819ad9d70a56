"""English pivot references: what the policy's answers in other languages are compared with.

kind=gold: the dataset's English worked solution (GSM8K's, without `<<calc>>` annotations), ending in
"The answer is N." with N from `#### N`. kind=self (the policy's own model) or kind=model (any
English LLM): the model answers the English question `num_samples` times; a sample is kept only if
its final answer equals the gold answer, or, without gold, if a strict majority of samples agree.

    refs = build_references(pivot_cfg, examples, cache_dir, device="cpu", self_model="pbrl:tiny")
    # [{"id": "mgsm-0", "reference": "...", "reference_answer": "18", "verified": True, "source": "gold"}]
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from pathlib import Path

from tqdm.auto import tqdm

from pbrl.answers import answers_match, extract_answer
from pbrl.config import PivotConfig, as_schema
from pbrl.data.example import Example
from pbrl.languages import LANGUAGES
from pbrl.pivot.cache import SampleCache

log = logging.getLogger(__name__)


def english(examples: list[Example]) -> list[Example]:
    """The English pivot problems: one English example per problem id (its English row, else a copy
    with the question taken from `question_en`), in first-seen order."""
    by_id: dict[str, Example] = {}
    for e in examples:
        if e.id not in by_id or e.lang == "en":
            by_id[e.id] = (
                e if e.lang == "en" else dataclasses.replace(e, lang="en", question=e.question_en or e.question)
            )
    return list(by_id.values())


def gold_reference(example: Example) -> dict:
    """The dataset's worked solution as a reference; unverified when there is no solution or answer."""
    verified = bool(example.solution_en.strip()) and bool(example.answer)
    text = example.solution_en.strip()
    if verified and LANGUAGES["en"].answer_phrase.casefold() not in text.casefold():
        text += f"\n{LANGUAGES['en'].answer_phrase} {example.answer}."
    return {
        "id": example.id,
        "reference": text,
        "reference_answer": example.answer,
        "verified": verified,
        "source": "gold",
    }


def verify_samples(samples: list[str], gold: str) -> tuple[str, str | None, bool]:
    """(reference, its answer, verified): the first sample whose answer equals `gold`, else (no gold)
    the first sample of the strict-majority answer."""
    answers = [extract_answer(s) for s in samples]
    if gold:
        for sample, answer in zip(samples, answers):
            if answers_match(answer, gold):
                return sample, answer, True
        return (samples[0] if samples else ""), (answers[0] if answers else None), False
    counts = Counter(a for a in answers if a is not None)
    if counts:
        top, count = counts.most_common(1)[0]
        if count > len(samples) / 2:
            return samples[answers.index(top)], top, True
    return (samples[0] if samples else ""), (answers[0] if answers else None), False


def _load_model(model_name: str, device: str, chat_template_kwargs: dict | None = None):
    """The pivot model for transformers generation, read straight onto this rank's GPU (`device_map`)."""
    import torch
    from transformers import AutoModelForCausalLM

    from pbrl.policy import cuda_has_bfloat16, load_tokenizer, placement

    path = _resolve(model_name)
    cuda = str(device).startswith("cuda")
    dtype = (torch.bfloat16 if cuda_has_bfloat16() else torch.float16) if cuda else torch.float32
    tokenizer = load_tokenizer(path, chat_template_kwargs=chat_template_kwargs)
    tokenizer.padding_side = "left"
    if cuda:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **placement("cuda"))
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    return model, tokenizer


def _resolve(model_name: str) -> str:
    from pbrl.models import resolve_model

    return resolve_model(model_name)


def _vllm_generate(model_name: str, prompts: list, pivot: PivotConfig, seed: int, workdir: Path):
    """`num_samples` answers per prompt from a vLLM engine in its own process (`pbrl.isolated`): its
    memory share, context and tensor parallelism are `pivot.vllm`, and it starts with no rank variables."""
    import importlib.util

    from pbrl.isolated import run_module

    if importlib.util.find_spec("vllm") is None:
        raise ImportError("pivot.backend=vllm needs vllm (pip install vllm); or set pivot.backend=transformers")
    spec = {"model": _resolve(model_name), "prompts": prompts, "n": pivot.num_samples, "seed": seed,
            "temperature": pivot.temperature, "max_tokens": pivot.max_new_tokens,
            "engine": dataclasses.asdict(pivot.vllm), "chat_template_kwargs": dict(pivot.chat_template_kwargs)}
    return run_module("pbrl.pivot.vllm_worker", spec, workdir, f"pivot {model_name} (vLLM)")


def sample_references(
    examples_en: list[Example],
    model_name: str,
    pivot_cfg,
    cache_dir: str | Path,
    device: str = "cpu",
    model=None,
    tokenizer=None,
    seed: int = 0,
) -> list[list[str]]:
    """`num_samples` English answers per example, from the cache or generated batch by batch."""
    from pbrl.data.prompts import build_prompt

    pivot = as_schema(PivotConfig, pivot_cfg)
    k, temperature, max_new_tokens = pivot.num_samples, pivot.temperature, pivot.max_new_tokens
    batch_size, backend = pivot.batch_size, pivot.backend
    if k > 1 and temperature <= 0:
        raise ValueError(
            f"pivot.num_samples={k} with pivot.temperature=0 gives {k} identical samples; set pivot.temperature > 0 or num_samples=1"
        )
    settings = {
        "model": model_name,
        "backend": backend,
        "num_samples": k,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
    }
    cache = SampleCache(cache_dir, settings)
    prompts = [build_prompt(e) for e in examples_en]
    keys = [SampleCache.question_key(e.id, p) for e, p in zip(examples_en, prompts)]
    todo = [i for i, key in enumerate(keys) if key not in cache]
    log.info(
        "pivot %s: %d questions, %d cached, %d to generate", model_name, len(keys), len(keys) - len(todo), len(todo)
    )
    if todo and backend == "vllm":
        outputs = _vllm_generate(model_name, [prompts[i] for i in todo], pivot, seed, Path(cache_dir).expanduser())
        cache.put_many((keys[i], {"id": examples_en[i].id, "samples": list(out)}) for i, out in zip(todo, outputs))
    elif todo:
        from pbrl.generation import generate

        if model is None:
            model, tokenizer = _load_model(model_name, device, dict(pivot.chat_template_kwargs))
        for start in tqdm(range(0, len(todo), batch_size), desc="pivot", unit="batch"):
            batch = todo[start : start + batch_size]
            outputs = generate(
                model,
                tokenizer,
                [prompts[i] for i in batch],
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
                temperature=temperature,
                num_return_sequences=k,
                seed=seed + start,
                desc="pivot batch",
            )
            cache.put_many((keys[i], {"id": examples_en[i].id, "samples": list(out)})
                           for i, out in zip(batch, outputs))
    return [cache.samples(key) for key in keys]


def build_references(
    pivot_cfg,
    examples: list[Example],
    cache_dir: str | Path,
    device: str = "cpu",
    self_model: str | None = None,
    model=None,
    tokenizer=None,
) -> list[dict]:
    """Verified English references, one per problem of `examples` (in any language; `english` makes the
    English problems): rows {id, reference, reference_answer, verified, source}.

    pivot_cfg (a PivotConfig, or a DictConfig/dict of its keys): kind (gold | self | model), model,
    num_samples, temperature, max_new_tokens, batch_size, backend. `self_model` names the policy model
    for kind=self; `model`/`tokenizer` may pass an already loaded one (else it is loaded on `device`).
    """
    pivot = as_schema(PivotConfig, pivot_cfg)
    kind = pivot.kind
    examples = english(examples)
    if kind == "gold":
        rows = [gold_reference(e) for e in examples]
        if examples and not any(r["verified"] for r in rows):
            raise ValueError(
                "pivot.kind=gold found no English worked solution in these examples (only mgsm/gsm8k have them); use pivot=self or pivot=model"
            )
    else:
        model_name = self_model if kind == "self" else pivot.model
        if not model_name:
            raise ValueError(
                f"pivot.kind={kind} needs {'the policy model' if kind == 'self' else 'pivot.model'} (a hub id, folder or pbrl:<name>)"
            )
        samples = sample_references(examples, model_name, pivot, cache_dir, device, model, tokenizer)
        rows = []
        for example, example_samples in zip(examples, samples):
            reference, answer, verified = verify_samples(example_samples, example.answer)
            rows.append(
                {
                    "id": example.id,
                    "reference": reference,
                    "reference_answer": answer or "",
                    "verified": verified,
                    "source": f"{kind}:{model_name}",
                }
            )
    passed = sum(r["verified"] for r in rows)
    log.info(
        "pivot %s: %d/%d references verified (pass rate %.1f%%)",
        kind,
        passed,
        len(rows),
        100 * passed / max(len(rows), 1),
    )
    return [r for r in rows if r["verified"]]
