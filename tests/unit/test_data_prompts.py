from __future__ import annotations

import json

import pytest

from pbrl.answers import extract_answer
from pbrl.data import build_prompt, load_exemplars
from pbrl.data.example import Example

PROMPT_CASES = [
    ("en", "Question: What is 2+2?\nStep-by-Step Answer:"),  # lm-eval native CoT format
    ("de", "Frage: What is 2+2?\nSchritt-für-Schritt-Antwort:"),  # localized prefixes
    ("zh", "问题：What is 2+2?\n逐步解答："),  # full-width colon takes no space
    ("ja", "問題：What is 2+2?\nステップごとの答え："),  # Japanese
]


@pytest.mark.parametrize("lang,content", PROMPT_CASES)
def test_zero_shot_prompt(lang, content):
    example = Example("demo-0", lang, "What is 2+2?", "What is 2+2?", "4")
    assert build_prompt(example) == [{"role": "user", "content": content}]


def test_few_shot_turns_come_first():
    shots = [{"question": "1+1?", "solution": "1 + 1 = 2. Die Antwort ist 2."}]
    messages = build_prompt(Example("x", "de", "2+2?", "2+2?", "4"), shots)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "Frage: 1+1?\nSchritt-für-Schritt-Antwort:"
    assert extract_answer(messages[1]["content"]) == "2"


def test_multiple_choice_lists_lettered_options():
    example = Example("mmlu_prox-1", "en", "Which is prime?", "Which is prime?", "B", choices=["4", "7", "9"])
    content = build_prompt(example)[0]["content"]
    assert "\nA. 4\nB. 7\nC. 9\n" in content


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        build_prompt(Example("x", "xx", "q", "q", "1"))


def test_exemplars_from_the_published_file(tmp_path):
    (tmp_path / "mgsm").mkdir()
    rows = [
        {
            "id": 1,
            "q": "Frage: Roger hat 5 Bälle?",
            "a": "Schritt-für-Schritt-Antwort: 5 + 6 = 11. Die Antwort ist 11.",
            "answer_number": 11,
            "equation_solution": "5 + 6 = 11.",
        }
    ]
    (tmp_path / "mgsm" / "mgsm_exemplars.json").write_text(json.dumps({"de": rows}), encoding="utf-8")
    assert load_exemplars("de", 1, tmp_path) == [
        {"question": "Roger hat 5 Bälle?", "solution": "5 + 6 = 11. Die Antwort ist 11.", "answer": "11"}
    ]
    assert load_exemplars("de", 0, tmp_path) == []


EXEMPLAR_ERRORS = [
    ("de", 9, "more than the 8 MGSM exemplars"),  # too many shots
    ("ar", 2, "no few-shot exemplars in language 'ar'"),  # not an MGSM language
]


@pytest.mark.parametrize("lang,n,message", EXEMPLAR_ERRORS)
def test_exemplar_errors(tmp_path, lang, n, message):
    with pytest.raises(ValueError, match=message):
        load_exemplars(lang, n, tmp_path)


def test_plain_prompt_is_one_text_with_exemplar_blocks():
    from pbrl.data.prompts import Prompter

    shots = [{"question": "Wie viel ist 1+1?", "solution": "1 + 1 = 2. Die Antwort ist 2."}]
    prompter = Prompter("plain", {"de": shots})
    text = prompter(Example("x", "de", "Wie viel ist 2+2?", "What is 2+2?", "4"))
    assert text == (
        "Frage: Wie viel ist 1+1?\nSchritt-für-Schritt-Antwort: 1 + 1 = 2. Die Antwort ist 2.\n\n"
        "Frage: Wie viel ist 2+2?\nSchritt-für-Schritt-Antwort:"
    )
    # a language without exemplars gets the zero-shot question, chat style a message list
    assert prompter(Example("y", "fr", "2+2 ?", "", "4")) == "Question : 2+2 ?\nRéponse étape par étape :"
    assert isinstance(Prompter("chat", {"de": shots})(Example("x", "de", "2+2?", "", "4")), list)


def test_unknown_prompt_style_is_refused():
    with pytest.raises(ValueError, match="unknown prompt style 'html'"):
        build_prompt(Example("x", "de", "2+2?", "", "4"), style="html")


def test_mgsm_prompter_takes_mgsm_exemplars(data_root):
    from pbrl.data.prompts import make_prompter

    prompter = make_prompter("plain", 2, "mgsm", ["de", "de"], data_root)
    text = prompter(Example("x", "de", "Wie viel ist 2+2?", "", "4"))
    assert text.count("Frage:") == 3 and text.endswith("Frage: Wie viel ist 2+2?\nSchritt-für-Schritt-Antwort:")
    assert make_prompter("plain", 0, "mgsm", ["de"], data_root).exemplars == {}


def test_sft_completion_follows_the_prompt_style():
    from pbrl.algos.sft import reference_completion

    plain = reference_completion({"prompt": "Frage: 2+2?\nSchritt-für-Schritt-Antwort:", "reference": "2 + 2 = 4.\n"})
    assert plain["completion"] == " 2 + 2 = 4."
    chat = reference_completion({"prompt": [{"role": "user", "content": "2+2?"}], "reference": "4"})
    assert chat["completion"] == [{"role": "assistant", "content": "4"}]
