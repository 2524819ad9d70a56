"""The math of critic PPO, as pure tensor functions (no model, no I/O): per-token rewards with the
KL penalty, GAE, advantage whitening, the clipped policy and value losses. `pbrl.algos.ppo` runs the
training loop around them; tests/unit/test_ppo_math.py checks each against hand-computed values.

Shapes: (batch, tokens) over the completion tokens; `mask` is 1 on real tokens and 0 on padding, and
each row's ones are a prefix (completions are right-padded).
"""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit (population) variance over the masked entries; masked-out entries become 0."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + eps) * mask


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate of the sampled tokens, log pi - log pi_ref (the "k1" estimator: its mean
    over tokens sampled from pi is KL(pi || pi_ref), the penalty of Ziegler et al. 2019)."""
    return logprobs - ref_logprobs


def token_rewards(scores: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor | None,
                  mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """Per-token rewards: -kl_coef * (log pi - log pi_ref) everywhere, + score on the last real token."""
    rewards = torch.zeros_like(logprobs)
    if ref_logprobs is not None and kl_coef > 0:
        rewards = -kl_coef * kl_penalty(logprobs, ref_logprobs)
    last = mask.sum(dim=1).long() - 1  # masks are a prefix of ones
    rewards[torch.arange(len(scores)), last] += scores
    return rewards * mask


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalized advantage estimation over (batch, tokens); the episode ends after the last token
    of each row's mask (a prefix of ones). Returns (advantages, returns), zero outside the mask.

        delta_t = r_t + gamma * V_{t+1} - V_t        (V past the last real token = 0)
        A_t     = delta_t + gamma * lam * A_{t+1}
        R_t     = A_t + V_t
    """
    rewards, values = rewards * mask, values * mask  # so the step past the end bootstraps from 0
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def policy_loss_terms(logprobs, old_logprobs, advantages, cliprange: float):
    """Per-token clipped surrogate loss max(-A r, -A clip(r, 1 +- cliprange)), r = pi / pi_old, and
    whether the clip was active (the clipped term was the larger)."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - cliprange, 1 + cliprange)
    return torch.max(unclipped, clipped), (clipped > unclipped).float()


def value_loss_terms(values, old_values, returns, cliprange_value: float):
    """Per-token clipped value loss 0.5 * max((V - R)^2, (V_clip - R)^2), V_clip = V_old + clip(V - V_old)."""
    clipped_values = old_values + torch.clamp(values - old_values, -cliprange_value, cliprange_value)
    return 0.5 * torch.max((values - returns) ** 2, (clipped_values - returns) ** 2)
