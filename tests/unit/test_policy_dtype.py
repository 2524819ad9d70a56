import pytest
import torch

import pbrl.policy as policy


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_dtype_on_cpu_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, native, expected):
    monkeypatch.setattr(policy, "cpu_has_native_bfloat16", lambda: native)
    assert policy.resolve_dtype("auto", "cpu") == expected
    assert policy.resolve_dtype("float32", "cpu") == torch.float32


@pytest.mark.parametrize("bf16, expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_dtype_on_cuda_is_bfloat16_only_where_the_gpu_has_it(monkeypatch, bf16, expected):
    monkeypatch.setattr(policy, "cuda_has_bfloat16", lambda: bf16)
    assert policy.resolve_dtype("auto", "cuda") == expected


def test_explicit_bfloat16_on_a_gpu_without_it_names_the_fix(monkeypatch):
    """V100 / T4: bfloat16 weights would fail in the first kernel; the run stops at load, in one line."""
    monkeypatch.setattr(policy, "cuda_has_bfloat16", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla V100-SXM2-32GB")
    with pytest.raises(ValueError, match="Tesla V100-SXM2-32GB has no bfloat16.*policy.dtype=auto"):
        policy.resolve_dtype("bfloat16", "cuda")
    assert policy.resolve_dtype("float16", "cuda") == torch.float16


def test_cuda_bfloat16_probe_is_false_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert policy.cuda_has_bfloat16() is False


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="policy.dtype 'fp8'.*auto, float32, bfloat16, float16"):
        policy.resolve_dtype("fp8", "cpu")


def test_native_bfloat16_probe_answers_a_bool():
    assert isinstance(policy.cpu_has_native_bfloat16(), bool)


@pytest.mark.parametrize(
    "env, native",
    [
        ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}, False),  # the AVX2 class, reproduced
        ({"ATEN_CPU_CAPABILITY": "avx2"}, False),  # oneDNN native, ATen's bfloat16 kernels emulated
        ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, False),  # AVX-512 without BF16: oneDNN emulates it
        ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, None),  # native where the hardware has it
        ({}, None),
    ],
)
def test_native_bfloat16_follows_what_torch_will_run_under_the_environment(env, native):
    """Each case in a fresh interpreter: torch reads these variables once, at import."""
    import os
    import subprocess
    import sys

    code = "import pbrl.policy as p; print(p.cpu_has_native_bfloat16())"
    probe = "import torch.cpu; print(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())"
    clean = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    run = lambda src, extra: subprocess.run([sys.executable, "-c", src], env=clean | extra, capture_output=True,
                                            text=True, check=True).stdout.strip()
    hardware = run(probe, {}) == "True"
    expected = hardware if native is None else native
    assert run(code, env) == str(expected)
