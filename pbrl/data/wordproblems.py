"""Grade-school word problems generated from templates written for pbrl in 9 languages.

A problem is a template (pbrl/data/wordproblems/spec.yaml: level, number ranges, arithmetic steps),
its numbers and a first name; it reads the same in every language (parallel, like MGSM), from the
wording in pbrl/data/wordproblems/<lang>.yaml. Answers are exact integers; one-step problems take one
+, -, * or / (exact division), two-step problems two. Two number scales: `standard` (answers up to
100 and 200) and `small` (every number at most 20, answers up to 20 and 50), for small models.
The splits `train`, `dev`, `test` and `shots` (few-shot exemplars) are disjoint by (template,
numbers): a hash of that key, salted with the seed, decides which split a problem may belong to, so
each split is stable whatever the others' sizes.

Example:
    >>> example = load(["de"], "test", size=1)[0]
    >>> example.id, example.answer, example.question
    ('wp-test-00000', '63', 'Marie hat 53 Äpfel und kauft noch 10 Äpfel dazu. Wie viele Äpfel hat Marie jetzt?')
    >>> example_solution(example.id, "de")
    '53 + 10 = 63. Die Antwort ist 63.'
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
import itertools
import math
import operator
from functools import lru_cache
from importlib.resources import files

import yaml

from pbrl.data.example import Example

NAME = "wordproblems"
LANGUAGES = ("en", "de", "fr", "es", "ru", "zh", "ja", "sw", "bn")
LEVELS = ("one-step", "two-step")
# Percent of the (template, numbers) hash space each split draws from.
SPLIT_SHARES = {"test": 15, "dev": 15, "shots": 5, "train": 65}
SPLITS = tuple(SPLIT_SHARES)
DEFAULT_SIZES = {"train": 2000, "dev": 400, "test": 400, "shots": 24}
DEFAULT_SEED = 0
DEFAULT_SCALE = "standard"
MAX_DRAWS = 5000  # failed draws in a row after which a template counts as used up in a split
OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.floordiv}  # "/" only if exact
ENUMERATE_LIMIT = 20_000  # templates with at most this many number tuples are enumerated, larger ones sampled
_PLACEHOLDER = re.compile(r"\{(\w+)(?:\.(\w+))?((?:\|[^{}|]*)*)\}")
_ID = re.compile(r"^wp-(?:(\w+)-)?(\w+)-(\d+)$")


@dataclass(frozen=True)
class Template:
    id: str
    level: str
    slots: tuple[tuple[str, int, int], ...]  # (slot, low, high), inclusive
    steps: tuple[tuple[str, str, str], ...]  # (left, op, right); operands are slots or s1, s2, ...


@dataclass(frozen=True)
class Scale:
    max_operand: int | None  # largest number in a question (None: the template's ranges)
    max_answer: dict[str, int]  # largest answer per level


@dataclass(frozen=True)
class Spec:
    templates: dict[str, Template]  # in file order
    min_result: int  # least result of any step
    scales: dict[str, Scale]


@dataclass(frozen=True)
class Problem:
    """One problem: a template, its numbers and the index of the first name (same in every language)."""

    template: str
    numbers: tuple[tuple[str, int], ...]
    name_index: int

    @property
    def key(self) -> str:
        """What makes two problems the same (the name does not)."""
        return self.template + ":" + ",".join(str(value) for _, value in self.numbers)


@dataclass(frozen=True)
class Wording:
    """One language's file: first names (with case forms), solution format, template texts."""

    lang: str
    names: tuple[dict[str, str], ...]
    solution: dict[str, str]
    templates: dict[str, str]


def _package_file(name: str) -> str:
    return (files("pbrl.data") / "wordproblems" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_spec() -> Spec:
    """spec.yaml: the templates, the least step result and the number scales."""
    raw = yaml.safe_load(_package_file("spec.yaml"))
    templates = {}
    for template_id, entry in raw["templates"].items():
        steps = tuple(tuple(step.split()) for step in entry["steps"])
        if entry["level"] not in LEVELS or any(len(s) != 3 or s[1] not in OPERATIONS for s in steps):
            raise ValueError(f"bad template '{template_id}' in wordproblems/spec.yaml")
        slots = tuple((slot, int(low), int(high)) for slot, (low, high) in entry["slots"].items())
        templates[template_id] = Template(template_id, entry["level"], slots, steps)
    scales = {
        name: Scale(entry["max_operand"], {level: int(v) for level, v in entry["max_answer"].items()})
        for name, entry in raw["scales"].items()
    }
    return Spec(templates, int(raw["min_result"]), scales)


@lru_cache(maxsize=None)
def load_wording(lang: str) -> Wording:
    """The wording of every template in `lang` (pbrl/data/wordproblems/<lang>.yaml)."""
    check_language(lang)
    raw = yaml.safe_load(_package_file(f"{lang}.yaml"))
    names = tuple(name if isinstance(name, dict) else {"nom": name} for name in raw["names"])
    templates = dict(raw["templates"])
    missing = set(load_spec().templates) ^ set(templates)
    if missing:
        raise ValueError(f"wordproblems/{lang}.yaml and spec.yaml differ in templates {sorted(missing)}")
    return Wording(lang, names, dict(raw["solution"]), templates)


def check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language '{lang}' for dataset '{NAME}'; choose from: {', '.join(sorted(LANGUAGES))}")


def solve(template: Template, numbers: dict[str, int], scale: str = DEFAULT_SCALE) -> list[tuple] | None:
    """The steps (left, op, right, result) of `template` on `numbers`; None if they break the spec.

    They break it when a result is not an integer or is below the spec's `min_result`, or when the
    answer is above the scale's `max_answer` for the template's level.
    """
    spec = load_spec()
    min_result, max_answer = spec.min_result, check_scale(scale).max_answer
    values = dict(numbers)
    steps = []
    for index, (left, op, right) in enumerate(template.steps, start=1):
        x, y = values[left], values[right]
        if op == "/" and x % y:
            return None
        result = OPERATIONS[op](x, y)
        if result < min_result:
            return None
        steps.append((x, op, y, result))
        values[f"s{index}"] = result
    return steps if steps[-1][3] <= max_answer[template.level] else None


def plural_form(lang: str, number: int, forms: list[str]) -> str:
    """The noun form that agrees with `number` (CLDR cardinal plural categories, integers only).

    Example:
        >>> plural_form("ru", 22, ["яблоко", "яблока", "яблок"])
        'яблока'
    """
    if lang == "ru" and len(forms) == 3:
        if number % 10 == 1 and number % 100 != 11:
            return forms[0]
        if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
            return forms[1]
        return forms[2]
    if lang == "fr":
        return forms[0] if number in (0, 1) else forms[-1]
    return forms[0] if number == 1 else forms[-1]


def render(text: str, lang: str, numbers: dict[str, int], name: dict[str, str]) -> str:
    """Fill `{a}`, `{a|one|few|many}` (noun form for a), `{name}` and `{name.gen}` in `text`."""

    def fill(match: re.Match) -> str:
        slot, case, forms = match.group(1), match.group(2), match.group(3)
        if slot == "name":
            form = case or "nom"
            if form not in name:
                raise ValueError(f"wordproblems/{lang}.yaml: a name has no '{form}' form")
            return name[form]
        if slot not in numbers or case:
            raise ValueError(f"wordproblems/{lang}.yaml: unknown placeholder '{match.group(0)}'")
        if forms:
            return plural_form(lang, numbers[slot], forms[1:].split("|"))
        return str(numbers[slot])

    return _PLACEHOLDER.sub(fill, text)


def question(problem: Problem, lang: str) -> str:
    wording = load_wording(lang)
    name = wording.names[problem.name_index % len(wording.names)]
    return render(wording.templates[problem.template], lang, dict(problem.numbers), name)


def solution(problem: Problem, lang: str) -> str:
    """The worked solution in `lang`: '12 * 3 = 36. 36 + 5 = 41. The answer is 41.'

    The steps come from the spec, not from the language files, so every language has the same
    arithmetic; only the sentence ends and the localized answer sentence differ.
    """
    fmt = load_wording(lang).solution
    steps = solve(load_spec().templates[problem.template], dict(problem.numbers))
    if steps is None:
        raise ValueError(f"problem {problem.key} breaks wordproblems/spec.yaml")
    parts = [f"{left} {op} {right} = {result}{fmt['step_end']}" for left, op, right, result in steps]
    parts.append(fmt["answer"].format(answer=steps[-1][3]))
    return fmt["join"].join(parts)


def answer(problem: Problem) -> int:
    return solve(load_spec().templates[problem.template], dict(problem.numbers))[-1][3]


def split_of(key: str, seed: int) -> str:
    """The split a problem key belongs to under `seed` (a salted hash, so stable across runs)."""
    point = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) % 100
    for split, share in SPLIT_SHARES.items():
        if point < share:
            return split
        point -= share
    raise AssertionError("SPLIT_SHARES must sum to 100")


def _interleaved(templates: list[Template]) -> list[Template]:
    """Templates in an order that alternates operations: +, -, two-step, *, /, +, -, two-step, ..."""
    groups: dict[str, list[Template]] = {}
    for template in templates:
        kind = template.steps[0][1] if template.level == "one-step" else "two-step"
        groups.setdefault(kind, []).append(template)
    order = [groups[kind] for kind in ("+", "-", "two-step", "*", "/") if kind in groups]
    out = []
    for index in range(max((len(group) for group in order), default=0)):
        out += [group[index] for group in order if index < len(group)]
    return out


@lru_cache(maxsize=32)
def generate(
    split: str,
    size: int,
    seed: int = DEFAULT_SEED,
    levels: tuple[str, ...] = LEVELS,
    scale: str = DEFAULT_SCALE,
) -> tuple[Problem, ...]:
    """`size` distinct problems of `split` at `levels` and `scale`, templates in turn; deterministic in `seed`.

    A problem's split does not depend on `scale`: the `small` problems of a split are some of its
    `standard` ones, so splits stay disjoint across scales too.

    Example:
        >>> [p.template for p in generate("shots", 3)]
        ['add_apples', 'sub_cookies', 'marbles']
    """
    if split not in SPLIT_SHARES:
        raise ValueError(f"unknown wordproblems split '{split}'; choose from: {', '.join(SPLITS)}")
    bad = [level for level in levels if level not in LEVELS]
    if bad or not levels:
        raise ValueError(f"unknown wordproblems level(s) {bad or levels}; choose from: {', '.join(LEVELS)}")
    check_scale(scale)
    templates = _interleaved([t for t in load_spec().templates.values() if t.level in levels])
    streams = {t.id: _candidates(t, split, seed, scale) for t in templates}
    n_names = min(len(load_wording(lang).names) for lang in LANGUAGES)
    rng = random.Random(f"{seed}:{split}")
    problems: list[Problem] = []
    while len(problems) < size:
        if not templates:
            raise ValueError(
                f"wordproblems split '{split}' holds only {len(problems)} problems at levels {list(levels)} "
                f"and scale '{scale}'; ask for at most that many"
            )
        template = templates[len(problems) % len(templates)]
        numbers = next(streams[template.id], None)
        if numbers is None:
            templates = [t for t in templates if t is not template]
            continue
        problems.append(Problem(template.id, numbers, rng.randrange(n_names)))
    return tuple(problems)


def _ranges(template: Template, scale: str) -> list[tuple[str, int, int]]:
    cap = check_scale(scale).max_operand
    return [(slot, low, high if cap is None else min(high, cap)) for slot, low, high in template.slots]


@lru_cache(maxsize=256)
def _enumerated(template: Template, seed: int, scale: str) -> dict[str, list[tuple[tuple[str, int], ...]]]:
    """Every valid number tuple of a small template at `scale`, by split, in enumeration order."""
    ranges = _ranges(template, scale)
    slots = [slot for slot, _, _ in ranges]
    by_split: dict[str, list] = {split: [] for split in SPLIT_SHARES}
    for values in itertools.product(*(range(low, high + 1) for _, low, high in ranges)):
        numbers = tuple(zip(slots, values))
        if solve(template, dict(numbers), scale) is not None:
            by_split[split_of(Problem(template.id, numbers, 0).key, seed)].append(numbers)
    return by_split


def _candidates(template: Template, split: str, seed: int, scale: str):
    """Distinct valid number tuples of `template` in `split`, in random order, until none is left.

    A template with few tuples is enumerated and shuffled, so it ends exactly when used up; a large
    one is sampled (it cannot run out at the sizes asked for) and ends after MAX_DRAWS failed draws.
    """
    rng = random.Random(f"{seed}:{split}:{template.id}")
    ranges = _ranges(template, scale)
    if any(low > high for _, low, high in ranges):
        return
    if math.prod(high - low + 1 for _, low, high in ranges) <= ENUMERATE_LIMIT:
        pool = list(_enumerated(template, seed, scale)[split])
        rng.shuffle(pool)
        yield from pool
        return
    used: set[tuple] = set()
    failures = 0
    while failures < MAX_DRAWS:
        numbers = tuple((slot, rng.randint(low, high)) for slot, low, high in ranges)
        key = Problem(template.id, numbers, 0).key
        if numbers in used or split_of(key, seed) != split or solve(template, dict(numbers), scale) is None:
            failures += 1
            continue
        failures = 0
        used.add(numbers)
        yield numbers


def check_scale(scale: str) -> Scale:
    scales = load_spec().scales
    if scale not in scales:
        raise ValueError(f"unknown wordproblems number scale '{scale}'; choose from: {', '.join(scales)}")
    return scales[scale]


def problem_id(split: str, index: int, scale: str = DEFAULT_SCALE) -> str:
    """'wp-test-00007'; other scales than the default name theirs: 'wp-small-test-00007'."""
    return f"wp-{split}-{index:05d}" if scale == DEFAULT_SCALE else f"wp-{scale}-{split}-{index:05d}"


def load(
    langs: list[str],
    split: str = "test",
    size: int | None = None,
    seed: int = DEFAULT_SEED,
    levels: list[str] | tuple[str, ...] | None = None,
    scale: str = DEFAULT_SCALE,
) -> list[Example]:
    """The problems of `split` (`size`, default DEFAULT_SIZES[split]) in each of `langs`, language by language."""
    for lang in langs:
        check_language(lang)
    size = DEFAULT_SIZES.get(split, 0) if size is None else int(size)
    problems = generate(split, size, seed, tuple(levels or LEVELS), scale)
    templates = load_spec().templates
    return [
        Example(
            id=problem_id(split, index, scale),
            lang=lang,
            question=question(problem, lang),
            question_en=question(problem, "en"),
            answer=str(answer(problem)),
            solution_en=solution(problem, "en"),
            level=templates[problem.template].level,
        )
        for lang in langs
        for index, problem in enumerate(problems)
    ]


def example_solution(example_id: str, lang: str, seed: int = DEFAULT_SEED) -> str:
    """The worked solution in `lang` of the problem with id `example_id` (as `load` numbers them)."""
    match = _ID.match(example_id)
    scale, split = (match.group(1) or DEFAULT_SCALE, match.group(2)) if match else ("", "")
    if split not in SPLIT_SHARES or scale not in load_spec().scales:
        raise ValueError(f"'{example_id}' is not a wordproblems id (wp-[<scale>-]<split>-<index>)")
    index = int(match.group(3))
    problems = generate(split, max(DEFAULT_SIZES[split], index + 1), seed, LEVELS, scale)
    return solution(problems[index], lang)


def wordproblem_exemplars(lang: str, k: int, seed: int = DEFAULT_SEED, scale: str = DEFAULT_SCALE) -> list[dict]:
    """`k` worked examples in `lang` from the `shots` split as {question, solution, answer}.

    The same problems in every language, alternating operations (+, -, two-step, *, /, ...), in the
    shape of `pbrl.data.prompts.load_exemplars`.

    Example:
        >>> wordproblem_exemplars("en", 1)[0]["solution"]
        '50 + 32 = 82. The answer is 82.'
    """
    check_language(lang)
    if k < 0:
        raise ValueError(f"few_shot={k} must be >= 0")
    return [
        {"question": question(p, lang), "solution": solution(p, lang), "answer": str(answer(p))}
        for p in generate("shots", k, seed, LEVELS, scale)
    ]
