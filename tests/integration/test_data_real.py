"""The published files under PBRL_DATA_ROOT load with the expected sizes, answers and links."""

from __future__ import annotations

from collections import Counter

import pytest

from pbrl.answers import answers_match, extract_answer, to_number
from pbrl.data import available_languages, load_examples, load_exemplars, load_splits
from pbrl.languages import MGSM_LANGUAGES

SIZES = [
    ("mgsm", 11, 250),  # 11 languages x 250
    ("msvamp", 10, 1000),  # no Telugu
    ("polymath", 18, 500),  # 4 levels x 125
]


@pytest.mark.parametrize("dataset,n_langs,n_rows", SIZES)
def test_every_language_loads_in_full(data_root, dataset, n_langs, n_rows):
    langs = available_languages(dataset, data_root)
    assert len(langs) == n_langs
    examples = load_examples(dataset, langs, data_root)
    assert {lang: len(rows) for lang, rows in examples.items()} == {lang: n_rows for lang in langs}
    ids = [[e.id for e in rows] for rows in examples.values()]
    assert all(i == ids[0] for i in ids)  # parallel: same problem ids in every language
    assert all(e.question and e.question_en and e.answer for rows in examples.values() for e in rows)


def test_mgsm_answers_are_numbers_and_solutions_agree(data_root):
    examples = load_examples("mgsm", list(MGSM_LANGUAGES), data_root)
    answers = {lang: [e.answer for e in rows] for lang, rows in examples.items()}
    assert all(a == answers["en"] for a in answers.values())  # identical across languages
    assert all(to_number(a) is not None for a in answers["en"])
    assert {"2125", "114200", "276000"} <= set(answers["en"])  # the comma-written ones
    # the GSM8K worked solution's last number is the gold answer for nearly all problems
    hits = sum(answers_match(extract_answer(e.solution_en), e.answer) for e in examples["en"])
    assert hits >= 240


def test_gsm8k_splits(data_root):
    train = load_examples("gsm8k", ["en"], data_root, split="train")["en"]
    test = load_examples("gsm8k", ["en"], data_root, split="test")["en"]
    assert (len(train), len(test)) == (7473, 1319)
    assert all("<<" not in e.solution_en and "####" not in e.solution_en for e in train + test)


def test_polymath_levels_and_msvamp_integers(data_root):
    polymath = load_examples("polymath", ["zh"], data_root)["zh"]
    assert Counter(e.level for e in polymath) == {"low": 125, "medium": 125, "high": 125, "top": 125}
    msvamp = load_examples("msvamp", ["sw"], data_root)["sw"]
    assert all("." not in e.answer for e in msvamp)  # '8.0' normalized to '8'


def test_exemplars_end_in_their_answer(data_root):
    for lang in MGSM_LANGUAGES:
        shots = load_exemplars(lang, 8, data_root)
        assert [extract_answer(s["solution"]) for s in shots] == [s["answer"] for s in shots]


def test_default_style_splits(data_root):
    cfg = {
        "train_dataset": "mgsm",
        "eval_dataset": "mgsm",
        "train_size": 100,
        "eval_size": 50,
        "train_source": "parallel",
        "split_seed": 0,
    }
    splits = load_splits(cfg, ["de", "sw"], list(MGSM_LANGUAGES), data_root)
    assert len(splits["train"]) == 200 and len(splits["eval"]) == 550
    cross = {"train_dataset": "mgsm", "eval_dataset": "gsm8k", "train_size": -1, "eval_size": 300, "split_seed": 0}
    splits = load_splits(cross, ["en"], ["en"], data_root)
    assert 0 < len(splits["train"]) < 250  # MGSM problems picked for GSM8K-test eval are dropped


def test_translate_step_makes_portuguese_training_questions_with_bergamot(data_root, tmp_path):
    """train_source=translate: GSM8K English questions into Portuguese, offline, cached, numbers kept."""
    import re

    from pbrl.data.translate import check_translator, translate_examples
    from pbrl.rewards.backends.translators import BergamotTranslator

    translator = BergamotTranslator(cache_dir=tmp_path / "mt")
    check_translator(translator)
    english = load_examples("gsm8k", ["en"], data_root, split="train")["en"][:4]
    translated = translate_examples(english, "pt", translator, tmp_path)
    for en, pt in zip(english, translated):
        assert pt.lang == "pt" and pt.id == en.id and pt.question != en.question_en
        assert sorted(re.findall(r"\d+", pt.question.replace(",", ""))) == sorted(
            re.findall(r"\d+", en.question_en.replace(",", ""))
        ), (en.question_en, pt.question)
    from pbrl.langid import detect_language

    assert sum(detect_language(pt.question) == "pt" for pt in translated) >= 3


def test_eval_levels_keep_only_those_problems(data_root):
    cfg = {"train_dataset": "polymath", "eval_dataset": "polymath", "train_size": 3, "eval_size": 4,
           "eval_levels": ["top"]}
    split = load_splits(cfg, ["de"], ["en", "de"], data_root)
    assert len(split["eval"]) == 8 and {e.level for e in split["eval"]} == {"top"}
    with pytest.raises(ValueError, match=r"data.eval_levels=\['easy'\] matches no polymath problem; its levels:"):
        load_splits({**cfg, "eval_levels": ["easy"]}, ["de"], ["en"], data_root)
