"""Language fidelity: is the response written in the question's language?"""

from __future__ import annotations

from pbrl.langid import UNKNOWN, detect_language, language_fraction
from pbrl.rewards.base import Reward, column, present

MODES = ("document", "sentences")


class LanguageReward(Reward):
    """1.0 if the response is in the target language (the `lang` column), else 0.0.

    Identification is `pbrl.langid` (py3langid over the prose left after removing numbers and
    LaTeX, restricted to pbrl's languages).

    Args:
        mode (str): "document" (default): one decision for the whole response, 1.0 or 0.0.
            "sentences": the fraction of sentences in the target language (`language_fraction`),
            which also penalizes a response that drifts into English halfway.
        lang_column (str): the column holding the target language code ("lang").

    Returns None when the target language is missing, the response is empty, or (document mode)
    the response has no prose at all (only numbers/math: nothing to identify).

    Example:
        >>> LanguageReward()(completions=["Roger hat 5 Bälle. Die Antwort ist 11.", "Roger has 5 balls."],
        ...                  lang=["de", "de"])
        [1.0, 0.0]
    """

    name = "language"

    def __init__(self, mode: str = "document", lang_column: str = "lang"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown language reward mode '{mode}'; choose from: {', '.join(MODES)}")
        self.mode = mode
        self.lang_column = lang_column

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        langs = column(columns, self.lang_column, len(texts))
        out: list[float | None] = []
        for text, lang in zip(texts, langs):
            if not present(lang) or not text.strip():
                out.append(None)
            elif self.mode == "sentences":
                out.append(language_fraction(text, str(lang)))
            else:
                detected = detect_language(text)
                out.append(None if detected == UNKNOWN else float(detected == str(lang)))
        return out
