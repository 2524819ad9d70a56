"""pbrl.stats against published values and scipy, and the properties a reader of eval.json relies on."""

from __future__ import annotations

import math

import pytest

from pbrl.stats import (
    LanguageOutcomes,
    average_change,
    gap_change,
    gap_to_english,
    newcombe_paired_interval,
    non_english_average,
    paired_changes,
    paired_difference,
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
