"""The helpers and forward passes of pbrl's critic PPO (pbrl.algos.ppo, pbrl.algos.ppo_model): batch
layout, data order, config checks, rollouts that stop where generation stops, and the frozen-trunk
forward (computed once per rollout), which must give the same log-probs, values and gradients as the
full forward. The math is in test_ppo_math.py; learning and resume in tests/integration."""

from __future__ import annotations

import pytest
import torch

from pbrl.algos.ppo import PPOConfig, build_config, step_indices
from pbrl.algos.ppo_model import (
    Encoded,
    PolicyForward,
    ValueHead,
    collate,
    completion_lengths,
    eos_token_ids,
    frozen_depth,
    sample,
)


def test_collate_left_pads_prompts_and_right_pads_completions():
    ids, attention, mask, prompt_len = collate([[1, 2], [3]], [[4], [5, 6]], pad_id=0)
    assert prompt_len == 2
    assert ids.tolist() == [[1, 2, 4, 0], [0, 3, 5, 6]]
    assert attention.tolist() == [[1, 1, 1, 0], [0, 1, 1, 1]]
    assert mask.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_completion_lengths_stop_after_first_eos():
    assert completion_lengths(torch.tensor([[5, 2, 7], [2, 9, 9], [1, 1, 1]]), {2}) == [2, 1, 3]
    assert completion_lengths(torch.tensor([[5, 3, 2, 3]]), {2, 3}) == [2]


def test_select_drops_columns_that_are_padding_in_every_selected_row():
    ids, attention, _, prompt_len = collate([[1, 2, 3], [4], [5, 6]], [[7], [8, 9, 10], [11]], pad_id=0)
    batch = Encoded(ids, attention, (attention.cumsum(-1) - 1).clamp(min=0), prompt_len)
    part = batch.select([2, 0])  # prompts of 2 and 3 tokens, completions of 1: 3 + 1 columns of 6
    assert part.input_ids.tolist() == [[0, 5, 6, 11], [1, 2, 3, 7]]
    assert part.prompt_len == 3 and part.offset == 0 and part.completion_ids.tolist() == [[11], [7]]
    short = batch.select([1])
    assert short.input_ids.tolist() == [[4, 8, 9, 10]] and short.offset == 2 and short.prompt_len == 1
    assert short.position_ids.tolist() == [[0, 1, 2, 3]]  # positions as in the full rollout
    assert short.completion_mask.tolist() == [[1.0, 1.0, 1.0]]


def test_by_length_orders_rows_by_prompt_length():
    ids, attention, _, prompt_len = collate([[1, 2, 3], [4], [5, 6], [7]], [[8], [9], [10], [11]], pad_id=0)
    batch = Encoded(ids, attention, (attention.cumsum(-1) - 1).clamp(min=0), prompt_len)
    assert batch.by_length() == [1, 3, 2, 0]  # stable: equal lengths keep their order
    assert batch.by_length([0, 2, 3]) == [3, 2, 0]


def test_step_indices_keep_the_pipeline_order_then_walk_seeded_permutations():
    steps = [step_indices(5, 3, step, seed=7) for step in (1, 2, 3, 4)]
    flat = [i for s in steps for i in s]
    assert flat[:5] == list(range(5)) and sorted(flat[5:10]) == list(range(5))
    assert step_indices(5, 3, 2, seed=7) == steps[1]  # a function of (seed, step): resumable
    other_seed = [i for s in (step_indices(5, 3, k, seed=8) for k in (1, 2, 3, 4)) for i in s]
    assert flat[:5] == other_seed[:5] and flat[5:10] != other_seed[5:10]


@pytest.mark.parametrize("bad", [dict(vf_coef=-0.1), dict(lam=1.5), dict(ppo_epochs=0), dict(mini_batch_size=0)])
def test_config_rejects_bad_values(bad):
    """The PPO group's ranges (the algo node's, temperature > 0 included, are the pre-flight's)."""
    with pytest.raises(ValueError, match=next(iter(bad))):
        build_config({"trainer": "ppo", "args": bad})


def test_config_takes_the_algo_node_values():
    from pbrl.config import AlgoConfig

    cfg = build_config({"trainer": "ppo", "beta": 0.05, "max_steps": 3, "args": {"gamma": 0.9}})
    algo = AlgoConfig(name="x", trainer="ppo")
    assert (cfg.max_steps, cfg.kl_coef, cfg.gamma) == (3, 0.05, 0.9)
    assert (cfg.learning_rate, cfg.temperature) == (algo.learning_rate, algo.temperature)
    assert isinstance(cfg, PPOConfig)


def test_laptop_preset_matches_grpo_sizes():
    """The laptop comparison gives PPO the GRPO preset's steps, learning rate, completions per step,
    completion length and temperature."""
    from pbrl.config import compose_config

    ppo, grpo = compose_config(["algo=ppo"]).algo, compose_config(["algo=grpo"]).algo
    for key in ("max_steps", "learning_rate", "max_completion_length", "temperature", "save_steps"):
        assert ppo[key] == grpo[key], key
    rollout = ppo.per_device_batch_size * ppo.gradient_accumulation_steps  # one completion per prompt
    assert rollout == grpo.per_device_batch_size * grpo.gradient_accumulation_steps


# ---------------------------------------------------------------- on the tiny policy


@pytest.fixture()
def tiny(tiny_cache):
    from omegaconf import OmegaConf

    from pbrl.policy import load_policy

    cfg = OmegaConf.create({"model": "pbrl:tiny", "dtype": "float32", "revision": None, "lora": None,
                            "gradient_checkpointing": False, "attn_implementation": None, "chat_template": None})
    torch.manual_seed(0)
    return load_policy(cfg, tiny_cache, "cpu")


def top_layer_lora(model):
    """LoRA on the top layer only (as the laptop preset's layers 24-29 of 30), non-zero from the start."""
    from peft import LoraConfig, get_peft_model

    top = model.config.num_hidden_layers - 1
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], layers_to_transform=[top],
                        task_type="CAUSAL_LM", init_lora_weights=False)
    return get_peft_model(model, config)


def rollout(forward: PolicyForward, chunk: int = 2):
    prompts = [[5, 6, 7, 8, 9], [10, 11], [3, 4, 5, 6, 7, 8, 9, 10]]
    completions = [[20, 21, 22], [23], [24, 25, 26, 27, 28]]
    return forward.encode_rollout(prompts, completions, pad_id=0, chunk=chunk)


def full(batch: Encoded) -> Encoded:
    return Encoded(batch.input_ids, batch.attention_mask, batch.position_ids, batch.prompt_len)


def test_frozen_depth_is_the_first_trainable_layer(tiny):
    assert frozen_depth(tiny.model) == 0  # full fine-tuning: the embeddings train
    model = top_layer_lora(tiny.model)
    assert frozen_depth(model.get_base_model()) == model.config.num_hidden_layers - 1


def test_trunk_forward_equals_full_forward(tiny):
    model = top_layer_lora(tiny.model)
    forward = PolicyForward(model, temperature=0.7)
    assert forward.split == 1, "the self-check accepted the split forward"
    head = ValueHead(model.config.hidden_size)
    torch.nn.init.normal_(head.linear.weight)
    batch = rollout(forward)
    assert batch.trunk is not None and batch.trunk.shape[:2] == batch.input_ids.shape
    model.eval()
    with torch.no_grad():
        for rows in ([0, 1, 2], [2, 0], [1]):
            split, cached = batch.select(rows), full(batch).select(rows)
            mask = split.completion_mask
            (lp, v), (lp_full, v_full) = forward(split, head), forward(cached, head)
            assert torch.allclose(lp * mask, lp_full * mask, atol=1e-5)
            assert torch.allclose(v * mask, v_full * mask, atol=1e-5)
            ref, ref_full = forward(split, reference=True)[0], forward(cached, reference=True)[0]
            assert torch.allclose(ref * mask, ref_full * mask, atol=1e-5)
            assert not torch.allclose(lp * mask, ref * mask, atol=1e-3), "the reference is the adapter-free model"

    def gradients(part):
        model.zero_grad()
        lp, v = forward(part, head)
        ((lp * part.completion_mask).sum() + (v * part.completion_mask).sum()).backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}

    model.train()
    split_grads, full_grads = gradients(batch.select([0, 1, 2])), gradients(full(batch).select([0, 1, 2]))
    for name, grad in split_grads.items():
        assert torch.allclose(grad, full_grads[name], rtol=1e-4, atol=1e-4), name


def test_reference_is_the_model_without_its_adapter(tiny):
    import copy

    base = copy.deepcopy(tiny.model)
    forward = PolicyForward(top_layer_lora(tiny.model), temperature=1.0)
    batch = rollout(forward).select([0, 1, 2])
    with torch.no_grad():
        ref = forward(batch, reference=True)[0]
        logits = base(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                      position_ids=batch.position_ids).logits[:, batch.prompt_len - 1 : -1]
    expected = logits.log_softmax(-1).gather(-1, batch.completion_ids[..., None])[..., 0]
    mask = batch.completion_mask
    assert torch.allclose(ref * mask, expected * mask, atol=1e-5)


def test_backpropagation_stops_below_the_adapters(tiny):
    """Without gradient checkpointing nothing below the first trainable layer is recorded by autograd
    (PPO used to make the embedding output require grad, so every backward went through all layers)."""
    model = top_layer_lora(tiny.model)
    forward = PolicyForward(model, temperature=1.0)
    forward.split = 0  # the full forward: the embeddings run inside the pass
    batch = rollout(forward).select([0, 1, 2])
    seen = []
    hook = model.get_base_model().get_input_embeddings().register_forward_hook(
        lambda module, args, out: seen.append(out.requires_grad))
    try:
        lp, _ = forward(batch)
    finally:
        hook.remove()
    assert seen == [False] and lp.requires_grad


def test_sample_stops_at_the_generation_config_end_tokens(tiny):
    from pbrl.generation import newline_token_ids, stop_at_newline

    stop_at_newline(tiny.model, tiny.tokenizer)
    eos = eos_token_ids(tiny.model, tiny.tokenizer)
    assert set(newline_token_ids(tiny.tokenizer)) <= eos and tiny.tokenizer.eos_token_id in eos
    prompts = [tiny.tokenizer("Question: 2 + 2?\nAnswer:")["input_ids"], tiny.tokenizer("Hi")["input_ids"]] * 3
    # the random policy rarely samples a line break: with half the vocabulary as end tokens, every
    # completion ends within a few tokens (the chance that one of 6 runs 40 tokens is ~6 * 2^-40)
    ends = eos | set(range(tiny.model.config.vocab_size // 2))
    torch.manual_seed(0)
    completions = sample(tiny.model, tiny.tokenizer, prompts, max_new_tokens=40, temperature=1.0, top_p=1.0,
                         top_k=0, eos_ids=ends)
    assert len(completions) == len(prompts)
    for completion in completions:
        assert 1 <= len(completion) < 40 and completion[-1] in ends, "each stops at its first end token..."
        assert not ends & set(completion[:-1]), "...with nothing after it"
