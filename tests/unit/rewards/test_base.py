import math
import pickle

import pytest

from pbrl.rewards.base import Reward, RewardSet, completion_text


class Const(Reward):
    """Returns fixed values; counts how often it scored a batch."""

    name = "const"

    def __init__(self, values):
        super().__init__()
        self.values = list(values)
        self.batches = 0

    def score(self, texts, columns):
        self.batches += 1
        return list(self.values)


class TestCompletionText:
    @pytest.mark.parametrize(
        "completion, text",
        [
            ("plain", "plain"),  # standard format
            ([{"role": "assistant", "content": "chat"}], "chat"),  # conversational
            ({"role": "assistant", "content": "one message"}, "one message"),
            (None, ""),
            ([{"role": "assistant", "content": None}], ""),
        ],
    )
    def test_forms(self, completion, text):
        assert completion_text(completion) == text

    def test_rejects_other_types(self):
        with pytest.raises(TypeError):
            completion_text(3)


class TestRewardSet:
    def test_weights_and_funcs_follow_component_order(self):
        rs = RewardSet("r", {"a": Const([1.0]), "b": Const([0.5])}, weights={"b": 2.0})
        assert [f.__name__ for f in rs.funcs] == ["a", "b"]
        assert rs.weights == [1.0, 2.0]  # missing weight defaults to 1

    def test_total_is_weighted_nansum_and_none_when_all_none(self):
        a = Const([1.0, None, None, float("nan")])
        b = Const([0.5, 0.25, None, None])
        rs = RewardSet("r", {"a": a, "b": b}, weights={"a": 2.0, "b": 4.0})
        totals, per = rs.total(prompts=None, completions=["x", "y", "z", "w"])
        assert totals[0] == pytest.approx(2.0 * 1.0 + 4.0 * 0.5)
        assert totals[1] == pytest.approx(4.0 * 0.25)  # a is None: skipped, like TRL's nansum
        assert totals[2] is None  # every component None
        assert totals[3] is None  # NaN counts as None
        assert per["a"] == [1.0, None, None, None]

    def test_stats_count_none_and_nan_and_reset(self):
        rs = RewardSet("r", {"a": Const([1.0, None, float("nan")])})
        rs.funcs[0](prompts=None, completions=["x", "y", "z"])
        assert rs.stats() == {"a": {"none": 2, "calls": 3}}
        rs.reset_stats()
        assert rs.stats() == {"a": {"none": 0, "calls": 0}}
        rs.funcs[0](prompts=None, completions=["x", "y", "z"])
        assert rs.pop_stats() == {"a": {"none": 2, "calls": 3}}
        assert rs.pop_stats() == {"a": {"none": 0, "calls": 0}}

    def test_gate_zeroes_below_threshold_and_passes_above(self):
        embed = Const([0.8, 0.8, 0.8, 0.8])
        language = Const([1.0, 0.49, 0.5, None])
        rs = RewardSet("r", {"embed": embed, "language": language}, gates={"embed": "language"}, gate_threshold=0.5)
        values = rs.funcs[0](prompts=None, completions=["a", "b", "c", "d"])
        assert values == [0.8, 0.0, 0.8, None]  # gated 0 is a real value; an unknown gate gives None

    def test_gate_scores_each_batch_once(self):
        embed, language = Const([0.8]), Const([1.0])
        rs = RewardSet("r", {"embed": embed, "language": language}, gates={"embed": "language"})
        for f in rs.funcs:  # what TRL does: call every func on the same batch
            f(prompts=None, completions=["a"], lang=["de"])
        assert language.batches == 1
        rs.funcs[0](prompts=None, completions=["b"], lang=["de"])  # a new batch is scored anew
        assert language.batches == 2

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"weights": {"c": 1.0}}, "weights.c names no component"),
            ({"gates": {"a": "c"}}, "gates.a=c names no component"),
            ({"gates": {"a": "a"}}, "cannot gate itself"),
            ({"gates": {"a": "b", "b": "a"}}, "gates cannot be chained"),
        ],
    )
    def test_bad_names_raise_one_line(self, kwargs, message):
        with pytest.raises(ValueError, match=message) as err:
            RewardSet("r", {"a": Const([1.0]), "b": Const([1.0])}, **kwargs)
        assert "\n" not in str(err.value)

    def test_empty_components_raise(self):
        with pytest.raises(ValueError, match="no components"):
            RewardSet("r", {})

    def test_picklable(self):
        rs = RewardSet("r", {"a": Const([1.0]), "b": Const([0.0])}, gates={"a": "b"})
        clone = pickle.loads(pickle.dumps(rs))
        assert clone.funcs[0](prompts=None, completions=["x"]) == [0.0]
        assert clone.funcs[0].__name__ == "a"

    def test_prepare_reaches_components_that_have_it(self):
        seen = []

        class Preparing(Const):
            def prepare(self, references):
                seen.extend(references)

        rs = RewardSet("r", {"a": Preparing([1.0]), "b": Const([1.0])})
        rs.prepare(["ref one", "ref two"])
        assert seen == ["ref one", "ref two"]

    def test_nan_values_become_none(self):
        assert Const([math.nan])(completions=["x"]) == [None]
