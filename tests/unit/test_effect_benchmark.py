"""benchmarks/effect.py's stage table: an evaluation served from the greedy-answer cache has no speed."""
import json
from pathlib import Path

import pytest


@pytest.fixture
def effect(load_benchmark):
    return load_benchmark("effect")


class WordTokenizer:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


def write_run(run_dir: Path, before_reused: bool) -> None:
    predictions = [{"response": "3 + 4 = 7. The answer is 7."}] * 8  # 9 words each
    stages = {"eval_before": {"seconds": 0.5 if before_reused else 40.0}, "train": {"seconds": 32.0},
              "eval_after": {"seconds": 20.0}}
    (run_dir / "summary.json").write_text(json.dumps({"stage_timings": stages}))
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "completions/mean_length": 10.0})
                                                     for s in (1, 2)))
    (run_dir / "eval_before.json").write_text(json.dumps({"predictions": predictions,
                                                          "responses_reused": before_reused}))
    (run_dir / "eval_after.json").write_text(json.dumps({"predictions": predictions, "responses_reused": False}))


def test_cached_evaluation_gets_no_tokens_per_second(effect, tmp_path):
    write_run(tmp_path, before_reused=True)
    notes = {name: note for name, _, note in effect.stage_table(tmp_path, WordTokenizer())}
    assert notes["eval_before"] == "answers from the cache"
    assert notes["eval_after"] == "3.6 generated tokens/s"  # 72 words in 20 s
    assert notes["train"] == "2 steps, 16.0 s/step, mean completion 10.0 tokens"


def test_generated_evaluation_gets_its_speed(effect, tmp_path):
    write_run(tmp_path, before_reused=False)
    notes = {name: note for name, _, note in effect.stage_table(tmp_path, WordTokenizer())}
    assert notes["eval_before"] == "1.8 generated tokens/s"  # 72 words in 40 s


def test_training_without_completions_gets_no_completion_length(effect, tmp_path):
    write_run(tmp_path, before_reused=False)
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "loss": 1.0}) for s in (1, 2)))
    notes = {name: note for name, _, note in effect.stage_table(tmp_path, WordTokenizer())}
    assert notes["train"] == "2 steps, 16.0 s/step"  # SFT samples nothing: no "mean completion 0.0"


def test_an_undefined_interval_prints_as_a_dash(effect):
    assert effect.interval_text(None) == "[–]"
    assert effect.interval_text([0.004, 0.09]) == "[+0.4, +9.0]"
