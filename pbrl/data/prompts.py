"""Prompts in the question's language, in the format of lm-evaluation-harness's MGSM native CoT.

A prompt is `<Question:> <question>\\n<Step-by-Step Answer:>` with the localized prefixes of
`pbrl.languages`; few-shot exemplars come first, with answers that end in the localized "The answer
is N", which `pbrl.answers` extracts. Two styles (`data.prompt_style`):
- `chat`: exemplars as user/assistant turns, rendered by the tokenizer's chat template;
- `plain`: one text, exemplar blocks separated by a blank line, the question last (what a base or small
  model continues best: SmolLM2-135M answers 11 % of non-English one-step problems three-shot in plain
  text vs 8 % as chat turns and 2 % zero-shot chat).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pbrl.answers import CHOICE_LETTERS
from pbrl.config import PROMPT_STYLES
from pbrl.data.example import Example
from pbrl.data.files import require_file
from pbrl.data.hub import load_hub_rows
from pbrl.languages import LANGUAGES, MGSM_LANGUAGES

EXEMPLARS_HUB_ID = "juletxara/mgsm"  # its train split holds the same 8 exemplars per language
MAX_EXEMPLARS = 8


def _join(prefix: str, text: str) -> str:
    return f"{prefix}{text}" if prefix.endswith("：") else f"{prefix} {text}"  # CJK colon takes no space


def _strip_prefix(text: str, prefix: str) -> str:
    text = text.strip()
    return text[len(prefix) :].strip() if text.startswith(prefix) else text


def question_text(example: Example) -> str:
    """The user turn: localized question prefix, question, options (multiple choice), answer prefix."""
    lang = LANGUAGES[example.lang]
    body = example.question
    if example.choices:
        body += "\n" + "\n".join(f"{CHOICE_LETTERS[i]}. {c}" for i, c in enumerate(example.choices))
    return _join(lang.question_prefix, body) + "\n" + lang.answer_prefix


def build_prompt(
    example: Example, few_shot_exemplars: list[dict] | None = None, style: str = "chat"
) -> list[dict] | str:
    """Chat messages (or, `style="plain"`, one string) for `example`; exemplars are dicts
    {question, solution} in the same language.

    Example:
        >>> build_prompt(Example("mgsm-0", "de", "Wie viel ist 2+2?", "What is 2+2?", "4"))
        [{'role': 'user', 'content': 'Frage: Wie viel ist 2+2?\\nSchritt-für-Schritt-Antwort:'}]
        >>> build_prompt(Example("x", "de", "Wie viel ist 2+2?", "", "4"),
        ...              [{"question": "Wie viel ist 1+1?", "solution": "1 + 1 = 2. Die Antwort ist 2."}], "plain")
        'Frage: Wie viel ist 1+1?\\nSchritt-für-Schritt-Antwort: 1 + 1 = 2. Die Antwort ist 2.\\n\\nFrage: Wie viel ist 2+2?\\nSchritt-für-Schritt-Antwort:'
    """
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style '{style}'; choose one of: {', '.join(PROMPT_STYLES)}")
    if example.lang not in LANGUAGES:
        raise ValueError(
            f"unknown language code '{example.lang}' in example {example.id}; known: {', '.join(sorted(LANGUAGES))}"
        )
    lang = LANGUAGES[example.lang]
    if style == "plain":
        blocks = [
            _join(lang.question_prefix, shot["question"]) + "\n" + _join(lang.answer_prefix, shot["solution"])
            for shot in few_shot_exemplars or []
        ]
        return "\n\n".join([*blocks, question_text(example)])
    messages = []
    for shot in few_shot_exemplars or []:
        messages.append(
            {"role": "user", "content": _join(lang.question_prefix, shot["question"]) + "\n" + lang.answer_prefix}
        )
        messages.append({"role": "assistant", "content": shot["solution"]})
    messages.append({"role": "user", "content": question_text(example)})
    return messages


def load_exemplars(lang: str, n: int, data_root: str | Path | None, hub_id: str = EXEMPLARS_HUB_ID) -> list[dict]:
    """The first `n` MGSM chain-of-thought exemplars in `lang` as {question, solution, answer}."""
    if n <= 0:
        return []
    if n > MAX_EXEMPLARS:
        raise ValueError(
            f"few_shot={n} is more than the {MAX_EXEMPLARS} MGSM exemplars; set few_shot <= {MAX_EXEMPLARS}"
        )
    if lang not in MGSM_LANGUAGES:
        raise ValueError(
            f"no few-shot exemplars in language '{lang}' (MGSM has: {', '.join(MGSM_LANGUAGES)}); set few_shot=0"
        )
    language = LANGUAGES[lang]
    if data_root is None:
        rows = [
            {"q": row["question"], "a": row["answer"], "answer_number": row["answer_number"]}
            for row in load_hub_rows(hub_id, lang, "train")
        ]
    else:
        path = require_file(Path(data_root) / "mgsm" / "mgsm_exemplars.json", "mgsm")
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))[lang]
        except (json.JSONDecodeError, KeyError) as err:
            raise ValueError(
                f"corrupt mgsm exemplar file {path} ({type(err).__name__}: {err}); re-download it"
            ) from None
    return [
        {
            "question": _strip_prefix(row["q"], language.question_prefix),
            "solution": _strip_prefix(row["a"], language.answer_prefix),
            "answer": str(row["answer_number"]),
        }
        for row in rows[:n]
    ]


def dataset_exemplars(dataset: str, lang: str, n: int, data_root: str | Path | None) -> list[dict]:
    """`n` worked exemplars in `lang` for prompts on `dataset`: the generator's own `shots` split for
    `wordproblems` (one-line solutions, like its problems), MGSM's chain-of-thought exemplars otherwise."""
    if n <= 0:
        return []
    if dataset == "wordproblems":
        from pbrl.data.wordproblems import wordproblem_exemplars

        return wordproblem_exemplars(lang, n)
    return load_exemplars(lang, n, data_root)


@dataclass(frozen=True)
class Prompter:
    """A run's task prompt, the same for its training rows and its evaluation.

    Example:
        >>> Prompter("plain")(Example("x", "de", "Wie viel ist 2+2?", "", "4"))
        'Frage: Wie viel ist 2+2?\\nSchritt-für-Schritt-Antwort:'
    """

    style: str = "chat"
    exemplars: dict[str, list[dict]] = field(default_factory=dict)  # lang -> few-shot exemplars

    def __call__(self, example: Example) -> list[dict] | str:
        return build_prompt(example, self.exemplars.get(example.lang), self.style)


def make_prompter(style: str, few_shot: int, dataset: str, langs, data_root: str | Path | None) -> Prompter:
    """The prompter of a run: `few_shot` exemplars of `dataset` in each of `langs`."""
    exemplars = {lang: dataset_exemplars(dataset, lang, few_shot, data_root) for lang in dict.fromkeys(langs)}
    return Prompter(style, {lang: shots for lang, shots in exemplars.items() if shots})
