"""Rewards: one callable class per file, combined by `build_reward` into a `RewardSet`.

Components (Hydra `_target_` in conf/reward/*.yaml):
    pbrl.rewards.embed.EmbeddingReward       cross-lingual embedding cosine to the English reference
    pbrl.rewards.mt.TranslationReward        translate to English, then chrF / BLEU / embedding
    pbrl.rewards.comet.CometReward           COMET QE or reference-based (extra: pbrl[comet])
    pbrl.rewards.accuracy.AccuracyReward     final answer equals the gold / verified answer
    pbrl.rewards.language.LanguageReward     response is in the target language
    pbrl.rewards.format.FormatReward         a final answer in the expected form
    pbrl.rewards.repetition.RepetitionPenalty  minus the share of repeated word n-grams
"""

from pbrl.rewards.base import (
    ComponentReward,
    Reward,
    RewardSet,
    build_reward,
    completion_text,
    validate_reward_config,
)

__all__ = ["ComponentReward", "Reward", "RewardSet", "build_reward", "completion_text", "validate_reward_config"]
