"""GSM8K (openai/grade-school-math): English problems with worked solutions ending in `#### N`.

File: <data_root>/gsm8k/{train,test}.jsonl, rows {question, answer}. Hub: openai/gsm8k, config main.
The 250 MGSM problems are test rows 0-249, so GSM8K test also gives MGSM's English solutions.
"""

from __future__ import annotations

import re
from pathlib import Path

from pbrl.answers import normalize_answer
from pbrl.data.example import Example
from pbrl.data.files import corrupt, read_jsonl_file, require_fields, require_number, require_text
from pbrl.data.hub import load_hub_rows

NAME = "gsm8k"
HUB_ID = "openai/gsm8k"
LANGUAGES = ("en",)
SPLITS = ("train", "test")
_CALCULATOR = re.compile(r"<<[^>]*>>")
_FINAL = re.compile(r"\n?####\s*(.+?)\s*$")


def split_solution(answer_field: str) -> tuple[str, str]:
    """(worked solution without `<<calc>>` annotations and the `#### N` line, normalized final answer).

    Example:
        >>> split_solution("She makes 9 * 2 = $<<9*2=18>>18.\\n#### 18")
        ('She makes 9 * 2 = $18.', '18')
    """
    text = _CALCULATOR.sub("", answer_field)
    final = _FINAL.search(text)
    if not final:
        return text.strip(), ""
    return text[: final.start()].strip(), normalize_answer(final.group(1))


def load_rows(split: str, data_root: str | Path | None, hub_id: str = HUB_ID) -> list[dict]:
    if split not in SPLITS:
        raise ValueError(f"unknown gsm8k split '{split}'; choose from: {', '.join(SPLITS)}")
    if data_root is None:
        return load_hub_rows(hub_id, "main", split)
    path = Path(data_root) / "gsm8k" / f"{split}.jsonl"

    def check(row, lineno):
        require_fields(row, ("question", "answer"), path, NAME, lineno)
        require_text(row["question"], "question", NAME, path, lineno)
        final = _FINAL.search(_CALCULATOR.sub("", str(row["answer"])))
        if not final:
            raise corrupt(NAME, path, lineno, "answer has no final '#### <number>' line")
        require_number(final.group(1), "final answer", NAME, path, lineno)

    rows = read_jsonl_file(path, NAME, check=check)
    for i, row in enumerate(rows):
        require_fields(row, ("question", "answer"), path, NAME, i)
    return rows


def check_language(lang: str) -> None:
    """GSM8K is English only: another language fails naming how to train on it anyway."""
    if lang != "en":
        raise ValueError(
            f"language '{lang}' is not in dataset 'gsm8k' (English only); use data.train_source=translate "
            "to train on machine-translated GSM8K questions, or another dataset"
        )


def load(lang: str, data_root: str | Path | None, hub_id: str = HUB_ID, split: str = "train") -> list[Example]:
    """GSM8K `split` as English Examples with ids `gsm8k-<split>-<row>`."""
    check_language(lang)
    examples = []
    for i, row in enumerate(load_rows(split, data_root, hub_id)):
        solution, answer = split_solution(row["answer"])
        question = row["question"].strip()
        examples.append(Example(f"gsm8k-{split}-{i}", "en", question, question, answer, solution))
    return examples
