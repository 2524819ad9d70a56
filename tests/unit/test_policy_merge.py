"""`merged_adapter`: evaluation through folded LoRA weights gives the adapter's outputs and leaves the
trainable adapter as it was."""

from __future__ import annotations

import copy

import torch
from omegaconf import OmegaConf

from pbrl.policy import load_policy, merged_adapter


def test_merged_adapter_matches_the_wrapped_model_and_restores_it(tiny_cache):
    from peft import LoraConfig, get_peft_model

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    base = load_policy(cfg, tiny_cache, "cpu").model
    torch.manual_seed(0)
    model = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    with torch.no_grad():
        wrapped = model(input_ids=ids).logits
        plain = base(input_ids=ids).logits
        assert not torch.allclose(wrapped, plain, atol=1e-4), "the adapter must change the outputs for this test to mean anything"
        weights = {k: v.clone() for k, v in model.state_dict().items()}
        with merged_adapter(model):
            merged = model(input_ids=ids).logits
        after = model(input_ids=ids).logits
    torch.testing.assert_close(merged, wrapped, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after, wrapped, atol=1e-5, rtol=1e-5)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, weights[key], atol=1e-5, rtol=1e-5)
    with merged_adapter(base) as same:  # a plain model passes through
        assert same is base
