"""The one argument style of every pbrl CLI: `key=value`, as `python -m pbrl.run` (Hydra).

A CLI declares its own keys (with their defaults) and whether the other `key=value` arguments are
Hydra overrides of the project config; `parse_argv` splits the two, prints `--help` (a usage line,
the defaults and the module docstring's two examples; exit 0), and refuses the old `--flag` forms
in one line naming the new one (exit 2).

    >>> SCORE = CliSpec("python -m pbrl.score", "Score saved predictions.", {"input": ("PRED.jsonl", None)},
    ...                 examples=("python -m pbrl.score input=p.jsonl output=s.jsonl",), old_flags={"--input": "input"})
    >>> parse_argv(SCORE, ["input=p.jsonl"])
    ({'input': 'p.jsonl'}, [])
    >>> parse_argv(SCORE, ["--input", "p.jsonl"])
    pbrl: error: --input is the old argument style; write key=value: python -m pbrl.score input=p.jsonl
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from pbrl.cli.errors import fail


@dataclass(frozen=True)
class CliSpec:
    prog: str  # "python -m pbrl.score"
    summary: str
    # key -> (what it is, default); default None = required (or, with `optional`, unset)
    own: dict[str, tuple[str, str | None]]
    examples: tuple[str, ...] = ()
    overrides: str = ""  # what the other key=value arguments are (empty: there are none)
    optional: tuple[str, ...] = ()  # own keys that may stay unset
    # "--num-samples" -> "pivot.num_samples"; a switch maps to its whole new form: "--wandb-report" -> "wandb_report=true"
    old_flags: dict[str, str] = field(default_factory=dict)


def examples_from(doc: str | None) -> tuple[str, ...]:
    """The `python -m ...` example lines of a module docstring (one source for docstring and --help)."""
    return tuple(line.strip() for line in (doc or "").splitlines() if line.strip().startswith("python -m "))


def help_text(spec: CliSpec, defaults: str = "") -> str:
    keys = " ".join(f"{k}=..." if k not in spec.optional and spec.own[k][1] is None else f"[{k}=...]"
                    for k in spec.own)
    lines = [f"usage: {spec.prog} {keys}" + (" [override ...]" if spec.overrides else ""), "", spec.summary, "",
             "arguments (key=value; default in brackets):"]
    for key, (what, default) in spec.own.items():
        shown = "required" if default is None and key not in spec.optional else f"default: {default or 'unset'}"
        lines.append(f"  {key + '=':<14}{what} [{shown}]")
    if spec.overrides:
        lines += ["", f"other key=value arguments: {spec.overrides}"]
    if defaults:
        lines += [defaults]
    if spec.examples:
        lines += ["", "examples:", *(f"  {e}" for e in spec.examples)]
    return "\n".join(lines)


def old_style_message(spec: CliSpec, argv: list[str]) -> str:
    """The one-line refusal of `--flag` arguments, with the whole command rewritten in key=value."""
    new, flags, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        flag, sep, value = arg.partition("=")
        if not arg.startswith("-"):
            new.append(arg)
        elif flag not in spec.old_flags:
            return f"unknown argument {flag}; arguments are key=value (`{spec.prog} --help`)"
        elif "=" in spec.old_flags[flag]:  # a switch: "--wandb-report" -> "wandb_report=true"
            flags.append(flag)
            new.append(spec.old_flags[flag])
        else:
            if not sep and i + 1 < len(argv) and _is_value(spec, argv[i + 1]):
                i += 1
                value = argv[i]
            flags.append(flag)
            new.append(f"{spec.old_flags[flag]}={value or '...'}")
        i += 1
    return (f"{', '.join(flags)} {'is' if len(flags) == 1 else 'are'} the old argument style; write key=value: "
            f"{spec.prog} {' '.join(new)}")


def _is_value(spec: CliSpec, arg: str) -> bool:
    """Whether the argument after an old `--flag` is its value: not a flag, not one of the command's
    own `key=` arguments, and not a Hydra override (a value may hold '=': baseline=reward=accuracy)."""
    key, sep, _ = arg.partition("=")
    return not arg.startswith("-") and not (sep and (key in spec.own or spec.overrides))


def parse_argv(spec: CliSpec, argv: list[str] | None, defaults=None) -> tuple[dict[str, str], list[str]]:
    """(own `key=value` arguments, the rest as Hydra overrides). `--help`/`-h` prints the help (with
    `defaults()`, a callable returning text, for the config defaults) and exits 0; an old `--flag`
    or a stray argument exits 2 in one `pbrl: error:` line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(spec, defaults() if defaults else ""))
        sys.exit(0)
    if any(a.startswith("-") for a in argv):
        fail(old_style_message(spec, argv))
    own, overrides = {}, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in spec.own:
            own[key] = value
        elif spec.overrides:
            overrides.append(arg)
        else:
            fail(f"unknown argument {arg}; this CLI takes {', '.join(k + '=' for k in spec.own)} "
                 f"(`{spec.prog} --help`)")
    for key, (_, default) in spec.own.items():
        if key not in own:
            if default is None and key not in spec.optional:
                fail(f"{key}= is missing; usage: {help_text(spec).splitlines()[0][len('usage: '):]}")
            if default is not None:
                own[key] = default
    return own, overrides
