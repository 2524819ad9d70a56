"""pbrl.stats against published values and scipy, and the properties a reader of eval.json relies on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pbrl.stats import (
    LanguageOutcomes,
    VarianceComponents,
    average_change,
    gap_change,
    gap_to_english,
    gap_weights,
    group_changes,
    newcombe_paired_interval,
    non_english_average,
    paired_changes,
    paired_difference,
    per_problem_changes,
    problems_needed,
    seen_unseen_split,
    variance_components,
    wilson_interval,
)


@pytest.mark.parametrize("successes,n,expected", [
    (0, 10, (0.0, 0.2775)),      # Wilson 0/10: Newcombe (1998a) Table II style values, [0, 0.2775]
    (5, 10, (0.2366, 0.7634)),
    (50, 100, (0.4038, 0.5962)),
    (81, 263, (0.2553, 0.3662)),  # Newcombe (1998a) example 81/263
])
def test_wilson_matches_published_values(successes, n, expected):
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("successes,n", [(0, 10), (1, 7), (5, 10), (50, 100), (99, 100), (30, 30)])
def test_wilson_matches_the_closed_form(successes, n):
    z, p = 1.959963984540054, successes / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(successes, n) == pytest.approx((center - half, center + half), abs=1e-9)


def test_wilson_contains_the_estimate_and_shrinks_with_n():
    widths = []
    for n in (10, 40, 160, 640):
        lo, hi = wilson_interval(3 * n // 10, n)
        assert lo <= 0.3 <= hi
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval(11, 10)


def test_newcombe_paired_matches_fagerland_et_al():
    # Cavo et al. (2012) in Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables", ch. 8:
    # estimate -0.0621, 95 % CI -0.1186 to -0.0046.
    assert newcombe_paired_interval(59, 6, 16, 80) == pytest.approx((-0.1186, -0.0046), abs=1e-4)


def test_paired_difference_excludes_zero_for_a_clear_gain_and_includes_it_without_change():
    gain = paired_difference([False] * 30 + [True] * 10, [True] * 25 + [False] * 5 + [True] * 10)
    assert gain.value == pytest.approx(25 / 40) and gain.excludes_zero and gain.lo <= gain.value <= gain.hi
    same = paired_difference([True] * 12 + [False] * 28, [True] * 12 + [False] * 28)
    assert same.value == 0.0 and not same.excludes_zero and same.lo < 0 < same.hi
    churn = paired_difference([True] * 10 + [False] * 10 + [False] * 20, [False] * 10 + [True] * 10 + [False] * 20)
    assert churn.value == 0.0 and not churn.excludes_zero  # as many lost as gained


def test_paired_interval_is_narrower_than_treating_the_runs_as_independent():
    # 40 problems, 20 right before; after: the same 20 plus 6 more. Pairing knows only 6 problems moved.
    before, after = [True] * 20 + [False] * 20, [True] * 26 + [False] * 14
    paired = paired_difference(before, after)
    _, hi1 = wilson_interval(20, 40)
    lo2, _ = wilson_interval(26, 40)
    independent_half_width = ((0.65 - lo2) ** 2 + (hi1 - 0.5) ** 2) ** 0.5  # Newcombe's unpaired lower half
    assert paired.value - paired.lo < independent_half_width
    assert paired.excludes_zero


def rows(lang_correct: dict[str, list[bool]]) -> list[dict]:
    return [{"id": f"p{i}", "lang": lang, "correct": ok} for lang, flags in lang_correct.items()
            for i, ok in enumerate(flags)]


def test_non_english_average_is_the_mean_of_languages_and_reproducible():
    data = rows({"en": [True] * 30 + [False] * 10, "de": [True] * 20 + [False] * 20, "sw": [True] * 8 + [False] * 32})
    table = LanguageOutcomes.from_rows([data])
    assert table.clustered
    avg = non_english_average(table)
    assert avg.value == pytest.approx((0.5 + 0.2) / 2)
    assert avg.lo < avg.value < avg.hi
    assert non_english_average(table) == avg  # seeded
    gap = gap_to_english(table)
    assert gap.value == pytest.approx(0.75 - 0.35) and gap.excludes_zero


def test_bootstrap_keeps_the_correlation_of_languages_that_share_problems():
    # de and sw right on exactly the same problems: the average is no more certain than one language.
    flags = [i % 3 == 0 for i in range(60)]
    shared = LanguageOutcomes.from_rows([rows({"de": flags, "sw": flags})])
    # Same per-language outcomes, but the problems differ between languages: independent strata.
    separate = LanguageOutcomes.from_rows([rows({"de": flags}) + [{"id": f"q{i}", "lang": "sw", "correct": ok}
                                                                  for i, ok in enumerate(flags)]])
    assert shared.clustered and not separate.clustered
    together, apart = non_english_average(shared), non_english_average(separate)
    assert together.hi - together.lo > 1.25 * (apart.hi - apart.lo)  # ~sqrt(2) wider


def test_all_wrong_average_still_has_an_interval():
    table = LanguageOutcomes.from_rows([rows({"de": [False] * 20, "sw": [False] * 20})])
    avg = non_english_average(table)
    assert avg.value == 0.0 and avg.lo == 0.0 and avg.hi == pytest.approx(wilson_interval(0, 40)[1])


def test_interval_shrinks_with_more_problems():
    def width(n):
        flags = [i % 4 == 0 for i in range(n)]
        avg = non_english_average(LanguageOutcomes.from_rows([rows({"de": flags, "sw": flags[::-1]})]))
        return avg.hi - avg.lo
    assert width(400) < width(100) < width(24)


def test_paired_changes_pairs_by_id_and_lang_not_by_order():
    before = rows({"en": [True] * 20 + [False] * 20, "de": [False] * 40, "sw": [False] * 40})
    after = rows({"en": [True] * 20 + [False] * 20, "de": [True] * 12 + [False] * 28, "sw": [True] * 10 + [False] * 30})
    delta = paired_changes(before, list(reversed(after)))
    assert list(delta["languages"]) == ["en", "de", "sw"]
    de = delta["languages"]["de"]
    assert (de["n"], de["before"], de["after"], de["improved"], de["worsened"]) == (40, 0.0, 0.3, 12, 0)
    assert de["delta"] == pytest.approx(0.3) and de["excludes_0"]
    en = delta["languages"]["en"]
    assert en["delta"] == 0.0 and not en["excludes_0"]
    avg = delta["non_en_avg"]
    assert avg["delta"] == pytest.approx((0.3 + 0.25) / 2) and avg["excludes_0"]
    assert delta["gap_to_en"]["delta"] == pytest.approx(-0.275) and delta["gap_to_en"]["excludes_0"]


def test_paired_changes_without_change_include_zero():
    flags = [i % 2 == 0 for i in range(30)]
    same = rows({"en": flags, "de": flags, "sw": flags[::-1]})
    delta = paired_changes(same, same)
    assert not delta["non_en_avg"]["excludes_0"] and delta["non_en_avg"]["delta"] == 0.0
    assert not any(m["excludes_0"] for m in delta["languages"].values())


def test_small_noisy_change_is_not_significant():
    # 2 of 30 problems flip right, 1 flips wrong in each language: within noise.
    before = {"de": [False, False, True] + [True] * 10 + [False] * 17, "sw": [False, False, True] + [False] * 27}
    after = {"de": [True, True, False] + [True] * 10 + [False] * 17, "sw": [True, True, False] + [False] * 27}
    table = LanguageOutcomes.from_rows([rows(before), rows(after)])
    change = average_change(table, ["de", "sw"])
    assert change.value == pytest.approx(1 / 30) and not change.excludes_zero


def test_problems_missing_from_one_evaluation_are_left_out_of_the_pairs():
    before = rows({"de": [False] * 10})
    after = rows({"de": [True] * 8})  # p8, p9 not evaluated after
    delta = paired_changes(before, after)
    assert delta["languages"]["de"]["n"] == 8


def test_gap_change_is_zero_when_nothing_changes():
    data = rows({"en": [True] * 5 + [False] * 5, "de": [True] * 2 + [False] * 8})
    change = gap_change(LanguageOutcomes.from_rows([data, data]))
    assert change.value == 0.0 and not change.excludes_zero


def test_nothing_varies_still_gives_intervals_not_points():
    # A model that is wrong everywhere, before and after: the bootstrap cannot see any spread,
    # but 0 of 40 is not certainty; score intervals of the pooled answers stand in.
    zeros = rows({"en": [False] * 40, "de": [False] * 40, "sw": [False] * 40})
    table = LanguageOutcomes.from_rows([zeros, zeros])
    change = average_change(table, ["de", "sw"])
    assert change.value == 0.0 and change.lo < 0 < change.hi and not change.excludes_zero
    gap = gap_to_english(table)
    assert gap.value == 0.0 and gap.lo < 0 < gap.hi
    assert gap_change(table).lo < 0 < gap_change(table).hi
    assert paired_changes(zeros, zeros)["non_en_avg"]["delta_ci"][1] > 0


def test_pooled_seeds_average_each_problem():
    seeds = [rows({"de": [True, False, False, False]}), rows({"de": [True, True, False, False]}),
             rows({"de": [True, True, True, False]})]
    table = LanguageOutcomes.from_rows(seeds).pooled([[0, 1, 2]])
    assert table.outcomes["de"].shape == (1, 4)
    assert table.outcomes["de"][0].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
    assert non_english_average(table).value == pytest.approx(0.5)


# --- small samples: every aggregate answers, an interval it cannot compute is None -----------------

def rows_by_ids(lang_correct: dict[str, list[bool]], shared_ids: bool) -> list[dict]:
    """rows() with the same problem ids in every language, or each language's own problems."""
    return [{"id": f"p{i}" if shared_ids else f"{lang}{i}", "lang": lang, "correct": ok}
            for lang, flags in lang_correct.items() for i, ok in enumerate(flags)]


@pytest.mark.parametrize("shared_ids", [True, False], ids=["same problems", "own problems"])
@pytest.mark.parametrize("n", [1, 2])
def test_aggregates_over_one_or_two_problems_never_raise(n, shared_ids):
    flags = [True, False][:n]
    data = rows_by_ids({"en": flags, "de": flags[::-1], "sw": [False] * n}, shared_ids)
    flipped = [dict(r, correct=not r["correct"]) for r in data]
    table = LanguageOutcomes.from_rows([data, flipped])
    estimates = [non_english_average(table), gap_to_english(table), average_change(table, ["de", "sw"]),
                 gap_change(table)]
    for estimate in estimates:
        assert (estimate.interval() is None) == (n == 1)  # one problem: nothing to resample
        if estimate.defined:
            assert estimate.lo <= estimate.value <= estimate.hi
    delta = paired_changes(data, flipped)
    assert delta["languages"]["de"]["n"] == n and len(delta["languages"]["de"]["delta_ci"]) == 2  # Newcombe
    assert (delta["non_en_avg"]["delta_ci"] is None) == (n == 1)


def test_a_language_with_one_problem_among_languages_with_more_does_not_crash_scipy():
    # Languages with their own problems are resampled separately; sw's single problem used to reach
    # scipy.stats.bootstrap ("each sample in `data` must contain two or more observations").
    data = rows_by_ids({"en": [True, False], "de": [True, False, True], "sw": [True]}, shared_ids=False)
    table = LanguageOutcomes.from_rows([data])
    average = non_english_average(table)
    assert average.value == pytest.approx((2 / 3 + 1) / 2) and average.interval() is None
    assert not average.excludes_zero
    assert gap_to_english(table).interval() is None


def test_no_rows_no_estimates():
    table = LanguageOutcomes.from_rows([[]])
    assert table.languages == []
    assert non_english_average(table) is None and gap_to_english(table) is None
    assert average_change(LanguageOutcomes.from_rows([[], []]), ["de"]) is None
    assert paired_changes([], []) == {"languages": {}, "method": paired_changes([], [])["method"]}


def test_pooling_no_seeds_is_an_error_not_nan():
    table = LanguageOutcomes.from_rows([rows({"de": [True, False]})])
    with pytest.raises(ValueError, match="at least one"):
        table.pooled([[]])


def test_paired_difference_of_a_single_problem_has_a_score_interval():
    one = paired_difference([False], [True])
    assert one.value == 1.0 and -1 <= one.lo < 0 < one.hi <= 1 and not one.excludes_zero


# --- seen and unseen languages ------------------------------------------------------------------

@pytest.mark.parametrize("train,evaluated,expected", [
    (["es", "ru"], ["en", "de", "es", "ru"], (["es", "ru"], ["de"])),
    (["de", "es", "ru"], ["en", "de", "es", "ru"], None),             # trained on every evaluated language
    (["de", "es", "ru", "pt"], ["en", "de", "es", "ru"], None),       # not a subset: pt is not evaluated
    (["en"], ["en", "de"], None),                                     # English is neither seen nor unseen
    ([], ["en", "de"], None),
])
def test_seen_unseen_split_only_for_a_strict_subset(train, evaluated, expected):
    assert seen_unseen_split(train, evaluated) == expected


def test_group_changes_average_each_group_with_its_paired_change():
    before = rows({"en": [True] * 20, "de": [False] * 20, "sw": [False] * 20, "fr": [False] * 20})
    after = rows({"en": [True] * 20, "de": [True] * 10 + [False] * 10, "sw": [True] * 6 + [False] * 14,
                  "fr": [True] * 1 + [False] * 19})
    block = group_changes(before, after, {"seen": ["de", "sw"], "unseen": ["fr"]})
    assert block["groups"] == {"seen": ["de", "sw"], "unseen": ["fr"]}
    assert block["after"]["seen_avg"] == pytest.approx(0.4) and block["after"]["unseen_avg"] == pytest.approx(0.05)
    assert block["before"]["unseen_avg"] == 0.0 and len(block["before"]["unseen_avg_ci"]) == 2
    assert block["delta"]["seen_avg"]["delta"] == pytest.approx(0.4) and block["delta"]["seen_avg"]["excludes_0"]
    assert block["delta"]["unseen_avg"]["delta"] == pytest.approx(0.05)
    assert not block["delta"]["unseen_avg"]["excludes_0"]   # one problem of 20 moved
    only_after = group_changes(None, after, {"seen": ["de"], "unseen": ["fr"]})
    assert "delta" not in only_after and only_after["before"] == {}


# --- the change of the gap per problem and seed; how many problems and seeds a question needs -------

def test_per_problem_gap_changes_average_to_the_pooled_gap_change():
    rng = np.random.default_rng(1)
    stages = [rows({lang: list(rng.random(30) < p) for lang, p in (("en", 0.5), ("de", 0.2), ("sw", 0.1))})
              for _ in range(4)]                        # before, after seed 0, before, after seed 1
    table = LanguageOutcomes.from_rows(stages)
    d = per_problem_changes(table, gap_weights(table.languages), [(0, 1), (2, 3)])
    assert d.shape == (30, 2)
    pooled = LanguageOutcomes.from_rows(stages).pooled([[0, 2], [1, 3]])
    assert d.mean() == pytest.approx(gap_change(pooled).value)
    own = LanguageOutcomes.from_rows([rows_by_ids({"en": [True], "de": [False]}, shared_ids=False)] * 2)
    assert per_problem_changes(own, gap_weights(own.languages), [(0, 1)]) is None


def test_variance_components_recover_a_simulated_two_way_model():
    rng = np.random.default_rng(0)
    problems, seeds, sd_problem, sd_seed, sd_residual = 3000, 40, 0.3, 0.1, 0.2
    seed_effects = rng.normal(0, sd_seed, (1, seeds))
    d = 0.05 + rng.normal(0, sd_problem, (problems, 1)) + seed_effects + rng.normal(0, sd_residual, (problems, seeds))
    vc = variance_components(d)
    assert (vc.problems, vc.seeds, vc.mean) == (problems, seeds, pytest.approx(d.mean()))
    assert vc.problem == pytest.approx(sd_problem ** 2, rel=0.1)
    # 40 seeds tell σ_b² only roughly; what the estimator must get is the spread of the seeds drawn
    assert vc.seed == pytest.approx(seed_effects.var(ddof=1), rel=0.05)
    assert vc.residual == pytest.approx(sd_residual ** 2, rel=0.05)


@pytest.mark.parametrize("shape", [(1, 5), (40, 1), (0, 3)])
def test_variance_components_need_two_problems_and_two_seeds(shape):
    assert variance_components(np.zeros(shape)) is None


def test_problems_needed_matches_the_closed_form_and_falls_with_seeds():
    only_problems = VarianceComponents(0.0, problem=0.01, seed=0.0, residual=0.0, problems=32, seeds=3)
    z = 1.959963984540054 + 0.8416212335729143
    assert problems_needed(only_problems, 0.03, seeds=3) == math.ceil(0.01 * z ** 2 / 0.03 ** 2)
    vc = VarianceComponents(0.0, problem=0.004, seed=0.0001, residual=0.02, problems=32, seeds=3)
    needed = [problems_needed(vc, -0.03, seeds=s) for s in (2, 3, 5, 10)]   # a narrowing is negative
    assert needed == sorted(needed, reverse=True) and needed[-1] < needed[0]
    for seeds, p in zip((2, 3, 5, 10), needed):
        assert vc.standard_error(p, seeds) <= 0.03 / z < vc.standard_error(p - 1, seeds)
    half_width = problems_needed(vc, 0.03, seeds=3, power=0.5)
    assert 1.96 * vc.standard_error(half_width, 3) <= 0.03 and half_width < needed[1]


def test_problems_needed_is_none_when_only_more_seeds_can_help():
    seedy = VarianceComponents(0.0, problem=0.001, seed=0.0004, residual=0.01, problems=32, seeds=3)
    assert problems_needed(seedy, 0.03, seeds=3) is None      # σ_b²/3 alone exceeds the target variance
    assert problems_needed(seedy, 0.03, seeds=20) is not None
    with pytest.raises(ValueError, match="effect != 0"):
        problems_needed(seedy, 0.0, seeds=3)


def test_planned_study_has_the_power_it_was_planned_for():
    # Simulate the model at the planned size: the 95 % interval should exclude 0 in ~80 % of studies.
    vc = VarianceComponents(0.0, problem=0.02, seed=0.0002, residual=0.05, problems=32, seeds=3)
    seeds = 5
    problems = problems_needed(vc, 0.03, seeds)
    rng = np.random.default_rng(2)
    d = (0.03 + rng.normal(0, vc.problem ** 0.5, (2000, problems, 1)) + rng.normal(0, vc.seed ** 0.5, (2000, 1, seeds))
         + rng.normal(0, vc.residual ** 0.5, (2000, problems, seeds)))
    detected = np.abs(d.mean(axis=(1, 2))) > 1.959963984540054 * vc.standard_error(problems, seeds)
    assert detected.mean() == pytest.approx(0.8, abs=0.03)
