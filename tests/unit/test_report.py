"""pbrl.report on synthetic before/after evaluations: eval.json schema, the printed table, report.png."""

from __future__ import annotations

import json

import pytest

from pbrl.evaluation import score_predictions
from pbrl.report import accuracy_bars, language_table, merge_evals, write_report

N = 40
REFERENCE = "She makes 24 + 18 = 42 muffins.\nAfter selling some, 42 - 35 = 7 muffins are left.\nThe answer is 7."
ANSWER = {"en": "The answer is {}.", "de": "Die Antwort ist {}.", "sw": "Jibu ni {}."}


def evaluation(right: dict[str, int], english: dict[str, int] | None = None, copies: dict[str, int] | None = None,
               reverse: bool = False) -> dict:
    """Scored rows: in each language the first right[lang] of N problems answered 7 (gold), the rest 8;
    the last english[lang] answers detected as English, the last copies[lang] of them the reference itself."""
    rows = []
    for lang, k in right.items():
        for i in range(N):
            english_answer = i >= N - (english or {}).get(lang, 0)
            copy = i >= N - (copies or {}).get(lang, 0)
            response = REFERENCE if copy else ANSWER["en" if english_answer else lang].format(7 if i < k else 8)
            rows.append({"id": f"p{i:02d}", "lang": lang, "response": response, "answer": "7" if i < k else "5",
                         "reference": REFERENCE, "detected_lang": "en" if english_answer else lang})
    result = score_predictions(list(reversed(rows)) if reverse else rows)
    result["predictions"] = [{k: r[k] for k in ("id", "lang", "response", "pred", "correct", "detected_lang")}
                             for r in result["predictions"]]  # what evaluate() keeps
    return result


@pytest.fixture
def evals():
    before = evaluation({"en": 20, "de": 4, "sw": 2}, english={"de": 10, "sw": 20})
    after = evaluation({"en": 22, "de": 16, "sw": 10}, english={"de": 2, "sw": 4}, copies={"sw": 3}, reverse=True)
    return before, after


def test_eval_json_schema_per_language(evals):
    merged = merge_evals(*evals)
    de_before = merged["languages"]["de"]["before"]
    assert (de_before["n"], de_before["correct"], de_before["accuracy"]) == (N, 4, 0.1)
    assert de_before["accuracy_ci"] == pytest.approx([0.0396, 0.2305], abs=1e-4)  # Wilson 4/40
    assert de_before["fidelity"] == 0.75 and len(de_before["fidelity_ci"]) == 2
    assert de_before["english_share"] == 0.25
    sw_after = merged["languages"]["sw"]["after"]
    assert sw_after["copy_share"] == pytest.approx(3 / N) and sw_after["copy_share_ci"][0] > 0
    assert "english_share" not in merged["languages"]["en"]["after"]


def test_eval_json_aggregate_and_delta(evals):
    merged = merge_evals(*evals)
    after = merged["aggregate"]["after"]
    assert after["non_en_avg"] == pytest.approx((16 + 10) / 2 / N)
    lo, hi = after["non_en_avg_ci"]
    assert lo < after["non_en_avg"] < hi
    assert after["gap_to_en"] == pytest.approx(22 / N - 13 / N) and len(after["gap_to_en_ci"]) == 2
    assert after["english_share_avg"] == pytest.approx((2 + 4) / 2 / N)
    delta = merged["delta"]
    de = delta["languages"]["de"]
    assert de["delta"] == pytest.approx(0.3) and de["excludes_0"] and (de["improved"], de["worsened"]) == (12, 0)
    assert delta["languages"]["en"]["delta"] == pytest.approx(0.05) and not delta["languages"]["en"]["excludes_0"]
    assert delta["non_en_avg"]["delta"] == pytest.approx((0.3 + 0.2) / 2) and delta["non_en_avg"]["excludes_0"]
    assert merged["intervals"]["accuracy_ci"] == "Wilson score 95 %"
    json.dumps(merged)  # plain JSON, no numpy types


def test_no_delta_without_predictions(evals):
    before, after = evals
    merged = merge_evals({k: v for k, v in before.items() if k != "predictions"}, after)
    assert "delta" not in merged
    assert "Δ" in language_table(merged).splitlines()[0]


def test_table_shows_intervals_and_the_paired_change(evals):
    table = language_table(merge_evals(*evals))
    lines = table.splitlines()
    assert lines[0].startswith("| lang | n | accuracy before → after (%, 95 % CI) | Δ after − before")
    assert lines[2].startswith("| en | 40 | 50.0 [35.2–64.8] → 55.0 [39.8–69.3] | +5.0 [")
    de = next(line for line in lines if line.startswith("| de |"))
    assert "10.0 [4.0–23.1] → 40.0 [26.3–55.4] | +30.0 [" in de and "]* |" in de
    average = next(line for line in lines if line.startswith("| non-en avg |"))
    assert average.startswith("| non-en avg | 80 | 7.5 [") and "]* |" in average
    assert any(line.startswith("| gap to en |") for line in lines)
    assert "* = the interval excludes 0" in table


def test_old_eval_results_without_intervals_still_render():
    old = {"languages": {"en": {"n": 6, "accuracy": 0.5, "fidelity": 1.0},
                         "de": {"n": 6, "accuracy": 0.0, "fidelity": 1.0}},
           "aggregate": {"en": 0.5, "non_en_avg": 0.0, "gap_to_en": 0.5, "fidelity_avg": 1.0}}
    table = language_table(merge_evals(old, old))
    assert "| de | 6 | 0.0 → 0.0 | – | 100.0 → 100.0 |" in table
    assert accuracy_bars(merge_evals(old, None))["non-en avg"] == {"before": (0.0, None)}


def test_write_report_files(evals, tmp_path):
    metrics = [{"step": i, "reward/mean": 0.1 * i, "rewards/embed/mean": 0.05 * i, "rewards/accuracy/mean": 0.02 * i}
               for i in range(1, 6)]
    table = write_report(tmp_path, *evals, metrics, "synthetic")
    assert (tmp_path / "report.md").read_text().startswith("# synthetic\n\n| lang |")
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["delta"]["non_en_avg"]["excludes_0"] is True
    assert "| sw |" in table
    bars = accuracy_bars(saved)
    assert list(bars) == ["en", "de", "sw", "non-en avg"]
    assert bars["de"]["after"][1] == saved["languages"]["de"]["after"]["accuracy_ci"]


def test_seen_and_unseen_averages_when_trained_on_a_subset(evals):
    merged = merge_evals(*evals, train_langs=["de"])
    block = merged["seen_unseen"]
    assert block["groups"] == {"seen": ["de"], "unseen": ["sw"]}
    assert block["after"]["unseen_avg"] == pytest.approx(10 / N) and len(block["after"]["unseen_avg_ci"]) == 2
    assert block["delta"]["seen_avg"]["delta"] == pytest.approx(0.3) and block["delta"]["seen_avg"]["excludes_0"]
    lines = language_table(merged).splitlines()
    seen = next(line for line in lines if line.startswith("| seen avg (de) |"))
    unseen = next(line for line in lines if line.startswith("| unseen avg (sw) |"))
    assert seen.startswith("| seen avg (de) | 40 | 10.0 [") and "→ 40.0 [" in seen and "| +30.0 [+" in seen
    assert unseen.startswith("| unseen avg (sw) | 40 | 5.0 [") and "→ 25.0 [" in unseen and "| +20.0 [+" in unseen
    assert lines.index(seen) == lines.index(next(line for line in lines if line.startswith("| non-en avg |"))) + 1
    for train in (None, ["de", "sw"], ["de", "sw", "fr"]):   # no subset, all of them, not a subset
        assert "seen_unseen" not in merge_evals(*evals, train_langs=train)


def test_write_report_reads_the_training_languages_from_the_run_config(evals, tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("langs:\n  name: x\n  train: [sw]\n  eval: [en, de, sw]\n")
    table = write_report(tmp_path, *evals, [], "subset")
    assert "| unseen avg (de) | 40 |" in table and "| seen avg (sw) | 40 |" in table
    assert json.loads((tmp_path / "eval.json").read_text())["seen_unseen"]["groups"]["unseen"] == ["de"]


def test_one_problem_per_language_gives_undefined_average_intervals(tmp_path):
    def one(right: dict[str, bool]) -> dict:
        result = score_predictions([{"id": "p0", "lang": lang, "response": ANSWER[lang].format(7 if ok else 8),
                                     "answer": "7", "detected_lang": lang} for lang, ok in right.items()])
        result["predictions"] = [{k: r[k] for k in ("id", "lang", "pred", "correct")} for r in result["predictions"]]
        return result

    before, after = one({"en": True, "de": False, "sw": False}), one({"en": True, "de": True, "sw": False})
    merged = merge_evals(before, after, train_langs=["de"])
    assert merged["aggregate"]["after"]["non_en_avg_ci"] is None and merged["delta"]["non_en_avg"]["delta_ci"] is None
    assert merged["seen_unseen"]["delta"]["seen_avg"] == {"delta": 1.0, "delta_ci": None, "excludes_0": False}
    table = write_report(tmp_path, before, after, [], "one problem")
    average = next(line for line in table.splitlines() if line.startswith("| non-en avg |"))
    assert average == "| non-en avg | 2 | 0.0 [–] → 50.0 [–] | +50.0 [–] | 100.0 → 100.0 |"
    de = next(line for line in table.splitlines() if line.startswith("| de |"))
    assert de.startswith("| de | 1 | 0.0 [0.0–79.3] → 100.0 [20.7–100.0] | +100.0 [")   # Wilson and Newcombe at n = 1
    assert json.loads((tmp_path / "eval.json").read_text())["aggregate"]["after"]["gap_to_en_ci"] is None
