"""MGSM (google-research/url-nlp): 250 GSM8K test problems in 11 languages.

Files: <data_root>/mgsm/mgsm_<lang>.tsv, `question<TAB>answer`, no header; answers may carry
thousands commas. Hub: juletxara/mgsm (config = language, columns question, answer_number).
English worked solutions come from GSM8K test rows 0-249 (same problems, same order).
"""

from __future__ import annotations

from pathlib import Path

from pbrl.answers import answers_match, normalize_answer
from pbrl.data import gsm8k
from pbrl.data.example import Example
from pbrl.data.files import read_tsv_file, require_number, require_text
from pbrl.data.hub import load_hub_rows
from pbrl.languages import MGSM_LANGUAGES

NAME = "mgsm"
HUB_ID = "juletxara/mgsm"
LANGUAGES = MGSM_LANGUAGES
SIZE = 250


def _question_answer_pairs(lang: str, data_root, hub_id: str) -> list[tuple[str, str]]:
    if data_root is None:
        return [(row["question"], str(row["answer_number"])) for row in load_hub_rows(hub_id, lang, "test")]
    path = Path(data_root) / "mgsm" / f"mgsm_{lang}.tsv"

    def check(row, lineno):
        require_text(row[0], "question", NAME, path, lineno)
        require_number(row[1], "answer", NAME, path, lineno)

    return [(q, a) for q, a in read_tsv_file(path, NAME, columns=2, check=check)]


def _english_solutions(data_root, gsm8k_hub_id: str, answers: list[str]) -> list[str]:
    """GSM8K test solutions of the MGSM problems; "" where GSM8K's `#### N` disagrees with MGSM's answer."""
    rows = gsm8k.load_rows("test", data_root, gsm8k_hub_id)[:SIZE]
    solutions = [gsm8k.split_solution(row["answer"]) for row in rows]
    return [text if answers_match(final, answer) else "" for (text, final), answer in zip(solutions, answers)]


def load(
    lang: str, data_root: str | Path | None, hub_id: str = HUB_ID, gsm8k_hub_id: str = gsm8k.HUB_ID
) -> list[Example]:
    """MGSM in `lang` with ids `mgsm-<row>`, English question and GSM8K worked solution attached."""
    pairs = _question_answer_pairs(lang, data_root, hub_id)
    english = pairs if lang == "en" else _question_answer_pairs("en", data_root, hub_id)
    if len(pairs) != len(english):
        raise ValueError(f"corrupt mgsm data: {len(pairs)} rows in {lang} but {len(english)} in en; re-download it")
    solutions = _english_solutions(data_root, gsm8k_hub_id, [a for _, a in english])
    return [
        Example(
            id=f"mgsm-{i}",
            lang=lang,
            question=q.strip(),
            question_en=english[i][0].strip(),
            answer=normalize_answer(a),
            solution_en=solutions[i] if i < len(solutions) else "",
        )
        for i, (q, a) in enumerate(pairs)
    ]
