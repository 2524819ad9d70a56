"""pbrl.algos.ppo_math (GAE, advantage whitening, the clipped PPO losses, the KL penalty) against
numbers worked out by hand. The training loop's helpers are in test_ppo_loop.py."""

from __future__ import annotations

import math

import pytest
import torch

from pbrl.algos.ppo_math import (
    gae,
    kl_penalty,
    masked_mean,
    masked_whiten,
    policy_loss_terms,
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


def test_gae_lambda_one_is_return_minus_value_and_lambda_zero_is_td_error():
    rewards, values, mask = t([[1.0, 0.0, 2.0]]), t([[0.5, 1.0, 1.5]]), t([[1, 1, 1]])
    # gamma=0.5, lam=1: A_t = discounted return - V_t.  G2 = 2, G1 = 0 + 0.5*2 = 1, G0 = 1 + 0.5*1 = 1.5
    advantages, returns = gae(rewards, values, mask, gamma=0.5, lam=1.0)
    assert advantages.tolist()[0] == pytest.approx([1.0, 0.0, 0.5])
    assert returns.tolist()[0] == pytest.approx([1.5, 1.0, 2.0])  # the discounted returns themselves
    # lam=0: A_t = r_t + gamma V_{t+1} - V_t = [1 + 0.5 - 0.5, 0 + 0.75 - 1, 2 + 0 - 1.5]
    advantages, _ = gae(rewards, values, mask, gamma=0.5, lam=0.0)
    assert advantages.tolist()[0] == pytest.approx([1.0, -0.25, 0.5])


def test_kl_penalty_is_the_log_ratio_of_the_sampled_tokens():
    assert kl_penalty(t([[-1.0, -2.0]]), t([[-1.5, -1.0]])).tolist()[0] == pytest.approx([0.5, -1.0])
    # its mean over tokens sampled from pi estimates KL(pi || ref): here pi = (0.75, 0.25), ref = (0.5, 0.5)
    pi, ref = torch.tensor([0.75, 0.25]), torch.tensor([0.5, 0.5])
    exact = float((pi * (pi / ref).log()).sum())
    estimate = float((pi * kl_penalty(pi.log(), ref.log())).sum())  # expectation over the samples
    assert estimate == pytest.approx(exact)


def test_token_rewards_then_gae_whole_pipeline():
    # one 2-token completion, score 1, kl_coef 0.5, log pi - log ref = [0.2, -0.2]; V = [0.1, 0.3]; gamma=lam=1
    # rewards = [-0.1, 0.1 + 1] ; A1 = 1.1 - 0.3 = 0.8 ; A0 = -0.1 + 0.3 - 0.1 + 0.8 = 0.9 ; R = [1.0, 1.1]
    rewards = token_rewards(t([1.0]), t([[-1.0, -1.2]]), t([[-1.2, -1.0]]), t([[1, 1]]), kl_coef=0.5)
    assert rewards.tolist()[0] == pytest.approx([-0.1, 1.1])
    advantages, returns = gae(rewards, t([[0.1, 0.3]]), t([[1, 1]]), gamma=1.0, lam=1.0)
    assert advantages.tolist()[0] == pytest.approx([0.9, 0.8])
    assert returns.tolist()[0] == pytest.approx([1.0, 1.1])
    # whitened: mean 0.85, population std 0.05 -> [1, -1]
    assert masked_whiten(advantages, t([[1, 1]])).tolist()[0] == pytest.approx([1.0, -1.0], abs=1e-3)


def test_policy_loss_at_ratio_one_is_minus_advantage_and_never_clipped():
    logprobs = t([[-0.3, -2.0]])
    losses, clipped = policy_loss_terms(logprobs, logprobs.clone(), t([[1.5, -0.5]]), cliprange=0.2)
    assert losses.tolist()[0] == pytest.approx([-1.5, 0.5])
    assert clipped.tolist()[0] == [0.0, 0.0]


def test_value_loss_gradient_is_zero_where_the_clipped_term_wins():
    values = torch.tensor([[0.5, 0.1]], requires_grad=True)
    # t0: the clipped term (0.2 - 1)^2 wins: no gradient. t1: unclipped: d/dV 0.5 (V - R)^2 = V - R = -0.9
    value_loss_terms(values, t([[0.0, 0.0]]), t([[1.0, 1.0]]), cliprange_value=0.2).sum().backward()
    assert values.grad.tolist()[0] == pytest.approx([0.0, -0.9])
