"""Answer format: does the response end in a final answer of the expected form?"""

from __future__ import annotations

import re

from pbrl.answers import last_boxed
from pbrl.languages import LANGUAGES
from pbrl.rewards.base import Reward, column, present

FORMS = ("phrase", "boxed")
PHRASE_WINDOW_CHARS = 80  # the answer must follow the phrase within this many characters
SPACELESS_CHARS_PER_WORD = 12  # longer "words" on average: a script written without spaces


class FormatReward(Reward):
    """1.0 if the response states a final answer in an expected form, else 0.0, minus penalties.

    Forms: "phrase" = the target language's localized "The answer is" (`pbrl.languages`, e.g.
    "Die Antwort ist", "答案是") followed by an answer on the same line; "boxed" = a non-empty
    `\\boxed{...}`. The English phrase does not count for a non-English target.

    Args:
        forms (list[str]): accepted forms, any of "phrase", "boxed" (default both).
        max_chars (int | None): responses longer than this lose `length_penalty`.
        length_penalty (float): subtracted once when the response exceeds `max_chars`.
        repetition_ngram (int): word n-gram size for the repetition penalty (0 = off).
        repetition_penalty (float): subtracted times the fraction of repeated n-grams.

    Returns None when the target language is missing or unknown (with "phrase" among the forms),
    or the response is empty.

    Example:
        >>> FormatReward()(completions=["5 + 6 = 11. Die Antwort ist 11.", "Also 11.", "\\\\boxed{11}"],
        ...                lang=["de", "de", "de"])
        [1.0, 0.0, 1.0]
    """

    name = "format"

    def __init__(
        self,
        forms: list[str] | tuple[str, ...] = FORMS,
        max_chars: int | None = None,
        length_penalty: float = 0.0,
        repetition_ngram: int = 0,
        repetition_penalty: float = 0.0,
        lang_column: str = "lang",
    ):
        super().__init__()
        if isinstance(forms, str) or not forms or any(f not in FORMS for f in forms):
            raise ValueError(f"forms must be a non-empty list drawn from: {', '.join(FORMS)}; got {forms!r}")
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be >= 1 or null, got {max_chars}")
        if length_penalty < 0 or repetition_penalty < 0:
            raise ValueError("length_penalty and repetition_penalty are amounts subtracted; give values >= 0")
        if repetition_ngram < 0:
            raise ValueError(f"repetition_ngram must be >= 0 (0 = off), got {repetition_ngram}")
        self.forms = list(forms)
        self.max_chars = max_chars
        self.length_penalty = float(length_penalty)
        self.repetition_ngram = int(repetition_ngram)
        self.repetition_penalty = float(repetition_penalty)
        self.lang_column = lang_column

    def has_answer(self, text: str, lang: str | None) -> bool:
        if "boxed" in self.forms:
            boxed = last_boxed(text)
            if boxed is not None and boxed.strip():
                return True
        if "phrase" in self.forms and lang in LANGUAGES:
            phrase = LANGUAGES[lang].answer_phrase.rstrip(" :：—-")
            pattern = r"\s*".join(re.escape(w) for w in phrase.split())
            for m in re.finditer(pattern, text, re.IGNORECASE):
                tail = text[m.end() : m.end() + PHRASE_WINDOW_CHARS].split("\n", 1)[0]
                if re.search(r"\w", tail):
                    return True
        return False

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        langs = column(columns, self.lang_column, len(texts))
        out: list[float | None] = []
        for text, lang in zip(texts, langs):
            needs_lang = "phrase" in self.forms
            if not text.strip() or (needs_lang and (not present(lang) or str(lang) not in LANGUAGES)):
                out.append(None)
                continue
            value = 1.0 if self.has_answer(text, str(lang) if present(lang) else None) else 0.0
            if self.max_chars is not None and len(text) > self.max_chars:
                value -= self.length_penalty
            if self.repetition_ngram and self.repetition_penalty:
                value -= self.repetition_penalty * repeated_fraction(text, self.repetition_ngram)
            out.append(value)
        return out


def repeated_fraction(text: str, n: int) -> float:
    """Fraction of word n-grams that repeat an earlier n-gram (0.0 for texts shorter than n words).

    Scripts without spaces (zh, ja, th) are split into characters so they are not one long "word".
    """
    words = text.split()
    if words and len(text) / len(words) > SPACELESS_CHARS_PER_WORD:
        words = [ch for ch in text if not ch.isspace()]
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)
