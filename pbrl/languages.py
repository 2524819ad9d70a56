"""Languages pbrl knows: script, and the localized phrases prompts and answer extraction use.

The MGSM phrases are the ones of the MGSM exemplars (google-research/url-nlp) and of
lm-evaluation-harness's native-CoT MGSM task, so pbrl's prompts and extraction match theirs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str
    answer_phrase: str  # localized "The answer is"
    question_prefix: str  # localized "Question:"
    answer_prefix: str  # localized "Step-by-Step Answer:"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "Latin", "The answer is", "Question:", "Step-by-Step Answer:"),
        Language("bn", "Bengali", "Bengali", "উত্তর হল", "প্রশ্ন:", "ধাপে ধাপে উত্তর:"),
        Language("de", "German", "Latin", "Die Antwort ist", "Frage:", "Schritt-für-Schritt-Antwort:"),
        Language("es", "Spanish", "Latin", "La respuesta es", "Pregunta:", "Respuesta paso a paso:"),
        Language("fr", "French", "Latin", "La réponse est", "Question :", "Réponse étape par étape :"),
        Language("ja", "Japanese", "Japanese", "答えは", "問題：", "ステップごとの答え："),
        Language("ru", "Russian", "Cyrillic", "Ответ —", "Задача:", "Пошаговое решение:"),
        Language("sw", "Swahili", "Latin", "Jibu ni", "Swali:", "Jibu la Hatua kwa Hatua:"),
        Language("te", "Telugu", "Telugu", "సమాధానం", "ప్రశ్న:", "దశలవారీగా సమాధానం:"),
        Language("th", "Thai", "Thai", "คำตอบคือ", "โจทย์:", "คำตอบทีละขั้นตอน:"),
        Language("zh", "Chinese", "Han", "答案是", "问题：", "逐步解答："),
        Language("ar", "Arabic", "Arabic", "الإجابة هي", "سؤال:", "الإجابة خطوة بخطوة:"),
        Language("id", "Indonesian", "Latin", "Jawabannya adalah", "Pertanyaan:", "Jawaban langkah demi langkah:"),
        Language("it", "Italian", "Latin", "La risposta è", "Domanda:", "Risposta passo dopo passo:"),
        Language("ko", "Korean", "Hangul", "답은", "질문:", "단계별 답변:"),
        Language("ms", "Malay", "Latin", "Jawapannya ialah", "Soalan:", "Jawapan langkah demi langkah:"),
        Language("pt", "Portuguese", "Latin", "A resposta é", "Pergunta:", "Resposta passo a passo:"),
        Language("vi", "Vietnamese", "Latin", "Câu trả lời là", "Câu hỏi:", "Trả lời từng bước:"),
        Language("hi", "Hindi", "Devanagari", "उत्तर है", "प्रश्न:", "चरण-दर-चरण उत्तर:"),
    ]
}

MGSM_LANGUAGES = ("en", "bn", "de", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


def check_languages(codes, available=None, dataset: str | None = None) -> list[str]:
    """Return `codes` as a list, or raise a one-line ValueError naming the first bad code."""
    codes = [str(c) for c in codes]
    for code in codes:
        if code not in LANGUAGES:
            raise ValueError(f"unknown language code '{code}'; known codes: {', '.join(sorted(LANGUAGES))}")
        if available is not None and code not in available:
            where = f"dataset '{dataset}'" if dataset else "this dataset"
            raise ValueError(
                f"language '{code}' ({LANGUAGES[code].name}) is not in {where}; "
                f"it has: {', '.join(sorted(available))} (set langs=... accordingly)"
            )
    return codes
