from __future__ import annotations

import json

import pytest

from pbrl.evaluation import aggregate, copies_reference, dw_accuracy, score_predictions
from pbrl.rundir import read_jsonl
from pbrl.score import main

ROWS = [
    {"id": "a", "lang": "en", "response": "2 + 2 = 4. The answer is 4.", "answer": "4"},
    {"id": "b", "lang": "en", "response": "The answer is 5.", "answer": "4"},
    {"id": "c", "lang": "de", "response": "Zwei plus zwei ist vier. Die Antwort ist 4.", "answer": "4"},
    {"id": "d", "lang": "de", "response": "Two plus two is four. The answer is 4.", "answer": "4"},
    {"id": "e", "lang": "de", "response": "", "answer": "4"},
]


def test_score_predictions_metrics():
    result = score_predictions(ROWS)
    en = result["languages"]["en"]
    assert (en["n"], en["correct"], en["accuracy"], en["fidelity"]) == (2, 1, 0.5, 1.0)
    assert en["accuracy_ci"] == pytest.approx([0.0945, 0.9055], abs=1e-4)  # Wilson 1/2
    assert "english_share" not in en
    assert result["languages"]["de"]["accuracy"] == pytest.approx(2 / 3)
    assert result["languages"]["de"]["fidelity"] == pytest.approx(1 / 3)  # English answer and empty one
    assert result["languages"]["de"]["english_share"] == pytest.approx(1 / 3)
    agg = result["aggregate"]
    assert agg["gap_to_en"] == pytest.approx(0.5 - 2 / 3) and agg["all_avg"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert [p["pred"] for p in result["predictions"]] == ["4", "5", "4", "4", None]


def test_multiple_choice_rows_use_letters():
    rows = [{"lang": "en", "response": "The answer is (B).", "answer": "B", "choices": ["x", "y", "z"]}]
    assert score_predictions(rows)["predictions"][0]["correct"] is True


def test_dw_acc_weights_levels():
    # Σ 2^i acc_i / 15 with acc = 1, 0, 0, 1 over low, medium, high, top.
    assert dw_accuracy({"low": 1.0, "medium": 0.0, "high": 0.0, "top": 1.0}) == pytest.approx(9 / 15)
    rows = [{"lang": "en", "response": "The answer is 1.", "answer": "1", "level": lvl} for lvl in ("low", "top")]
    assert score_predictions(rows)["languages"]["en"]["dw_acc"] == pytest.approx(1.0)


def test_aggregate_without_english():
    agg = aggregate({"de": {"accuracy": 0.5, "fidelity": 1.0}})
    assert agg["en"] is None and agg["gap_to_en"] is None and agg["non_en_avg"] == 0.5


def test_cli_writes_rows_and_prints_table(tmp_path, capsys):
    src, dst = tmp_path / "pred.jsonl", tmp_path / "scored.jsonl"
    src.write_text("".join(json.dumps(r | {"extra": 1}) + "\n" for r in ROWS), encoding="utf-8")
    assert main([f"input={src}", f"output={dst}"]) == 0
    scored = read_jsonl(dst)
    assert [r["correct"] for r in scored] == [True, False, True, True, False]
    assert all(r["extra"] == 1 for r in scored)  # extra fields kept
    out = capsys.readouterr().out
    assert "de" in out and "0.667" in out and "gap_to_en=" in out


def test_cli_rejects_rows_without_response(tmp_path):
    src = tmp_path / "pred.jsonl"
    src.write_text(json.dumps({"lang": "en", "answer": "1"}) + "\n")
    with pytest.raises(SystemExit):
        main([f"input={src}", f"output={tmp_path / 'out.jsonl'}"])


REFERENCE = "She makes 24 + 18 = 42 muffins.\nAfter selling some, 42 - 35 = 7 muffins are left.\nThe answer is 7."


@pytest.mark.parametrize("response,is_copy", [
    (REFERENCE, True),                                                              # the reference itself
    ("She makes 24 + 18 = 42 muffins.\nAfter selling some, 42 - 35 = 7 muffins are left.", True),  # most of it
    ("First, 24 + 18 = 42 muffins were made. Then 42 - 35 = 7. The answer is 7.", False),  # English, own words
    ("Elle prépare 24 + 18 = 42 muffins. Après la vente, il reste 42 - 35 = 7 muffins. La réponse est 7.", False),
    ("Sie backt 24 + 18 = 42 Muffins. Nach dem Verkauf bleiben 42 - 35 = 7 Muffins übrig. Die Antwort ist 7.", False),
    ("", False),
])
def test_copies_reference_flags_copies_not_translations(response, is_copy):
    assert copies_reference(response, REFERENCE) is is_copy


def test_copy_and_english_shares_per_language():
    rows = [{"id": str(i), "lang": "fr", "answer": "7", "reference": REFERENCE, "response": text}
            for i, text in enumerate([REFERENCE, "Il reste 42 - 35 = 7 muffins. La réponse est 7.",
                                      "Elle en a 7 de plus. La réponse est 7.", "The answer is 7, I think."])]
    fr = score_predictions(rows)["languages"]["fr"]
    assert fr["copy_share"] == 0.25 and fr["english_share"] == 0.5  # the copy and the English answer
    assert fr["copy_share_ci"][0] < 0.25 < fr["copy_share_ci"][1]


SMALL_INPUTS = {
    "one row": [{"lang": "de", "response": "Die Antwort ist 4.", "answer": "4"}],
    "one problem per language": [{"id": "a", "lang": lang, "response": text, "answer": "4"} for lang, text in
                                 (("en", "The answer is 4."), ("de", "Die Antwort ist 4."), ("sw", "Jibu ni 5."))],
    # no ids: each language's rows are its own problems; sw's single one used to reach scipy's bootstrap
    "one language with one problem": [
        {"lang": "en", "response": "The answer is 4.", "answer": "4"},
        {"lang": "de", "response": "Die Antwort ist 4.", "answer": "4"},
        {"lang": "de", "response": "Die Antwort ist 5.", "answer": "4"},
        {"lang": "sw", "response": "Jibu ni 4.", "answer": "4"}],
}


@pytest.mark.parametrize("name", SMALL_INPUTS)
def test_cli_scores_tiny_inputs_with_undefined_average_intervals(name, tmp_path, capsys):
    src, dst = tmp_path / "pred.jsonl", tmp_path / "scored.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in SMALL_INPUTS[name]), encoding="utf-8")
    assert main([f"input={src}", f"output={dst}"]) == 0
    assert len(read_jsonl(dst)) == len(SMALL_INPUTS[name])
    out = capsys.readouterr().out
    aggregate_line = next(line for line in out.splitlines() if line.startswith("aggregate:"))
    assert "non_en_avg=" in aggregate_line and "[–]" in aggregate_line   # bootstrap undefined: too few problems
    assert "1.000 [0.207, 1.000]" in out                                    # Wilson at n = 1 is defined
