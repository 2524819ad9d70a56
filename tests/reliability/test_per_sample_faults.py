"""A component that fails on one sample (None, NaN, inf) costs that sample's term only: counted per
component, never a NaN total, never NaN in a JSON file."""

from __future__ import annotations

import json
import math

import pytest

from pbrl.rewards.base import Reward, RewardSet
from pbrl.rundir import atomic_write_json, atomic_write_jsonl, read_jsonl


class Scripted(Reward):
    """Returns fixed values per completion text (a stand-in for a backend failing on some samples)."""

    def __init__(self, name: str, values: dict):
        self.name = name
        super().__init__()
        self.values = values

    def score(self, texts, columns):
        return [self.values[t] for t in texts]


def reward_set(weights=None) -> RewardSet:
    good = Scripted("good", {"a": 1.0, "b": 0.5, "c": 0.25, "d": None})
    flaky = Scripted("flaky", {"a": float("nan"), "b": None, "c": float("inf"), "d": float("nan")})
    return RewardSet("test", {"good": good, "flaky": flaky}, weights or {"good": 1.0, "flaky": 2.0})


def test_faulty_samples_are_counted_per_component_and_never_nan():
    rs = reward_set()
    totals, per_component = rs.total(completions=["a", "b", "c", "d"])
    assert totals == [1.0, 0.5, 0.25, None]  # the flaky term dropped, not the row
    assert per_component["flaky"] == [None] * 4
    stats = rs.stats()
    assert {name: (stats[name]["none"], stats[name]["calls"]) for name in stats} == {"good": (1, 4), "flaky": (4, 4)}


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weight_is_refused(weight):
    with pytest.raises(ValueError, match="weights.flaky"):
        reward_set({"good": 1.0, "flaky": weight})


def test_json_writers_never_write_nan(tmp_path):
    row = {"reward": float("nan"), "kl": float("inf"), "nested": [1.0, float("-inf")], "ok": 0.5}
    atomic_write_jsonl(tmp_path / "rows.jsonl", [row])
    atomic_write_json(tmp_path / "one.json", row)

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} written into JSON"))

    expected = {"reward": None, "kl": None, "nested": [1.0, None], "ok": 0.5}
    assert strict((tmp_path / "rows.jsonl").read_text().strip()) == expected
    assert strict((tmp_path / "one.json").read_text()) == expected
    assert read_jsonl(tmp_path / "rows.jsonl") == [expected]


def test_rewards_score_writes_valid_json_when_a_component_returns_nan(tmp_path, monkeypatch, capsys):
    """End of `pbrl.rewards.score` with a component returning NaN for one row: null, counted."""
    import pbrl.cli.rewards_score as score_cli
    from pbrl.rewards.accuracy import AccuracyReward

    real = AccuracyReward.score

    def nan_for_second(self, texts, columns):
        values = real(self, texts, columns)
        return [math.nan if i == 1 else v for i, v in enumerate(values)]

    monkeypatch.setattr(AccuracyReward, "score", nan_for_second)
    rows = [{"lang": "en", "response": "The answer is 4.", "reference": "The answer is 4.", "answer": "4"},
            {"lang": "en", "response": "The answer is 5.", "reference": "The answer is 4.", "answer": "4"}]
    src, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    score_cli.main(["reward=accuracy", f"input={src}", f"output={out}"])
    lines = out.read_text().splitlines()
    scored = [json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in output")) for line in lines]
    assert [r["accuracy"] for r in scored] == [1.0, None]
    assert [r["reward"] for r in scored] == [1.0, None]
    assert "none 1/2" in capsys.readouterr().out
