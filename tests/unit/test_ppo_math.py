"""GAE, the PPO losses and the batch helpers of pbrl.algos.ppo, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from pbrl.algos.ppo import (
    PPOConfig,
    collate,
    completion_lengths,
    gae,
    masked_mean,
    masked_whiten,
    policy_loss_terms,
    step_indices,
    token_rewards,
    value_loss_terms,
)


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_gae_three_tokens_full_mask():
    # gamma=1, lam=0.5; reward only at the end.
    # t=2: delta = 1 + 0 - 0.7 = 0.3               A2 = 0.3
    # t=1: delta = 0 + 0.7 - 0.6 = 0.1             A1 = 0.1 + 0.5 * 0.3 = 0.25
    # t=0: delta = 0 + 0.6 - 0.5 = 0.1             A0 = 0.1 + 0.5 * 0.25 = 0.225
    advantages, returns = gae(t([[0, 0, 1]]), t([[0.5, 0.6, 0.7]]), t([[1, 1, 1]]), gamma=1.0, lam=0.5)
    assert advantages.tolist()[0] == pytest.approx([0.225, 0.25, 0.3])
    assert returns.tolist()[0] == pytest.approx([0.725, 0.85, 1.0])  # A + V


def test_gae_ends_at_the_mask_and_ignores_padding():
    # gamma=0.9, lam=1; the third token is padding (its reward 9 and value 7 must not leak in).
    # t=1 (last real): delta = 2 + 0.9 * 0 - 0.5 = 1.5       A1 = 1.5
    # t=0:             delta = 0 + 0.9 * 0.5 - 1.0 = -0.55   A0 = -0.55 + 0.9 * 1.5 = 0.8
    advantages, returns = gae(t([[0, 2, 9]]), t([[1.0, 0.5, 7.0]]), t([[1, 1, 0]]), gamma=0.9, lam=1.0)
    assert advantages.tolist()[0] == pytest.approx([0.8, 1.5, 0.0])
    assert returns.tolist()[0] == pytest.approx([1.8, 2.0, 0.0])


def test_gae_rows_are_independent():
    rows = gae(t([[0, 0, 1], [0, 2, 9]]), t([[0.5, 0.6, 0.7], [1.0, 0.5, 7.0]]), t([[1, 1, 1], [1, 1, 0]]), 1.0, 0.5)[0]
    assert rows[0].tolist() == pytest.approx([0.225, 0.25, 0.3])
    # second row with gamma=1, lam=0.5: A1 = 2 - 0.5 = 1.5 ; A0 = (0.5 - 1.0) + 0.5 * 1.5 = 0.25
    assert rows[1].tolist() == pytest.approx([0.25, 1.5, 0.0])


def test_token_rewards_kl_penalty_and_score_on_last_real_token():
    logprobs, ref = t([[-1.0, -2.0, -3.0]]), t([[-1.5, -2.0, -2.0]])
    # log pi - log ref = [0.5, 0, -1]  ->  -0.1 * that = [-0.05, 0, 0.1]; score 1 on the last token
    full = token_rewards(t([1.0]), logprobs, ref, t([[1, 1, 1]]), kl_coef=0.1)
    assert full.tolist()[0] == pytest.approx([-0.05, 0.0, 1.1])
    # the completion ends after two tokens: the score goes on token 1, padding gets nothing
    short = token_rewards(t([1.0]), logprobs, ref, t([[1, 1, 0]]), kl_coef=0.1)
    assert short.tolist()[0] == pytest.approx([-0.05, 1.0, 0.0])
    no_ref = token_rewards(t([0.5]), logprobs, None, t([[1, 1, 1]]), kl_coef=0.1)
    assert no_ref.tolist()[0] == pytest.approx([0.0, 0.0, 0.5])


def test_policy_loss_clips_pessimistically():
    old = t([[0.0, 0.0, 0.0]])
    new = t([[math.log(1.5), math.log(0.5), math.log(0.5)]])  # ratios 1.5, 0.5, 0.5
    adv = t([[2.0, 2.0, -1.0]])
    losses, clipped = policy_loss_terms(new, old, adv, cliprange=0.2)
    # ratio 1.5, A=2:  max(-3.0, -2 * 1.2 = -2.4) = -2.4 (clipped)
    # ratio 0.5, A=2:  max(-1.0, -2 * 0.8 = -1.6) = -1.0
    # ratio 0.5, A=-1: max( 0.5,  1 * 0.8 =  0.8) =  0.8 (clipped)
    assert losses.tolist()[0] == pytest.approx([-2.4, -1.0, 0.8])
    assert clipped.tolist()[0] == [1.0, 0.0, 1.0]
    assert float(masked_mean(losses, t([[1, 1, 1]]))) == pytest.approx(-2.6 / 3)
    assert float(masked_mean(losses, t([[1, 1, 0]]))) == pytest.approx(-1.7)


def test_policy_loss_gradient_is_zero_where_clipped():
    new = torch.tensor([[math.log(1.5), 0.0]], requires_grad=True)
    losses, _ = policy_loss_terms(new, t([[0.0, 0.0]]), t([[2.0, 2.0]]), cliprange=0.2)
    losses.sum().backward()
    # clipped token: no gradient; unclipped ratio 1: d(-A r)/d logp = -A r = -2
    assert new.grad.tolist()[0] == pytest.approx([0.0, -2.0])


def test_value_loss_clipped():
    values, old, returns = t([[0.5, -0.1, 1.0]]), t([[0.0, 0.0, 1.0]]), t([[1.0, 1.0, 0.0]])
    losses = value_loss_terms(values, old, returns, cliprange_value=0.2)
    # t0: V_clip = 0.2: 0.5 * max((0.5-1)^2 = 0.25, (0.2-1)^2 = 0.64) = 0.32
    # t1: V_clip = -0.1 (inside the range): 0.5 * 1.1^2 = 0.605
    # t2: 0.5 * (1 - 0)^2 = 0.5
    assert losses.tolist()[0] == pytest.approx([0.32, 0.605, 0.5])
    assert float(masked_mean(losses, t([[1, 1, 0]]))) == pytest.approx(0.4625)


def test_masked_whiten_uses_only_real_tokens():
    # real tokens 1, 2, 3: mean 2, population variance 2/3, so (x - 2) / sqrt(2/3)
    out = masked_whiten(t([[1.0, 2.0], [3.0, 100.0]]), t([[1, 1], [1, 0]]))
    s = math.sqrt(2 / 3)
    assert out.flatten().tolist() == pytest.approx([-1 / s, 0.0, 1 / s, 0.0], abs=1e-5)


def test_collate_left_pads_prompts_and_right_pads_completions():
    ids, attention, mask, prompt_len = collate([[1, 2], [3]], [[4], [5, 6]], pad_id=0)
    assert prompt_len == 2
    assert ids.tolist() == [[1, 2, 4, 0], [0, 3, 5, 6]]
    assert attention.tolist() == [[1, 1, 1, 0], [0, 1, 1, 1]]
    assert mask.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_completion_lengths_stop_after_first_eos():
    assert completion_lengths(torch.tensor([[5, 2, 7], [2, 9, 9], [1, 1, 1]]), {2}) == [2, 1, 3]


def test_step_indices_walk_seeded_permutations_epoch_by_epoch():
    steps = [step_indices(5, 3, step, seed=7) for step in (1, 2, 3, 4)]
    flat = [i for s in steps for i in s]
    assert sorted(flat[:5]) == list(range(5)) and sorted(flat[5:10]) == list(range(5))
    assert step_indices(5, 3, 2, seed=7) == steps[1]  # a function of (seed, step): resumable
    assert flat[:5] != [i for s in (step_indices(5, 3, k, seed=8) for k in (1, 2)) for i in s][:5]


@pytest.mark.parametrize("bad", [dict(temperature=0.0), dict(lam=1.5), dict(ppo_epochs=0), dict(mini_batch_size=0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        PPOConfig(**bad)
