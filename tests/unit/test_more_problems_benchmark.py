"""benchmarks/more_problems.py draws new evaluation problems that the run neither evaluated nor trained on."""
import json
from dataclasses import asdict

import pytest

from pbrl.config import compose_config
from pbrl.data import load_splits


@pytest.fixture
def more_problems(load_benchmark):
    return load_benchmark("more_problems")


@pytest.fixture
def default_run(tmp_path):
    """The default run's examples.jsonl (its real 32 evaluation and 256 training problems), no model."""
    cfg = compose_config([])
    split = load_splits(cfg.data, list(cfg.langs.train), list(cfg.langs.eval), cfg.paths.data_root, tmp_path)
    rows = [{"split": name, **asdict(e)} for name in ("train", "eval") for e in split[name]]
    (tmp_path / "examples.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return cfg, tmp_path, rows


def test_new_problems_are_outside_the_run_and_parallel(more_problems, default_run):
    cfg, run_dir, rows = default_run
    extra = more_problems.extra_problems(cfg, run_dir, 64)
    ids = {e.id for e in extra}
    assert len(ids) == 64
    assert not ids & {r["id"] for r in rows}  # neither evaluated nor trained on
    assert {e.lang for e in extra} == set(cfg.langs.eval)
    assert len(extra) == 64 * len(cfg.langs.eval)  # the same problems in every language
    assert {e.level for e in extra} == set(cfg.data.eval_levels)


def test_asking_for_more_than_is_left_names_the_limit(more_problems, default_run):
    cfg, run_dir, _ = default_run
    with pytest.raises(SystemExit, match=r"--n 1000: only 128 test problems are left outside the run"):
        more_problems.extra_problems(cfg, run_dir, 1000)


def test_pooled_change_averages_runs_and_resamples_whole_problems(more_problems):
    rows = lambda right: [{"id": str(i), "lang": lang, "correct": i < right} for lang in ("en", "de", "fr")
                          for i in range(40)]
    pooled = more_problems.pooled_change
    gain = pooled([rows(4), rows(4)], [rows(20), rows(12)])  # +40 and +20 points
    assert gain["delta"] == pytest.approx(0.30) and gain["excludes_0"]
    same = pooled([rows(10), rows(10)], [rows(10), rows(10)])
    assert same["delta"] == 0 and not same["excludes_0"]
    # one run up, one run down by as much: the pooled change is 0 whatever each run shows alone
    assert pooled([rows(10), rows(20)], [rows(20), rows(10)])["delta"] == pytest.approx(0.0)


def test_one_new_problem_gives_a_change_without_an_interval(more_problems):
    one = lambda ok: [{"id": "0", "lang": lang, "correct": ok} for lang in ("en", "de", "fr")]
    change = more_problems.pooled_change([one(False)], [one(True)])
    assert change == {"delta": 1.0, "delta_ci": None, "excludes_0": False}
    assert more_problems.describe(change) == "+100.0 [–]"
    assert more_problems.describe({"delta": 0.029, "delta_ci": [0.006, 0.061], "excludes_0": True}) == "+2.9 [+0.6, +6.1]*"
