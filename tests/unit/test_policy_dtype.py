import pytest
import torch

import pbrl.policy as policy


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_dtype_on_cpu_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, native, expected):
    monkeypatch.setattr(policy, "cpu_has_native_bfloat16", lambda: native)
    assert policy.resolve_dtype("auto", "cpu") == expected
    assert policy.resolve_dtype("auto", "cuda") == torch.bfloat16
    assert policy.resolve_dtype("float32", "cpu") == torch.float32


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="policy.dtype 'fp8'.*auto, float32, bfloat16, float16"):
        policy.resolve_dtype("fp8", "cpu")


def test_native_bfloat16_probe_answers_a_bool():
    assert isinstance(policy.cpu_has_native_bfloat16(), bool)
