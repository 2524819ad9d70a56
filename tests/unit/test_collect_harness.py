"""analysis.collect carries lm-evaluation-harness metrics (eval.backend=lm_eval) from run dirs and W&B."""

from __future__ import annotations

import math

from pbrl.analysis.collect import Run, eval_from_wandb_summary, harness_metrics

EVAL = {"languages": {
    "en": {"after": {"n": 2, "accuracy": 0.5, "lm_eval/mgsm_native_cot_en/strict-match": 0.5,
                     "lm_eval/mgsm_native_cot_en/strict-match_stderr": 0.35, "lm_eval/mgsm_native_cot_en/n": 2}},
    "de": {"after": {"n": 2, "accuracy": 0.0, "lm_eval/mgsm_native_cot_de/strict-match": 0.0,
                     "lm_eval/mgsm_direct_de/flexible-extract": 1.0}},
}}


def test_harness_metrics_by_family_and_language_free_lookup():
    run = Run(name="r", eval=EVAL)
    assert harness_metrics([run]) == ["lm_eval/mgsm_native_cot/strict-match", "lm_eval/mgsm_direct/flexible-extract"]
    assert run.value("de", "after", "lm_eval/mgsm_native_cot/strict-match") == 0.0
    assert run.value("en", "after", "lm_eval/mgsm_native_cot/strict-match") == 0.5
    assert math.isnan(run.value("en", "after", "lm_eval/mgsm_direct/flexible-extract"))
    assert run.value("de", "after", "lm_eval/mgsm_direct_de/flexible-extract") == 1.0  # the full key works too


def test_wandb_summary_keys_with_harness_metrics():
    summary = {"eval/after/de/accuracy": 0.25, "eval/after/de/lm_eval/mgsm_native_cot_de/flexible-extract": 0.5,
               "eval/before/de/lm_eval/mgsm_native_cot_de/strict-match": 0.0, "eval/after/non_en_avg": 0.3}
    languages = eval_from_wandb_summary(summary)["languages"]
    assert languages == {"de": {"after": {"accuracy": 0.25, "lm_eval/mgsm_native_cot_de/flexible-extract": 0.5},
                                "before": {"lm_eval/mgsm_native_cot_de/strict-match": 0.0}}}
