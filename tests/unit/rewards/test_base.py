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
        rs = RewardSet("r", {"a": Const([1.0]), "b": Const([0.5])}, weights={"b": 2.0, "a": 3.0})
        assert [f.__name__ for f in rs.funcs] == ["a", "b"]
        assert rs.weights == [3.0, 2.0]
        assert RewardSet("r", {"a": Const([1.0]), "b": Const([0.5])}).weights == [1.0, 1.0]  # none given: each 1

    def test_a_missing_weight_is_refused_not_taken_as_1(self):
        with pytest.raises(ValueError, match=r"gives no weight to a; .*reward.weights.a=1.0"):
            RewardSet("r", {"a": Const([1.0]), "b": Const([0.5])}, weights={"b": 2.0})

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
        empty = {"groups": 0, "group_std": None, "frac_zero_std": None}  # no prompts, no ids: no groups
        assert rs.stats() == {"a": {"none": 2, "calls": 3, **empty}}
        rs.reset_stats()
        assert rs.stats() == {"a": {"none": 0, "calls": 0, **empty}}
        rs.funcs[0](prompts=None, completions=["x", "y", "z"])
        assert rs.pop_stats() == {"a": {"none": 2, "calls": 3, **empty}}
        assert rs.pop_stats() == {"a": {"none": 0, "calls": 0, **empty}}

    def test_group_spread_per_component_shows_a_dead_component(self):
        """Two prompts x 3 generations, as TRL hands them over: `live` varies inside each group,
        `dead` is constant inside each group (though it differs between groups)."""
        live = Const([1.0, 0.0, 0.5, 0.2, 0.2, 0.8])
        dead = Const([0.3, 0.3, 0.3, 0.9, 0.9, 0.9])
        half = Const([0.4, 0.4, None, 0.1, 0.7, 0.4])  # the None is skipped inside its group
        rs = RewardSet("r", {"live": live, "dead": dead, "half": half})
        prompts = ["p1"] * 3 + ["p2"] * 3
        for f in rs.funcs:
            f(prompts=prompts, completions=list("abcdef"))
        stats = rs.pop_stats()
        assert stats["dead"]["groups"] == 2
        assert stats["dead"]["frac_zero_std"] == 1.0 and stats["dead"]["group_std"] == 0.0
        assert stats["live"]["frac_zero_std"] == 0.0
        assert stats["live"]["group_std"] == pytest.approx((0.5 + math.sqrt(0.12)) / 2)  # ddof=1
        assert stats["half"]["frac_zero_std"] == 0.5 and stats["half"]["group_std"] == pytest.approx(0.3 / 2)
        assert rs.stats()["live"]["groups"] == 0  # popped

    def test_groups_from_id_and_lang_columns_without_prompts(self):
        rs = RewardSet("r", {"a": Const([1.0, 1.0, 0.0, 1.0])})
        rs.funcs[0](prompts=None, completions=list("wxyz"), id=["q1", "q1", "q1", "q1"], lang=["de", "de", "fr", "fr"])
        assert rs.stats()["a"]["groups"] == 2 and rs.stats()["a"]["frac_zero_std"] == 0.5

    def test_metrics_row_carries_group_spread(self):
        from pbrl.algos.callbacks import metrics_row

        rs = RewardSet("r", {"embed": Const([0.5, 0.5])})
        rs.funcs[0](prompts=["p", "p"], completions=["a", "b"])
        row = metrics_row(3, {"reward": 1.0}, rs.pop_stats(), 0.5)
        assert row["rewards/embed/frac_zero_std"] == 1.0 and row["rewards/embed/group_std"] == 0.0
        assert row["rewards/embed/none"] == 0 and row["reward/mean"] == 1.0

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
