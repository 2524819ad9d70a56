"""Generated word problems: every template renders in every language with the right numbers and an
answer recomputed here, solutions that extraction reads, language ID, disjoint deterministic splits."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pbrl.answers import extract_answer
from pbrl.data import available_languages, load_examples, load_splits
from pbrl.data import wordproblems as wp
from pbrl.langid import detect_language
from pbrl.languages import LANGUAGES as LANGUAGE_INFO

CONF_DATA = Path(__file__).resolve().parents[2] / "conf" / "data" / "wordproblems.yaml"
ASCII_NUMBER = re.compile(r"[0-9]+")
STEP = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")
MIN_LANGID_RATE = 0.95
ARITHMETIC = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "/": lambda x, y: x / y}

# The arithmetic each template's English wording asks for, written from the questions and not
# from spec.yaml, so a spec step that does not match its wording fails here.
EXPECTED = {
    "add_apples": lambda a, b: a + b,
    "add_class": lambda a, b: a + b,
    "add_pens": lambda a, b: a + b,
    "add_bus": lambda a, b: a + b,
    "sub_cookies": lambda a, b: a - b,
    "sub_bus": lambda a, b: a - b,
    "sub_money": lambda a, b: a - b,
    "sub_pages": lambda a, b: a - b,
    "mul_boxes": lambda a, b: a * b,
    "mul_trees": lambda a, b: a * b,
    "mul_price": lambda a, b: a * b,
    "mul_walk": lambda a, b: a * b,
    "div_sweets": lambda a, b: a / b,
    "div_eggs": lambda a, b: a / b,
    "div_teams": lambda a, b: a / b,
    "div_tickets": lambda a, b: a / b,
    "marbles": lambda a, b, c: a + b - c,
    "stickers": lambda a, b, c: a * b + c,
    "absent": lambda a, b, c: (a - b) * c,
    "rolls": lambda a, b, c: a * b - c,
    "balloons": lambda a, b, c: (a + b) * c,
    "trip": lambda a, b, c: a / b + c,
    "beads": lambda a, b, c: (a + b) / c,
    "spending": lambda a, b, c: a - b - c,
}
TEMPLATES = wp.load_spec().templates


def _sample() -> list[wp.Problem]:
    """The test split plus, for every template, one problem with each first name."""
    problems = list(wp.generate("test", wp.DEFAULT_SIZES["test"]))
    n_names = len(wp.load_wording("en").names)
    for template_id in TEMPLATES:
        numbers = next(p.numbers for p in wp.generate("train", 200) if p.template == template_id)
        problems += [wp.Problem(template_id, numbers, i) for i in range(n_names)]
    return problems


SAMPLE = _sample()


def test_spec_has_16_one_step_and_8_two_step_templates_and_expected_covers_them():
    levels = Counter(t.level for t in TEMPLATES.values())
    assert levels == {"one-step": 16, "two-step": 8}
    assert set(EXPECTED) == set(TEMPLATES)
    one_step_ops = Counter(t.steps[0][1] for t in TEMPLATES.values() if t.level == "one-step")
    assert one_step_ops == {"+": 4, "-": 4, "*": 4, "/": 4}


@pytest.mark.parametrize("lang", wp.LANGUAGES)
def test_language_file_has_every_template_the_same_names_count_and_the_answer_phrase(lang):
    wording = wp.load_wording(lang)
    assert set(wording.templates) == set(TEMPLATES)
    assert len(wording.names) == len(wp.load_wording("en").names)
    assert LANGUAGE_INFO[lang].answer_phrase in wording.solution["answer"]
    for template_id, text in wording.templates.items():  # a slot the spec has is used, no other
        used = set(re.findall(r"\{([a-z])[|}]", text))
        assert used == {slot for slot, _, _ in TEMPLATES[template_id].slots}, (lang, template_id)


@pytest.mark.parametrize("lang", wp.LANGUAGES)
def test_every_question_is_filled_with_its_numbers_in_ascii_digits(lang):
    for problem in SAMPLE:
        text = wp.question(problem, lang)
        assert not set("{}|") & set(text), text
        assert sorted(ASCII_NUMBER.findall(text)) == sorted(str(v) for _, v in problem.numbers), text
        assert not any(unicodedata.category(ch) == "Nd" and not ch.isascii() for ch in text), text
        assert text == text.strip() and "  " not in text, text


def test_answers_match_the_arithmetic_and_respect_ranges_and_levels():
    spec = wp.load_spec()
    for problem in SAMPLE:
        template = TEMPLATES[problem.template]
        numbers = dict(problem.numbers)
        for slot, low, high in template.slots:
            assert low <= numbers[slot] <= high
        expected = EXPECTED[problem.template](*numbers.values())
        assert expected == int(expected) and wp.answer(problem) == expected, problem
        assert spec.min_result <= wp.answer(problem) <= spec.scales["standard"].max_answer[template.level]


@pytest.mark.parametrize("lang", wp.LANGUAGES)
def test_solutions_are_correct_steps_ending_in_the_extracted_answer(lang):
    for problem in SAMPLE[:200]:
        text = wp.solution(problem, lang)
        steps = STEP.findall(text)
        assert len(steps) == len(TEMPLATES[problem.template].steps), text
        for left, op, right, result in steps:
            assert ARITHMETIC[op](int(left), int(right)) == int(result), text
        assert int(steps[-1][3]) == wp.answer(problem)
        assert ASCII_NUMBER.findall(text)[-1] == str(wp.answer(problem))
        assert extract_answer(text) == str(wp.answer(problem)), text


def test_english_solution_reads_as_in_the_brief():
    problem = wp.Problem("stickers", (("a", 12), ("b", 3), ("c", 5)), 0)
    assert wp.solution(problem, "en") == "12 * 3 = 36. 36 + 5 = 41. The answer is 41."
    assert wp.solution(problem, "ja") == "12 * 3 = 36。36 + 5 = 41。答えは41です。"


@pytest.mark.parametrize("lang", wp.LANGUAGES)
def test_language_id_recognizes_the_questions(lang):
    problems = wp.generate("test", wp.DEFAULT_SIZES["test"])
    rate = sum(detect_language(wp.question(p, lang)) == lang for p in problems) / len(problems)
    assert rate >= MIN_LANGID_RATE, f"{lang}: {rate:.3f}"


@pytest.mark.parametrize(
    ("number", "form"),
    [
        (1, "яблоко"),
        (2, "яблока"),
        (4, "яблока"),
        (5, "яблок"),
        (11, "яблок"),
        (12, "яблок"),
        (14, "яблок"),
        (21, "яблоко"),
        (22, "яблока"),
        (25, "яблок"),
        (101, "яблоко"),
        (111, "яблок"),
    ],
)
def test_russian_noun_agrees_with_the_number(number, form):
    assert wp.plural_form("ru", number, ["яблоко", "яблока", "яблок"]) == form


def test_splits_are_pairwise_disjoint_deterministic_and_without_duplicate_questions():
    keys = {}
    for split in wp.SPLITS:
        problems = wp.generate(split, wp.DEFAULT_SIZES[split])
        assert len(problems) == wp.DEFAULT_SIZES[split]
        keys[split] = {p.key for p in problems}
        assert len(keys[split]) == len(problems)
        assert all(wp.split_of(key, wp.DEFAULT_SEED) == split for key in keys[split])
        for lang in wp.LANGUAGES:
            questions = [wp.question(p, lang) for p in problems]
            assert len(set(questions)) == len(questions)
        wp.generate.cache_clear()
        assert wp.generate(split, wp.DEFAULT_SIZES[split]) == problems  # same again, not cached
    splits = list(keys)
    for i, first in enumerate(splits):
        for second in splits[i + 1 :]:
            assert not keys[first] & keys[second], (first, second)


def test_seed_changes_the_problems_and_a_longer_split_extends_a_shorter_one():
    assert wp.generate("test", 50, seed=1) != wp.generate("test", 50, seed=0)
    assert wp.generate("test", 120)[:50] == wp.generate("test", 50)


def test_every_template_appears_in_each_split_in_turn():
    counts = Counter(p.template for p in wp.generate("test", 240))
    assert counts == {template_id: 10 for template_id in TEMPLATES}


def test_levels_filter_and_bad_arguments():
    assert {TEMPLATES[p.template].level for p in wp.generate("dev", 40, levels=("two-step",))} == {"two-step"}
    with pytest.raises(ValueError, match="unknown wordproblems split 'val'"):
        wp.generate("val", 10)
    with pytest.raises(ValueError, match="level"):
        wp.generate("test", 10, levels=("three-step",))
    with pytest.raises(ValueError, match="unknown language 'pt'"):
        wp.load(["pt"])


def test_a_split_that_runs_out_of_problems_says_how_many_it_holds(monkeypatch):
    tiny = wp.Template("add_apples", "one-step", (("a", 2, 3), ("b", 2, 3)), (("a", "+", "b"),))
    spec = wp.load_spec()
    for lang in wp.LANGUAGES:  # cached before the spec shrinks (they check their templates against it)
        wp.load_wording(lang)
    tiny_spec = wp.Spec({"add_apples": tiny}, spec.min_result, spec.scales)
    monkeypatch.setattr(wp, "load_spec", lambda: tiny_spec)
    monkeypatch.setattr(wp, "SPLIT_SHARES", {"test": 100})
    wp.generate.cache_clear()
    try:
        keys = {p.key for p in wp.generate("test", 4)}
        assert keys == {"add_apples:2,2", "add_apples:2,3", "add_apples:3,2", "add_apples:3,3"}
        with pytest.raises(ValueError, match="holds only 4 problems"):
            wp.generate("test", 5)
    finally:
        wp.generate.cache_clear()


def test_exemplars_are_parallel_worked_examples_of_different_operations():
    shots = {lang: wp.wordproblem_exemplars(lang, 5) for lang in wp.LANGUAGES}
    for lang, exemplars in shots.items():
        assert [e["answer"] for e in exemplars] == [e["answer"] for e in shots["en"]]
        assert all(set(e) == {"question", "solution", "answer"} for e in exemplars)
        assert all(extract_answer(e["solution"]) == e["answer"] for e in exemplars)
    ops = {tuple(step[1] for step in STEP.findall(e["solution"])) for e in shots["en"]}
    assert len(ops) == 5 and {("+",), ("-",), ("*",), ("/",)} <= ops
    assert wp.wordproblem_exemplars("de", 0) == []
    shot_questions = {e["question"] for e in wp.wordproblem_exemplars("en", 24)}
    test_questions = {e.question for e in wp.load(["en"], "test")}
    assert not shot_questions & test_questions


def test_load_gives_parallel_examples_with_english_pivot_fields():
    examples = wp.load(["en", "de", "bn"], "dev", size=30)
    by_lang = {lang: [e for e in examples if e.lang == lang] for lang in ("en", "de", "bn")}
    assert [e.id for e in by_lang["de"]] == [f"wp-dev-{k:05d}" for k in range(30)]
    for de, en in zip(by_lang["de"], by_lang["en"]):
        assert (de.id, de.answer, de.question_en, de.solution_en) == (en.id, en.answer, en.question, en.solution_en)
        assert de.solution_en.endswith(f"The answer is {de.answer}.")
        assert de.level in wp.LEVELS


def test_registered_dataset_and_load_splits_from_the_shipped_config():
    assert available_languages("wordproblems") == sorted(wp.LANGUAGES)
    assert len(load_examples("wordproblems", ["sw"], split="shots")["sw"]) == wp.DEFAULT_SIZES["shots"]
    cfg = OmegaConf.load(CONF_DATA)
    splits = load_splits(cfg, ["en", "ru"], ["en", "ru", "ja"], data_root=None)
    assert len(splits["train"]) == 2 * cfg.train_size and len(splits["eval"]) == 3 * cfg.eval_size
    prefix = "wp-small-" if cfg.number_scale == "small" else "wp-"
    assert all(e.id.startswith(f"{prefix}train-") for e in splits["train"])
    assert all(e.id.startswith(f"{prefix}test-") for e in splits["eval"])
    assert {e.level for e in splits["eval"]} == set(cfg.eval_levels)
    cfg.eval_split, cfg.eval_levels = "dev", ["two-step"]
    dev = load_splits(cfg, ["en"], ["de"], data_root=None)["eval"]
    assert all(e.id.startswith(f"{prefix}dev-") and e.level == "two-step" for e in dev)
    cfg.eval_split = "exam"
    with pytest.raises(ValueError, match="unknown wordproblems split 'exam'"):
        load_splits(cfg, ["en"], ["de"], data_root=None)


def test_small_scale_caps_every_number_and_stays_inside_the_standard_splits():
    small = wp.load_spec().scales["small"]
    keys = {}
    for split in wp.SPLITS:
        problems = wp.generate(split, wp.DEFAULT_SIZES[split], scale="small")
        assert len({p.key for p in problems}) == len(problems) == wp.DEFAULT_SIZES[split]
        for problem in problems:
            assert max(value for _, value in problem.numbers) <= small.max_operand
            assert wp.answer(problem) <= small.max_answer[TEMPLATES[problem.template].level]
            assert wp.split_of(problem.key, wp.DEFAULT_SEED) == split
        keys[split] = {p.key for p in problems}
    assert not keys["test"] & {p.key for p in wp.generate("train", wp.DEFAULT_SIZES["train"])}
    assert not keys["train"] & {p.key for p in wp.generate("test", wp.DEFAULT_SIZES["test"])}
    levels = Counter(TEMPLATES[p.template].level for p in wp.generate("test", 400, scale="small"))
    assert levels["one-step"] >= 100  # every small one-step template still has test problems
    examples = wp.load(["ru"], "test", size=3, scale="small")
    assert [e.id for e in examples] == ["wp-small-test-00000", "wp-small-test-00001", "wp-small-test-00002"]
    assert wp.example_solution("wp-small-test-00002", "ru").endswith(f"Ответ — {examples[2].answer}.")
    with pytest.raises(ValueError, match="unknown wordproblems number scale 'tiny'"):
        wp.generate("test", 3, scale="tiny")
    with pytest.raises(ValueError, match="not a wordproblems id"):
        wp.example_solution("wp-huge-test-00002", "ru")


def test_load_splits_passes_the_number_scale():
    cfg = OmegaConf.load(CONF_DATA)
    cfg.number_scale = "small"
    splits = load_splits(cfg, ["de"], ["de"], data_root=None)
    assert all(e.id.startswith("wp-small-train-") for e in splits["train"])
    assert all(e.id.startswith("wp-small-test-") for e in splits["eval"])
    assert max(int(n) for e in splits["eval"] for n in ASCII_NUMBER.findall(e.question)) <= 20


def test_train_levels_pick_the_training_problems():
    cfg = OmegaConf.load(CONF_DATA)
    cfg.train_levels, cfg.train_size = ["one-step"], 40
    splits = load_splits(cfg, ["de"], ["de"], data_root=None)
    assert len(splits["train"]) == 40 and {e.level for e in splits["train"]} == {"one-step"}
    cfg.train_levels = ["three-step"]
    with pytest.raises(ValueError, match=r"data.train_levels=\['three-step'\] matches no wordproblems problem"):
        load_splits(cfg, ["de"], ["de"], data_root=None)
