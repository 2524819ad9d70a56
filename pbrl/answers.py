"""Final-answer extraction, normalization and comparison: the one place pbrl decides what a model answered.

Extraction order (`extract_answer`): the last `\\boxed{...}`, else the first number after the last
localized "The answer is" phrase (every language in `pbrl.languages`), else the last number.
Numbers are read in any script: native digits (Bengali, Devanagari, Thai, Telugu, Arabic-Indic,
full-width, ...) become ASCII, thousands separators and currency signs go, `18.0` becomes `18`.

Example:
    >>> extract_answer("৫ + ৬ = ১১। উত্তর হল ১১।")
    '11'
    >>> answers_match(extract_answer("The answer is $2,125.00."), "2,125")
    True
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from pbrl.languages import LANGUAGES

# Phrases models use besides the canonical localized ones (MGSM's German exemplars use "lautet").
EXTRA_ANSWER_PHRASES = (
    "answer is",
    "final answer",
    "Die Antwort lautet",
    "Antwort:",
    "Respuesta:",
    "Réponse :",
    "Réponse:",
    "Ответ",
    "答案为",
    "答案：",
    "答案:",
    "最终答案",
    "答え：",
)
PHRASE_WINDOW_CHARS = 60  # a number must follow the phrase within this many characters
REL_TOL = 1e-6
ABS_TOL = 1e-6
CHOICE_LETTERS = "ABCDEFGHIJ"

# Same-length replacements only, so positions in the converted text match the original.
_CHAR_MAP = {
    "\u2212": "-",  # minus sign
    "\uff0d": "-",  # full-width hyphen-minus
    "\u2013": "-",  # en dash used as minus
    "\u066b": ".",  # Arabic decimal separator
    "\u066c": ",",  # Arabic thousands separator
    "\uff0e": ".",  # full-width full stop
}
_THIN_SPACES = "\u00a0\u202f\u2009"
_NUMBER_TOKEN = re.compile(
    rf"(?<![A-Za-z0-9])(?:-(?=\d))?(?:\d{{1,3}}(?: \d{{3}})+(?![\d,.{_THIN_SPACES}]?\d)|\d(?:[\d,.{_THIN_SPACES}]*\d)?)"
)
_LATEX_FRACTION = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$")
_PLAIN_FRACTION = re.compile(r"^(-?\d+)/(\d+)$")


def to_ascii_digits(text: str) -> str:
    """Replace every Unicode decimal digit by its ASCII digit and unify minus/decimal signs.

    The result has the same length as `text`, so match positions carry over.
    """
    out = []
    for ch in text:
        if ch in _CHAR_MAP:
            out.append(_CHAR_MAP[ch])
        elif not ch.isascii() and unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.digit(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _parse_number_token(token: str) -> Decimal | None:
    """Read one digit run with separators ('2,125', '1.234,5', '1 000', '3,5') as a Decimal."""
    negative = token.startswith("-")
    body = token.lstrip("-")
    for space in _THIN_SPACES:
        body = body.replace(space, " ")  # regular spaces only reach here as '276 000' groups
    if " " in body:
        groups = body.split(" ")
        if len(groups[0]) <= 3 and all(len(g) == 3 and g.isdigit() for g in groups[1:]):
            body = "".join(groups)
        else:
            body = groups[-1]
    has_comma, has_dot = "," in body, "." in body
    if has_comma and has_dot:
        decimal_sep = "," if body.rfind(",") > body.rfind(".") else "."
        thousands_sep = "." if decimal_sep == "," else ","
        int_part, _, frac_part = body.rpartition(decimal_sep)
        groups = int_part.split(thousands_sep)
        if len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]) or not frac_part.isdigit():
            return _parse_number_token(re.split(r"[.,]", body)[-1])
        body = "".join(groups) + "." + frac_part
    elif has_comma or has_dot:
        sep = "," if has_comma else "."
        groups = body.split(sep)
        is_thousands = len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
        if sep == "," and is_thousands:
            body = "".join(groups)
        elif sep == "." and is_thousands and (len(groups) > 2 or not groups[0].startswith("0")):
            # '1.125' is 1125 as German/Spanish/Indonesian write it; no MGSM, GSM8K or MSVAMP
            # answer has three decimals, and PolyMath's one ('-0.127') starts with 0.
            body = "".join(groups)
        elif len(groups) == 2:
            body = groups[0] + "." + groups[1]  # decimal point or decimal comma
        else:
            body = groups[-1]  # '1,2,3' or '1.2.3': a list, not one number
    try:
        value = Decimal(body)
    except InvalidOperation:
        return None
    return -value if negative else value


def format_number(value: Decimal | float | Fraction) -> str:
    """Canonical text of a number: '18' for 18.0, '0.5', '-3', '1/3' for non-terminating fractions."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        den = value.denominator
        for factor in (2, 5):
            while den % factor == 0:
                den //= factor
        if den != 1:  # non-terminating decimal: keep it exact
            return f"{value.numerator}/{value.denominator}"
        value = Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if value == value.to_integral_value():
        return str(int(value))
    text = format(value.normalize(), "f")
    return text


def _strip_latex(text: str) -> str:
    s = text.strip()
    s = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\^\{?\\circ\}?|\\left|\\right|\\!|\\,|\\;|\\ ", "", s)
    s = s.replace("\\%", "%").replace("\\$", "$")
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    while len(s) >= 2 and s[0] == "$" and s[-1] == "$" and s.count("$") % 2 == 0:
        s = s[1:-1].strip()
    boxed = last_boxed(s)
    if boxed is not None and s.startswith(("\\boxed", "\\fbox")):
        s = boxed.strip()
    return s


def normalize_answer(text: str | int | float | None) -> str:
    """Canonical form of a gold or predicted answer; '' for empty.

    Numbers (any digits, separators, currency, '%', trailing '.0') become canonical numbers;
    simple fractions become 'p/q' (or a number when exact); anything else (LaTeX expressions,
    choice letters) is stripped of math delimiters and whitespace.

    Example:
        >>> normalize_answer("$1,234.50"), normalize_answer("8.0"), normalize_answer("$\\\\frac{4}{8}$")
        ('1234.5', '8', '0.5')
    """
    if text is None:
        return ""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return format_number(Decimal(repr(text)) if isinstance(text, float) else Decimal(text))
    s = _strip_latex(to_ascii_digits(str(text)))
    plain = "".join(ch for ch in s if unicodedata.category(ch) != "Sc").strip()
    plain = re.sub(r"[%。.]+$", "", plain).strip()
    if _NUMBER_TOKEN.fullmatch(plain):
        value = _parse_number_token(plain)
        if value is not None:
            return format_number(value)
    fraction = _LATEX_FRACTION.match(plain) or _PLAIN_FRACTION.match(plain)
    if fraction:
        groups = fraction.groups()
        sign = -1 if len(groups) == 3 and groups[0] == "-" else 1
        num, den = int(groups[-2]), int(groups[-1])
        if den != 0:
            return format_number(sign * Fraction(num, den))
    return re.sub(r"\s+", "", s)


def to_number(answer: str) -> Fraction | None:
    """The numeric value of a normalized answer, or None if it is not a plain number or fraction."""
    if not answer:
        return None
    try:
        return Fraction(answer)
    except (ValueError, ZeroDivisionError):
        return None


def answers_match(pred: str | None, gold: str | None) -> bool:
    """True if `pred` equals `gold`: numerically within a small tolerance, else as normalized text."""
    if pred is None or gold is None:
        return False
    pred_norm, gold_norm = normalize_answer(pred), normalize_answer(gold)
    if not pred_norm or not gold_norm:
        return False
    pred_num, gold_num = to_number(pred_norm), to_number(gold_norm)
    if pred_num is not None and gold_num is not None:
        return math.isclose(float(pred_num), float(gold_num), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return pred_norm.casefold() == gold_norm.casefold()


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), braces balanced; None if absent."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def _phrase_pattern() -> re.Pattern:
    phrases = {lang.answer_phrase for lang in LANGUAGES.values()} | set(EXTRA_ANSWER_PHRASES)
    # Longest first so 'Die Antwort lautet' wins over shorter overlaps; trailing punctuation optional.
    parts = []
    for phrase in sorted(phrases, key=len, reverse=True):
        core = phrase.rstrip(" :：—-")
        parts.append(r"\s+".join(re.escape(word) for word in core.split()))
    return re.compile("(?:" + "|".join(parts) + r")(?:\s*[:：—–]|\s*-(?!\d))?", re.IGNORECASE)


_PHRASE = _phrase_pattern()
# Prompt prefixes such as Telugu "దశలవారీగా సమాధానం:" contain an answer phrase; hide them first.
_PREFIXES = re.compile(
    "|".join(re.escape(p) for p in sorted({lang.answer_prefix for lang in LANGUAGES.values()}, key=len, reverse=True))
)


def _numbers(text: str) -> list[re.Match]:
    return list(_NUMBER_TOKEN.finditer(text))


def extract_answer(text: str | None) -> str | None:
    """The model's final answer in normalized form, or None if the text holds no answer.

    Example:
        >>> extract_answer("5 + 6 = 11. Die Antwort lautet 11.")
        '11'
    """
    if not text:
        return None
    ascii_text = to_ascii_digits(text)
    boxed = last_boxed(ascii_text)
    if boxed is not None and boxed.strip():
        normalized = normalize_answer(boxed)
        if to_number(normalized) is None:
            numbers = _numbers(boxed)
            if len(numbers) == 1 and not re.search(r"[-+*/^_=\\]", _strip_latex(boxed)):
                normalized = normalize_answer(numbers[0].group())  # '18 \text{ dollars}'
        return normalized or None
    searchable = _PREFIXES.sub(lambda m: " " * len(m.group()), ascii_text)
    phrase_matches = list(_PHRASE.finditer(searchable))
    if phrase_matches:
        tail = searchable[phrase_matches[-1].end() :][:PHRASE_WINDOW_CHARS]
        fraction = re.match(r"\s*\$?\s*(\\[dt]?frac\{-?\d+\}\{\d+\}|-?\d+/\d+)(?!\d|[.,]\d)", tail)
        if fraction:
            return normalize_answer(fraction.group(1))
        numbers = _numbers(tail)
        if numbers:
            return normalize_answer(numbers[0].group())
    numbers = _numbers(ascii_text)
    if not numbers:
        return None
    value = _parse_number_token(numbers[-1].group())
    return format_number(value) if value is not None else None


def extract_choice(text: str | None, num_choices: int = 10) -> str | None:
    """The multiple-choice letter (A..J for MMLU-ProX) a response picked, or None.

    Order: `\\boxed{X}`, then the letter after the last "answer is" phrase, then the last '(X)'.

    Example:
        >>> extract_choice("... so the answer is (C).")
        'C'
    """
    if not text:
        return None
    letters = CHOICE_LETTERS[:num_choices]
    boxed = last_boxed(text)
    if boxed is not None:
        m = re.fullmatch(rf"\s*(?:\\text\{{)?\(?([{letters}])\)?\}}?\s*", boxed)
        if m:
            return m.group(1)
    searchable = _PREFIXES.sub(lambda m: " " * len(m.group()), text)
    phrase_matches = list(_PHRASE.finditer(searchable))
    if phrase_matches:
        tail = searchable[phrase_matches[-1].end() :][:PHRASE_WINDOW_CHARS]
        m = re.match(rf"[\s*:：(\[（]*(?:option\s+)?([{letters}])(?![A-Za-z])", tail, re.IGNORECASE)
        if m and m.group(1).upper() in letters:
            return m.group(1).upper()
    parenthesized = re.findall(rf"[(（]([{letters}])[)）]", text)
    return parenthesized[-1] if parenthesized else None
