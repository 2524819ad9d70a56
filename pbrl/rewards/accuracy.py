"""Answer accuracy: the response's final answer against the gold or verified reference answer."""

from __future__ import annotations

from pbrl.answers import answers_match, extract_answer
from pbrl.rewards.base import Reward, column, present

DEFAULT_ANSWER_COLUMNS = ("answer", "reference_answer")


class AccuracyReward(Reward):
    """1.0 if the response's final answer equals the target answer, else 0.0.

    The final answer is read by `pbrl.answers.extract_answer` (last `\\boxed{}`, else the number after
    the last localized "The answer is", else the last number; any script's digits) and compared with
    `pbrl.answers.answers_match` (numeric tolerance, else normalized text). The target is the first
    non-empty of `answer_columns`: by default the gold `answer`, else the pivot's verified
    `reference_answer`. Alone, this is the traditional RLVR reward (conf/reward/accuracy.yaml).

    Args:
        answer_columns (list[str]): columns to take the target answer from, in order of preference.

    Returns None where no target answer is known or the response is empty; a response with no
    readable answer scores 0.0 (it answered wrongly, it is not unscorable).

    Example:
        >>> AccuracyReward()(completions=["5 + 6 = 11. Die Antwort ist 11.", "Die Antwort ist 12."],
        ...                  answer=["11", "11"])
        [1.0, 0.0]
    """

    name = "accuracy"

    def __init__(self, answer_columns: list[str] | tuple[str, ...] = DEFAULT_ANSWER_COLUMNS):
        super().__init__()
        if isinstance(answer_columns, str) or not answer_columns:
            raise ValueError(f"answer_columns must be a non-empty list of column names, got {answer_columns!r}")
        self.answer_columns = [str(c) for c in answer_columns]

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        targets = [column(columns, c, len(texts)) for c in self.answer_columns]
        out: list[float | None] = []
        for i, text in enumerate(texts):
            gold = next((t[i] for t in targets if present(t[i])), None)
            if gold is None or not text.strip():
                out.append(None)
                continue
            out.append(1.0 if answers_match(extract_answer(text), str(gold)) else 0.0)
        return out
