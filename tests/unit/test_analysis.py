"""analysis/ on synthetic run directories laid out as DESIGN.md's RUN DIRECTORY section says."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pbrl.analysis.collect import eval_from_wandb_summary, labels, load_sweep, load_wandb_group
from pbrl.analysis.tables import (
    AVG,
    AVG_SD,
    COPY_SHARE,
    ENGLISH_SHARE,
    GAP,
    GAP_DELTA,
    SEEDS,
    SEEN_AVG,
    SEEN_DELTA,
    TRAINED_ON,
    TRAINING_DELTA,
    UNSEEN_AVG,
    UNSEEN_DELTA,
    accuracy_table,
    arms,
    comparison_table,
    delta_table,
    fidelity_table,
    gap_power_table,
    language_intervals,
    seen_unseen_table,
    to_latex,
    to_markdown,
)
from pbrl.cli.analysis_report import main as report_main

# accuracy after training per run; "before" is 0.1 lower everywhere.
ACCURACY = {
    "reward=accuracy": {"en": 0.60, "de": 0.40, "sw": 0.20},
    "reward=embed": {"en": 0.70, "de": 0.50, "sw": 0.40},
}
FIDELITY = {"reward=accuracy": 0.5, "reward=embed": 0.9}


def write_run(run_dir: Path, overrides: list[str], accuracy: dict[str, float] | None, fidelity: float,
              rewards: list[float]) -> None:
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    rows = [{"step": i + 1, "reward/mean": r, "rewards/accuracy/mean": r / 2, "loss": 0.1} for i, r in enumerate(rewards)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if accuracy is None:
        return  # a run that died before evaluation
    languages = {
        lang: {"before": {"n": 10, "accuracy": acc - 0.1, "fidelity": fidelity - 0.2},
               "after": {"n": 10, "accuracy": acc, "fidelity": 1.0 if lang == "en" else fidelity}}
        for lang, acc in accuracy.items()
    }
    (run_dir / "eval.json").write_text(json.dumps({"languages": languages, "aggregate": {}}))
    (run_dir / "summary.json").write_text(json.dumps({"seed": 0, "wall_seconds": 12.5}))


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """runs/ablation with two evaluated runs, one unfinished run, and submitit's hidden folder."""
    root = tmp_path / "runs" / "ablation"
    for name, acc in ACCURACY.items():
        write_run(root / f"policy=tiny,{name}", ["policy=tiny", name, "hydra/launcher=slurm_cpu"], acc,
                  FIDELITY[name], [0.1, 0.3, 0.5])
    write_run(root / "policy=tiny,reward=mt", ["policy=tiny", "reward=mt"], None, 0.0, [0.2])
    (root / ".submitit" / "12_0").mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def test_load_sweep_finds_run_dirs_and_labels_them_by_what_differs(sweep):
    runs = load_sweep(sweep)
    assert [r.name for r in runs] == ["policy=tiny,reward=accuracy", "policy=tiny,reward=embed", "policy=tiny,reward=mt"]
    assert sorted(labels(runs).values()) == ["reward=accuracy", "reward=embed", "reward=mt"]
    assert runs[0].metrics[-1]["reward/mean"] == 0.5
    assert runs[2].languages() == []


def test_load_sweep_of_a_single_run_dir(sweep):
    runs = load_sweep(sweep / "policy=tiny,reward=embed")
    assert [r.name for r in runs] == ["policy=tiny,reward=embed"]


def test_load_sweep_rejects_a_folder_without_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run directories"):
        load_sweep(tmp_path)


def test_stage_files_stand_in_for_a_missing_eval_json(sweep):
    run_dir = sweep / "policy=tiny,reward=mt"
    (run_dir / "eval_before.json").write_text(json.dumps({"languages": {"en": {"n": 4, "accuracy": 0.25}}}))
    run = load_sweep(run_dir)[0]
    assert run.value("en", "before", "accuracy") == 0.25
    assert math.isnan(run.value("en", "after", "accuracy"))


def test_accuracy_table_averages_gap_and_delta(sweep):
    runs = [r for r in load_sweep(sweep) if r.languages()]
    table = accuracy_table(runs, baseline="reward=accuracy")
    assert list(table.columns) == ["en", "de", "sw", AVG, GAP, "Δ vs reward=accuracy"]
    embed = table.loc["reward=embed"]
    assert embed["en"] == pytest.approx(70.0)
    assert embed[AVG] == pytest.approx(45.0)          # mean of de 50, sw 40
    assert embed[GAP] == pytest.approx(25.0)          # en 70 - 45
    assert embed["Δ vs reward=accuracy"] == pytest.approx(15.0)   # 45 - 30
    assert table.loc["reward=accuracy", "Δ vs reward=accuracy"] == pytest.approx(0.0)
    before = accuracy_table(runs, stage="before")
    assert before.loc["reward=embed", "de"] == pytest.approx(40.0)


def test_baseline_may_be_named_by_run_folder_or_path(sweep):
    runs = [r for r in load_sweep(sweep) if r.languages()]
    by_folder = accuracy_table(runs, baseline="policy=tiny,reward=embed")
    by_path = accuracy_table(runs, baseline=str(sweep / "policy=tiny,reward=embed"))
    assert by_folder.loc["reward=accuracy", "Δ vs reward=embed"] == pytest.approx(-15.0)
    assert by_path.equals(by_folder)


def test_unknown_baseline_names_the_choices(sweep):
    runs = [r for r in load_sweep(sweep) if r.languages()]
    with pytest.raises(ValueError, match=r"unknown baseline run 'reward=comet'; choose from: reward=accuracy, reward=embed"):
        accuracy_table(runs, baseline="reward=comet")


def test_delta_table_is_zero_for_the_baseline(sweep):
    runs = [r for r in load_sweep(sweep) if r.languages()]
    delta = delta_table(runs, "reward=accuracy")
    assert delta.loc["reward=accuracy"].abs().max() == 0.0
    assert delta.loc["reward=embed", "sw"] == pytest.approx(20.0)


def test_fidelity_table_keeps_english_out_of_the_average(sweep):
    runs = [r for r in load_sweep(sweep) if r.languages()]
    table = fidelity_table(runs)
    assert table.loc["reward=embed", "en"] == pytest.approx(100.0)
    assert table.loc["reward=embed", AVG] == pytest.approx(90.0)


def test_markdown_and_latex_formatting(sweep):
    runs = [r for r in load_sweep(sweep) if r.languages()]
    table = accuracy_table(runs, baseline="reward=accuracy")
    table.loc["reward=accuracy", "sw"] = math.nan
    md = to_markdown(table)
    assert md.splitlines()[0] == "| run | en | de | sw | avg (non-en) | gap to en | Δ vs reward=accuracy |"
    assert "| reward=accuracy | 60.0 | 40.0 | – | 30.0 | +30.0 | +0.0 |" in md
    tex = to_latex(table, "Accuracy (%) after training")
    assert r"\caption{Accuracy (\%) after training}" in tex
    assert r"$\Delta$ vs reward=accuracy" in tex
    assert r"\textbf{70.0}" in tex and r"\textbf{60.0}" not in tex   # best English accuracy in bold
    assert r"\textbf{+25.0}" in tex and r"\textbf{+30.0}" not in tex  # smallest gap is best
    assert " -- " in tex  # missing value


def test_report_cli_writes_tables_and_figures_into_the_sweep(sweep, capsys):
    assert report_main([str(sweep), "baseline=reward=accuracy"]) == 0
    out = sweep / "analysis"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"{stem}.{ext}" for stem in ("comparison", "accuracy", "delta_vs_baseline", "fidelity")
         for ext in ("md", "tex", "csv")]
        + ["comparison.png", "accuracy_by_language.png", "fidelity_by_language.png", "reward_curves.png", "report.md"]
    )
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "Runs without evaluation results (not in the tables): policy=tiny,reward=mt" in report
    assert "![reward_curves](reward_curves.png)" in report
    csv = (out / "accuracy.csv").read_text().splitlines()
    assert csv[0] == "run,en,de,sw,avg (non-en),gap to en,Δ vs reward=accuracy"
    printed = capsys.readouterr().out
    assert "| reward=embed | 70.0 | 50.0 | 40.0 | 45.0 | +25.0 | +15.0 |" in printed
    # no predictions kept and no stored intervals: the comparison marks the intervals undefined
    assert "| reward=embed | 1 | 70.0 | 50.0 | 40.0 | 45.0 [–] | +25.0 [–] | – | 90.0 | – | – | – | – | – |" in printed
    assert not (out / "seen_unseen.md").exists() and not (out / "seeds.md").exists()


def test_report_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    assert report_main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pbrl: error: '") and "\n" not in err


def test_wandb_summary_keys_become_eval_json_languages():
    summary = {"eval/after/de/accuracy": 0.5, "eval/after/en/accuracy": 0.75, "eval/before/de/fidelity": 0.25,
               "eval/after/non_en_avg": 0.5, "reward/mean": 1.0, "eval/after/de/note": "text"}
    assert eval_from_wandb_summary(summary) == {"languages": {
        "en": {"after": {"accuracy": 0.75}},
        "de": {"after": {"accuracy": 0.5}, "before": {"fidelity": 0.25}},
    }}


class FakeSummary(dict):
    @property
    def _json_dict(self):
        return dict(self)


class FakeRun:
    def __init__(self, name, summary, history, config):
        self.name, self.id, self.summary, self._history, self.config = name, name.replace("/", "-"), FakeSummary(summary), history, config

    def scan_history(self):
        return iter(self._history)


class FakeApi:
    def __init__(self, runs):
        self.runs_by_group = runs
        self.calls = []

    def runs(self, path, filters):
        self.calls.append((path, filters))
        return self.runs_by_group.get(filters["group"], [])


def test_load_wandb_group_through_the_public_api_shape():
    api = FakeApi({"ablation": [FakeRun(
        "ablation/reward=embed",
        {"eval/after/en/accuracy": 0.7, "eval/after/de/accuracy": 0.5},
        [{"_step": 1, "reward/mean": 0.2}, {"_step": 1, "system/gpu": 3}, {"_step": 2, "reward/mean": 0.4}],
        {"overrides": ["reward=embed"]},
    )]})
    runs = load_wandb_group("ablation", "pbrl", "team", api=api)
    assert api.calls == [("team/pbrl", {"group": "ablation"})]
    assert runs[0].name == "reward=embed"
    assert runs[0].value("de", "after", "accuracy") == 0.5
    assert [row["reward/mean"] for row in runs[0].metrics] == [0.2, 0.4]
    with pytest.raises(ValueError, match="no W&B runs in group 'other' of project 'team/pbrl'"):
        load_wandb_group("other", "pbrl", "team", api=api)


# --- the comparison across arms, seeds averaged, with intervals from the runs' predictions -------------------

N_PROBLEMS = 60
REFERENCE = "He buys 3 + 4 = 7 apples.\nThe answer is 7."
REPLY = {"en": "The answer is {}.", "de": "Die Antwort ist {}.", "sw": "Jibu ni {}."}
# right answers out of N_PROBLEMS per stage (seed 0; seeds 1 and 2 add +1 and -1), English and copied answers
ARMS = {
    "reward=accuracy": {"before": {"en": 30, "de": 6, "sw": 3}, "after": {"en": 33, "de": 12, "sw": 6},
                        "english": {"de": 12, "sw": 18}, "copies": {"sw": 0}},
    "reward=hybrid": {"before": {"en": 30, "de": 6, "sw": 3}, "after": {"en": 34, "de": 27, "sw": 21},
                      "english": {"de": 3, "sw": 6}, "copies": {"sw": 2}},
}


def write_evaluated_run(run_dir: Path, overrides: list[str], arm: dict, seed: int,
                        train_langs: list[str] | None = None, metrics: list[dict] | None = None) -> None:
    """A run directory as pbrl.pipeline leaves it: eval_before/after.json with predictions, eval.json;
    `.hydra/config.yaml` with the seed and `langs.train`, and `metrics.jsonl`."""
    from pbrl.evaluation import score_predictions
    from pbrl.report import merge_evals

    results = {}
    for stage in ("before", "after"):
        rows = []
        for lang, k in arm[stage].items():
            k = k + (seed if stage == "after" and seed < 2 else -1 if stage == "after" else 0)
            english = arm["english"].get(lang, 0) if stage == "after" else 0
            copies = arm["copies"].get(lang, 0) if stage == "after" else 0
            for i in range(N_PROBLEMS):
                in_english, copy = i >= N_PROBLEMS - english, i >= N_PROBLEMS - copies
                text = REFERENCE if copy else REPLY["en" if in_english else lang].format(7 if i < k else 8)
                rows.append({"id": f"p{i:02d}", "lang": lang, "response": text, "answer": "7" if i < k else "5",
                             "reference": REFERENCE, "detected_lang": "en" if in_english else lang})
        result = score_predictions(rows)
        result["predictions"] = [{k: r[k] for k in ("id", "lang", "pred", "correct", "detected_lang")}
                                 for r in result["predictions"]]
        results[stage] = result
    (run_dir / ".hydra").mkdir(parents=True)
    train = train_langs or [lang for lang in arm["after"] if lang != "en"]
    (run_dir / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nlangs:\n  train: [{', '.join(train)}]\n")
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in metrics or []))
    for stage, result in results.items():
        (run_dir / f"eval_{stage}.json").write_text(json.dumps(result))
    (run_dir / "eval.json").write_text(json.dumps(merge_evals(results["before"], results["after"])))


@pytest.fixture
def comparison_sweep(tmp_path: Path) -> Path:
    root = tmp_path / "runs" / "comparison"
    for name, arm in ARMS.items():
        for seed in (0, 1, 2):
            write_evaluated_run(root / f"{name},seed={seed}", ["algo=grpo", name, f"seed={seed}"], arm, seed)
    return root


def test_arms_pool_the_seeds(comparison_sweep):
    groups = arms(load_sweep(comparison_sweep))
    assert [(arm.label, len(arm.runs)) for arm in groups] == [("reward=accuracy", 3), ("reward=hybrid", 3)]


def test_comparison_table_averages_seeds_with_intervals(comparison_sweep):
    table = comparison_table(load_sweep(comparison_sweep), baseline="reward=accuracy")
    hybrid = table.loc["reward=hybrid"]
    assert hybrid[SEEDS] == 3
    assert hybrid["de"] == pytest.approx(100 * (27 + 28 + 26) / 3 / N_PROBLEMS)   # seeds 0, 1, 2: +0, +1, -1
    assert hybrid[AVG] == pytest.approx((hybrid["de"] + hybrid["sw"]) / 2)
    assert hybrid[f"{AVG} lo"] < hybrid[AVG] < hybrid[f"{AVG} hi"]
    assert hybrid[AVG_SD] == pytest.approx(100 / N_PROBLEMS)                      # seed averages 24, 25, 23 of 60
    assert hybrid[GAP] == pytest.approx(hybrid["en"] - hybrid[AVG])
    assert hybrid[ENGLISH_SHARE] == pytest.approx(100 * (3 + 6) / 2 / N_PROBLEMS)
    assert hybrid[COPY_SHARE] == pytest.approx(100 * 2 / 2 / N_PROBLEMS)          # sw 2 of 60, de 0
    assert hybrid[TRAINING_DELTA] > 0 and hybrid[f"{TRAINING_DELTA} lo"] > 0      # trained arm improved
    delta = hybrid["Δ vs reward=accuracy"]
    assert delta == pytest.approx(hybrid[AVG] - table.loc["reward=accuracy", AVG])
    assert hybrid["Δ vs reward=accuracy lo"] > 0                                  # paired interval excludes 0
    assert table.loc["reward=accuracy", "Δ vs reward=accuracy"] == 0.0


def test_comparison_markdown_prints_intervals(comparison_sweep):
    md = to_markdown(comparison_table(load_sweep(comparison_sweep)))
    header = md.splitlines()[0]
    assert header == ("| arm | seeds | en | de | sw | avg (non-en) | gap to en | sd over seeds | fidelity (non-en) "
                      "| English share | copy share | Δ after − before | Δ gap after − before |")
    hybrid = next(line for line in md.splitlines() if line.startswith("| reward=hybrid |"))
    cells = [c.strip() for c in hybrid.strip("|").split("|")]
    assert cells[1] == "3" and cells[5].startswith("40.0 [") and cells[5].endswith("]")
    assert cells[6].startswith("+") and ", " in cells[6]        # signed gap with its interval
    assert cells[-2].startswith("+") and " [+" in cells[-2]      # training gain, interval above 0
    assert cells[-1].startswith("-") and cells[-1].endswith("]") and ", -" in cells[-1]  # the gap narrowed


def test_report_cli_prints_the_comparison(comparison_sweep, capsys):
    assert report_main([str(comparison_sweep), "baseline=reward=accuracy"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("**Comparison, after training")
    assert "| reward=hybrid | 3 |" in printed and "Δ vs reward=accuracy" in printed
    assert (comparison_sweep / "analysis" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    csv = (comparison_sweep / "analysis" / "comparison.csv").read_text().splitlines()[0]
    assert "avg (non-en) lo" in csv and "avg (non-en) hi" in csv


def test_language_intervals_for_one_seed_and_for_several(comparison_sweep, sweep):
    several = language_intervals(load_sweep(comparison_sweep))["reward=hybrid"]
    lo, hi = several["de"]
    assert lo < 100 * 27 / N_PROBLEMS < hi
    one = load_sweep(comparison_sweep / "reward=hybrid,seed=0")
    lo, hi = language_intervals(one)[arms(one)[0].label]["de"]
    assert (lo, hi) == pytest.approx((33.09, 57.51), abs=0.01)  # Wilson 27/60


def test_unknown_baseline_arm_names_the_arms(comparison_sweep, capsys):
    assert report_main([str(comparison_sweep), "baseline=reward=embed"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("pbrl: error: unknown baseline 'reward=embed'; choose an arm: reward=accuracy, reward=hybrid "
                   "(or a run folder)")


def test_comparison_starts_with_the_untrained_policy(comparison_sweep):
    table = comparison_table(load_sweep(comparison_sweep))
    assert list(table.index)[0] == "no training (before)"
    untrained = table.loc["no training (before)"]
    assert untrained["de"] == pytest.approx(100 * 6 / N_PROBLEMS) and untrained["sw"] == pytest.approx(100 * 3 / N_PROBLEMS)
    assert untrained["avg (non-en) lo"] < untrained["avg (non-en)"] < untrained["avg (non-en) hi"]
    assert math.isnan(untrained["Δ after − before"])


def test_gap_change_column_is_the_paired_change_of_the_seed_pooled_gap(comparison_sweep):
    table = comparison_table(load_sweep(comparison_sweep))
    hybrid = table.loc["reward=hybrid"]
    before_gap = 100 * (30 - (6 + 3) / 2) / N_PROBLEMS
    assert hybrid[GAP_DELTA] == pytest.approx(hybrid[GAP] - before_gap)
    assert hybrid[f"{GAP_DELTA} lo"] < hybrid[GAP_DELTA] < hybrid[f"{GAP_DELTA} hi"] < 0     # narrowed
    accuracy = table.loc["reward=accuracy"]
    assert accuracy[f"{GAP_DELTA} lo"] < 0 < accuracy[f"{GAP_DELTA} hi"]                 # -2.5 points: unresolved
    assert math.isnan(table.loc["no training (before)", GAP_DELTA])


# --- seen vs unseen languages: arms trained on all languages or on a subset -----------------------

STUDY = {  # right answers of N_PROBLEMS; de is the subset arms' only training language, sw never trained on
    "reward=hybrid,langs=all": (ARMS["reward=hybrid"], ["de", "sw"]),
    "reward=hybrid,langs=seen": (ARMS["reward=hybrid"] | {"after": {"en": 34, "de": 27, "sw": 15}}, ["de"]),
    "reward=accuracy,langs=seen": (ARMS["reward=accuracy"], ["de"]),
}


@pytest.fixture
def study_sweep(tmp_path: Path) -> Path:
    root = tmp_path / "runs" / "unseen_languages"
    for name, (arm, train) in STUDY.items():
        for seed in (0, 1, 2):
            metrics = [{"step": i, "reward/mean": 0.1 * i + 0.05 * seed, "rewards/accuracy/mean": 0.01 * i,
                        "completions/clipped_ratio": 0.25} for i in range(1, 7)]
            write_evaluated_run(root / f"{name},seed={seed}", ["algo=grpo", *name.split(","), f"seed={seed}"], arm,
                                seed, train_langs=train, metrics=metrics)
    return root


def test_seen_unseen_table_splits_every_arm_by_the_subset(study_sweep):
    table = seen_unseen_table(load_sweep(study_sweep), baseline="reward=accuracy,langs=seen")
    assert list(table.index) == ["no training (before)", *sorted(STUDY)]   # arms in run-folder order
    assert list(table[TRAINED_ON]) == ["none", "de", "all", "de"]
    untrained, hybrid = table.loc["no training (before)"], table.loc["reward=hybrid,langs=seen"]
    assert untrained[SEEN_AVG] == pytest.approx(100 * 6 / N_PROBLEMS) and untrained[UNSEEN_AVG] == pytest.approx(5.0)
    assert hybrid[SEEDS] == 3
    assert hybrid[UNSEEN_AVG] == pytest.approx(100 * (15 + 16 + 14) / 3 / N_PROBLEMS)   # seeds +0, +1, -1
    assert hybrid[UNSEEN_DELTA] == pytest.approx(hybrid[UNSEEN_AVG] - untrained[UNSEEN_AVG])
    assert hybrid[f"{UNSEEN_DELTA} lo"] > 0                                             # the unseen language moved
    assert hybrid[SEEN_DELTA] == pytest.approx(100 * (27 - 6) / N_PROBLEMS)
    versus = "Δ unseen vs reward=accuracy,langs=seen"
    assert hybrid[versus] == pytest.approx(hybrid[UNSEEN_AVG] - table.loc["reward=accuracy,langs=seen", UNSEEN_AVG])
    assert hybrid[f"{versus} lo"] > 0
    assert table.loc["reward=accuracy,langs=seen", versus] == 0.0
    assert table.loc["reward=hybrid,langs=all", UNSEEN_AVG] > hybrid[UNSEEN_AVG]        # trained on: moves more


def test_no_seen_unseen_table_without_a_subset(comparison_sweep):
    assert seen_unseen_table(load_sweep(comparison_sweep)) is None


def test_report_cli_prints_seen_unseen_and_seed_tables(study_sweep, capsys):
    assert report_main([str(study_sweep), "baseline=reward=accuracy,langs=seen"]) == 0
    printed = capsys.readouterr().out
    assert "**Seen vs unseen languages after training" in printed
    line = next(row for row in printed.splitlines() if row.startswith("| reward=hybrid,langs=seen | 3 | de |"))
    assert line.count("[") == 6   # seen, unseen averages and their changes, both vs baseline: all with intervals
    seed_row = next(row for row in printed.splitlines() if row.startswith("| reward=hybrid,langs=seen seed=1 |"))
    assert seed_row.endswith("| 0.20 → 0.60 | 0.01 → 0.06 | 25.0 | 92.5 | 7.5 |")   # reward, acc. term, clipped
    assert "reward=hybrid,langs=seen: non-English gain in 3 of 3 seeds (3 with an interval above 0)" in printed
    assert (study_sweep / "analysis" / "seen_unseen.tex").exists() and (study_sweep / "analysis" / "seeds.csv").exists()
    assert not (study_sweep / "analysis" / "gap_power.md").exists()   # a gap change excludes 0: nothing to plan


# --- the gap to English: what would resolve it --------------------------------------------------------

SMALL_CHANGES = {  # every arm moves English and the other languages alike: no gap change is resolved
    "reward=accuracy": {"before": {"en": 30, "de": 12, "sw": 9}, "after": {"en": 32, "de": 14, "sw": 10},
                        "english": {}, "copies": {}},
    "reward=hybrid": {"before": {"en": 30, "de": 12, "sw": 9}, "after": {"en": 31, "de": 14, "sw": 11},
                      "english": {}, "copies": {}},
}


@pytest.fixture
def unresolved_sweep(tmp_path: Path) -> Path:
    root = tmp_path / "runs" / "small"
    for name, arm in SMALL_CHANGES.items():
        for seed in (0, 1, 2):
            write_evaluated_run(root / f"{name},seed={seed}", ["algo=grpo", name, f"seed={seed}"], arm, seed)
    return root


def test_gap_power_table_plans_problems_from_the_measured_variances(unresolved_sweep):
    runs = load_sweep(unresolved_sweep)
    power = gap_power_table(runs)
    comparison = comparison_table(runs)
    assert list(power.index) == list(SMALL_CHANGES)
    hybrid = power.loc["reward=hybrid"]
    assert hybrid[SEEDS] == 3 and hybrid["problems per language"] == "60"
    assert hybrid[GAP_DELTA] == pytest.approx(comparison.loc["reward=hybrid", GAP_DELTA])
    needed = [int(hybrid[f"problems for {s} seeds"]) for s in (3, 5, 10)]
    assert needed == sorted(needed, reverse=True)
    z = 1.959963984540054 + 0.8416212335729143
    for seeds, problems in zip((3, 5, 10), needed):
        var = (hybrid["sd problem"] ** 2 / problems + hybrid["sd seed"] ** 2 / seeds
               + hybrid["sd residual"] ** 2 / (problems * seeds))
        assert var ** 0.5 <= 3.0 / z + 1e-9     # in points: the planned standard error is small enough


def test_report_prints_the_plan_only_when_no_gap_change_is_resolved(unresolved_sweep, capsys):
    assert report_main([str(unresolved_sweep)]) == 0
    printed = capsys.readouterr().out
    assert "**No arm's change of the gap to English excludes 0." in printed
    assert "| reward=hybrid | 3 | 60 |" in printed
    assert (unresolved_sweep / "analysis" / "gap_power.csv").exists()


def test_gap_power_table_has_nothing_to_plan_from_answers_that_never_vary(tmp_path):
    never_right = {"before": {"en": 0, "de": 0, "sw": 0}, "after": {"en": 0, "de": 0, "sw": 0}, "english": {},
                   "copies": {}}
    root = tmp_path / "runs" / "flat"
    for seed in (0, 2):   # write_evaluated_run gives seed 2 one right answer fewer: still none
        write_evaluated_run(root / f"reward=hybrid,seed={seed}", ["reward=hybrid", f"seed={seed}"], never_right, seed)
    assert gap_power_table(load_sweep(root)) is None
