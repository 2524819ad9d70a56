"""Loaders on a hand-made data root in the published formats: parsing, errors, splits, translation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pbrl.data import available_languages, check_disjoint, load_examples, load_splits
from pbrl.data.example import Example
from pbrl.data.gsm8k import split_solution
from pbrl.data.mmlu_prox import row_to_example
from pbrl.data.polymath import problem_id

N_PROBLEMS = 10


def _write_root(root: Path) -> Path:
    (root / "mgsm").mkdir(parents=True)
    (root / "gsm8k").mkdir()
    (root / "msvamp").mkdir()
    answers = [str(1000 + 7 * i) if i % 3 else f"{i},125" for i in range(N_PROBLEMS)]
    for lang, word in (("en", "How many"), ("de", "Wie viele"), ("fr", "Combien")):
        lines = [f"{word} apples in basket {i}?\t{answers[i]}" for i in range(N_PROBLEMS)]
        (root / "mgsm" / f"mgsm_{lang}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    test_rows = [
        {"question": f"How many apples in basket {i}?", "answer": f"2 * 3 = <<2*3=6>>6 apples\n#### {answers[i]}"}
        for i in range(N_PROBLEMS)
    ]
    train_rows = [{"question": f"Train problem {i}?", "answer": f"It is {i}.\n#### {i}"} for i in range(N_PROBLEMS)]
    (root / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test_rows))
    (root / "gsm8k" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_rows))
    en = [{"m_query": f"tom has {i} pens .", "equation": "x", "response": f"{i}.0"} for i in range(4)]
    de = [dict(r, m_query=f"Tom hat {i} Stifte.", query=r["m_query"]) for i, r in enumerate(en)]
    (root / "msvamp" / "test_English.json").write_text("".join(json.dumps(r) + "\n" for r in en))
    (root / "msvamp" / "test_German.json").write_text("".join(json.dumps(r) + "\n" for r in de))
    return root


@pytest.fixture
def root(tmp_path) -> Path:
    return _write_root(tmp_path / "data")


def data_cfg(**overrides):
    base = dict(
        name="t",
        train_dataset="mgsm",
        eval_dataset="mgsm",
        train_size=3,
        eval_size=4,
        train_source="parallel",
        translator=None,
        few_shot=0,
        split_seed=0,
        hub_ids={},
    )
    return OmegaConf.create(base | overrides)


def test_mgsm_rows_answers_and_english_solution(root):
    de = load_examples("mgsm", ["de"], root)["de"]
    assert len(de) == N_PROBLEMS
    assert de[0] == Example(
        "mgsm-0", "de", "Wie viele apples in basket 0?", "How many apples in basket 0?", "125", "2 * 3 = 6 apples"
    )
    assert de[3].answer == "3125"  # '3,125' loses its thousands comma


def test_gsm8k_solution_strips_calculator_annotations():
    assert split_solution("She makes 9 * 2 = $<<9*2=18>>18.\n#### 1,800") == ("She makes 9 * 2 = $18.", "1800")


def test_msvamp_parallel_rows(root):
    de = load_examples("msvamp", ["de"], root)["de"]
    assert [(e.id, e.answer, e.question_en) for e in de[:2]] == [
        ("msvamp-0", "0", "tom has 0 pens ."),
        ("msvamp-1", "1", "tom has 1 pens ."),
    ]


def test_available_languages_reads_the_files(root):
    assert available_languages("mgsm", root) == ["de", "en", "fr"]
    assert available_languages("msvamp", root) == ["de", "en"]
    assert "te" not in available_languages("msvamp")


ERROR_CASES = [
    ("mgsm", ["xx"], ValueError, "unknown language code 'xx'"),  # not a language code
    ("msvamp", ["te"], ValueError, "not in dataset 'msvamp'"),  # Telugu is not in MSVAMP
    ("gsm8k", ["de"], ValueError, "train_source=translate"),  # GSM8K is English only
    ("mgsm", ["ja"], FileNotFoundError, "mgsm_ja.tsv not found"),  # file missing from the root
    ("polymath", ["en"], FileNotFoundError, "PBRL_DATA_ROOT"),  # whole folder missing
    ("mnist", ["en"], ValueError, "unknown dataset 'mnist'"),  # unknown dataset
]


@pytest.mark.parametrize("dataset,langs,error,message", ERROR_CASES)
def test_load_errors_name_the_problem(root, dataset, langs, error, message):
    with pytest.raises(error, match=message):
        load_examples(dataset, langs, root)


def test_corrupt_tsv_names_file_and_line(root):
    path = root / "mgsm" / "mgsm_fr.tsv"
    path.write_text("ok question\t1\nbroken line without tab\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mgsm_fr.tsv line 2: 1 columns"):
        load_examples("mgsm", ["fr"], root)


def test_corrupt_jsonl_names_file_and_line(root):
    (root / "msvamp" / "test_German.json").write_text('{"m_query": "a", "response": "1.0"}\n{"m_query": \n')
    with pytest.raises(ValueError, match=r"test_German.json line 2"):
        load_examples("msvamp", ["de"], root)


def test_mmlu_prox_row_conversion():
    row = {
        "question_id": 70,
        "question": "Welche Zahl ist prim?",
        "answer": "C",
        "answer_index": 2,
        **{f"option_{i}": str(v) for i, v in enumerate([4, 6, 7, 8, 9, 10, 12, 14, 15, 16])},
    }
    example = row_to_example(row, "de", question_en="Which number is prime?")
    assert (example.id, example.answer, example.choices[2], len(example.choices)) == ("mmlu_prox-70", "C", "7", 10)
    padded = {"question_id": 1, "question": "q", "answer": None, "answer_index": 1, "options": ["a", "b", "N/A"]}
    assert row_to_example(padded, "en").choices == ["a", "b"] and row_to_example(padded, "en").answer == "B"


def test_polymath_problem_id_is_language_free():
    assert problem_id({"id": "medium-zh-4"}) == problem_id({"id": "medium-en-4"}) == "polymath-medium-4"


def test_parallel_splits_are_disjoint_and_complete(root):
    splits = load_splits(data_cfg(), ["de", "fr"], ["en", "de"], root)
    train_ids = {e.id for e in splits["train"]}
    eval_ids = {e.id for e in splits["eval"]}
    assert len(train_ids) == 3 and len(eval_ids) == 4 and not train_ids & eval_ids
    assert sorted(e.lang for e in splits["train"]) == ["de"] * 3 + ["fr"] * 3  # every problem in every train language
    assert [e.id for e in splits["eval"] if e.lang == "en"] == [e.id for e in splits["eval"] if e.lang == "de"]


def test_splits_are_seeded(root):
    ids = lambda seed: [e.id for e in load_splits(data_cfg(split_seed=seed), ["de"], ["de"], root)["eval"]]  # noqa: E731
    assert ids(1) == ids(1)
    assert ids(1) != ids(2) or ids(1) != ids(3)


def test_train_never_gets_an_eval_problem_from_another_dataset(root):
    # GSM8K test holds the MGSM problems (and 2 more here): MGSM copies of eval problems leave train.
    with open(root / "gsm8k" / "test.jsonl", "a") as f:
        f.write(json.dumps({"question": "Extra one?", "answer": "#### 1"}) + "\n")
        f.write(json.dumps({"question": "Extra two?", "answer": "#### 2"}) + "\n")
    everything = data_cfg(train_dataset="mgsm", eval_dataset="gsm8k", eval_size=-1, train_size=-1)
    assert load_splits(everything, ["en"], ["en"], root)["train"] == []
    some = load_splits(
        data_cfg(train_dataset="mgsm", eval_dataset="gsm8k", eval_size=6, train_size=-1), ["en"], ["en"], root
    )
    eval_questions = {e.question_en for e in some["eval"]}
    assert 4 <= len(some["train"]) < N_PROBLEMS and not {e.question_en for e in some["train"]} & eval_questions


def test_translate_source_needs_a_translator(root):
    with pytest.raises(ValueError, match="needs data.translator"):
        load_splits(data_cfg(train_dataset="gsm8k", train_source="translate"), ["de"], ["de"], root)


def test_check_disjoint_raises_on_shared_question():
    a = Example("gsm8k-test-0", "en", "Q?", "Q?", "1")
    b = Example("mgsm-0", "de", "F?", "q? ", "1")
    with pytest.raises(ValueError, match="train and eval share"):
        check_disjoint([a], [b])


class FakeTranslator:
    key = "fake-mt"

    def __init__(self):
        self.calls = 0

    def translate(self, texts, src, tgt):
        self.calls += 1
        return [f"[{tgt}] {t}" for t in texts]


class IntoEnglishOnly:
    key = "to-en"

    def translate(self, texts, src_lang, progress=False):
        return list(texts)


def test_translate_source_uses_and_fills_the_cache(root, tmp_path):
    translator = FakeTranslator()
    cfg = data_cfg(train_dataset="gsm8k", eval_dataset="mgsm", train_source="translate", train_size=4)
    cfg.translator = None
    cfg = OmegaConf.to_container(cfg)
    cfg["translator"] = translator
    splits = load_splits(cfg, ["en", "sw"], ["de"], root, cache_dir=tmp_path / "cache")
    sw = [e for e in splits["train"] if e.lang == "sw"]
    assert len(sw) == 4 and all(e.question == f"[sw] {e.question_en}" for e in sw)
    assert translator.calls == 1 and list((tmp_path / "cache" / "translations").glob("en-sw-*.jsonl"))
    again = load_splits(cfg, ["sw"], ["de"], root, cache_dir=tmp_path / "cache")
    assert translator.calls == 1 and [e.question for e in again["train"]] == [e.question for e in sw]


def test_into_english_translator_is_refused(root, tmp_path):
    cfg = OmegaConf.to_container(data_cfg(train_dataset="gsm8k", train_source="translate"))
    cfg["translator"] = IntoEnglishOnly()
    with pytest.raises(ValueError, match="English-to-X"):
        load_splits(cfg, ["sw"], ["de"], root, cache_dir=tmp_path)


def test_mgsm_drops_a_gsm8k_solution_whose_answer_disagrees(root):
    path = root / "gsm8k" / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["answer"] = "wrong work\n#### 999"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    en = load_examples("mgsm", ["en"], root)["en"]
    assert en[0].solution_en and en[1].solution_en == ""

