"""`SharedPromptLogps`: TRL's completion log-probs, entropies and their gradients, with each distinct
prompt run once and only completion tokens scored."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture()
def lora_model(tiny_cache):
    from omegaconf import OmegaConf
    from peft import LoraConfig, get_peft_model
    from trl.trainer.utils import add_fused_lm_head

    from pbrl.policy import load_policy

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    policy = load_policy(cfg, tiny_cache, "cpu")
    add_fused_lm_head(policy.model, temperature=0.7, outputs=("log_probs", "entropy"))  # as GRPOTrainer does
    torch.manual_seed(0)
    model = get_peft_model(policy.model, LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj"],
                                                    layers_to_transform=[1], init_lora_weights=False))
    return model, policy.tokenizer


def rollout(tokenizer, generations: int = 3):
    """Two prompts x `generations` completions, as TRL lays them out: prompts left-padded to the
    longest, completions right-padded to the longest."""
    prompts = ["Frage: 1 + 1?\nAntwort: 2\n\nFrage: 2 + 3?\nAntwort:", "Q: 7 + 7?\nA:"]
    completions = [" 5", " 2 + 3 = 5. Die Antwort ist 5.", " 6", " 14", " 7 + 7 = 14", " 15"][: 2 * generations]
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts for _ in range(generations)]
    completion_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions]
    width, length = max(map(len, prompt_ids)), max(map(len, completion_ids))
    ids = [[0] * (width - len(p)) + p + c + [0] * (length - len(c)) for p, c in zip(prompt_ids, completion_ids)]
    mask = [[0] * (width - len(p)) + [1] * (len(p) + len(c)) + [0] * (length - len(c))
            for p, c in zip(prompt_ids, completion_ids)]
    return torch.tensor(ids), torch.tensor(mask), length


def trl_logps(model, input_ids, attention_mask, logits_to_keep):
    """What TRL 1.16's `_get_per_token_logps_and_entropies` computes for text rows (one chunk)."""
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[:, :-logits_to_keep] = -100
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
    return out.log_probs[:, -logits_to_keep:], out.entropy[:, -logits_to_keep:]


def lora_grads(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for n, p in model.named_parameters() if "lora_" in n]


def test_log_probs_entropies_and_gradients_equal_trls(lora_model):
    from pbrl.algos.shared_prompt import completion_logps

    model, tokenizer = lora_model
    input_ids, attention_mask, length = rollout(tokenizer)
    mask = attention_mask[:, -length:].float()
    theirs, their_entropy = trl_logps(model, input_ids, attention_mask, length)
    ours, our_entropy = completion_logps(model, input_ids, attention_mask, length, compute_entropy=True)
    assert torch.allclose(ours * mask, theirs * mask, atol=1e-5)
    assert torch.allclose(our_entropy * mask, their_entropy * mask, atol=1e-5)
    their_grads = lora_grads(model, -(theirs * mask).sum())
    our_grads = lora_grads(model, -(completion_logps(model, input_ids, attention_mask, length, False)[0] * mask).sum())
    assert their_grads and all(g.abs().sum() > 0 for g in their_grads), "LoRA under the prompt learns"
    for a, b in zip(our_grads, their_grads):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_each_distinct_prompt_runs_once_and_only_completions_are_scored(lora_model):
    from pbrl.algos.shared_prompt import completion_logps

    model, tokenizer = lora_model
    input_ids, attention_mask, length = rollout(tokenizer)
    widths = []
    hook = model.get_base_model().model.register_forward_hook(
        lambda module, args, kwargs, out: widths.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    completion_logps(model, input_ids, attention_mask, length, compute_entropy=False)
    hook.remove()
    prompt_width = input_ids.shape[1] - length
    assert widths == [(2, prompt_width - 1), (6, length + 1)]


@pytest.mark.parametrize("setting", ["plain", "gradient_checkpointing", "fsdp"])
def test_trls_own_scoring_where_a_layer_may_run_twice_or_is_sharded(setting):
    from types import SimpleNamespace

    import pbrl.algos.shared_prompt as shared_prompt

    class TRLScoring:
        def _get_per_token_logps_and_entropies(self, *args, **kwargs):
            return "trl"

    class Trainer(shared_prompt.SharedPromptLogps, TRLScoring):
        args = SimpleNamespace(gradient_checkpointing=setting == "gradient_checkpointing")
        is_fsdp_enabled = setting == "fsdp"
        accelerator = SimpleNamespace(autocast=lambda: __import__("contextlib").nullcontext())

    calls = []
    original = shared_prompt.completion_logps
    shared_prompt.completion_logps = lambda *args, **kwargs: calls.append(1) or (torch.zeros(1, 2), None)
    try:
        result = Trainer()._get_per_token_logps_and_entropies(None, torch.ones(1, 5, dtype=torch.long),
                                                              torch.ones(1, 5), 2)
    finally:
        shared_prompt.completion_logps = original
    assert (result == "trl") == (setting != "plain") and bool(calls) == (setting == "plain")
