"""Language identification of model responses (py3langid), restricted to the languages pbrl knows.

Math is noise to a language identifier: numbers, LaTeX and formulas are removed before
identification, and a response with no letters left is "" (unknown), never a guess.

Example:
    >>> detect_language("Roger hat 5 Tennisbälle. Die Antwort ist 11.")
    'de'
"""

from __future__ import annotations

import re
from functools import lru_cache

from pbrl.languages import LANGUAGES

UNKNOWN = ""
_LATEX_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_NON_LETTERS = re.compile(r"[\W\d_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？।])\s*|\n+")
_KANA = re.compile(r"[\u3040-\u30ff]")


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(LANGUAGES))
    return identifier


def strip_math(text: str) -> str:
    """Text without LaTeX math, commands, digits and symbols: what is left is prose."""
    text = _LATEX_MATH.sub(" ", text)
    text = _LATEX_COMMAND.sub(" ", text)
    return " ".join(_NON_LETTERS.sub(" ", text).split())


def detect_language(text: str | None) -> str:
    """ISO code (a key of `pbrl.languages.LANGUAGES`) of the prose in `text`; "" if there is none."""
    prose = strip_math(text or "")
    if not prose:
        return UNKNOWN
    # langid.py often calls kanji-heavy Japanese Chinese; kana settle it.
    if _KANA.search(prose):
        return "ja"
    lang, _ = _identifier().classify(prose)
    return lang


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text or "") if s and s.strip()]


def language_fraction(text: str | None, lang: str) -> float:
    """Fraction of the sentences with prose in `text` that are in `lang` (0.0 if none has prose).

    Example:
        >>> language_fraction("Roger has 5 balls. Die Antwort ist 11.", "de")
        0.5
    """
    detected = [detect_language(s) for s in split_sentences(text or "")]
    detected = [d for d in detected if d != UNKNOWN]
    if not detected:
        return 0.0
    return sum(d == lang for d in detected) / len(detected)
