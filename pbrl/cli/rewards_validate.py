"""`python -m pbrl.rewards.validate`: check that a reward's semantic components tell true
translations from mismatched ones.

    python -m pbrl.rewards.validate reward=embed data=mgsm langs=mgsm
    python -m pbrl.rewards.validate reward=mt data=polymath langs=en_pt n=200 output=mt_pt.json

On parallel data, each target-language question is paired with its own English question
(positive) and with another item's English question (negative). Per language it prints AUC and the
mean margin of every component that compares against an English reference (embed, mt, comet), the
raw cosines of embedding components and, where the items have an English worked solution (the demo
set), the hack probes of the whole reward set (`pbrl.rewards.validate` has the details). Data and
languages come from the project config groups: `data=<preset>` (its eval_dataset) and
`langs=<preset>` (its eval languages except English). Own arguments: n=<items per language>
(default all), reference=<Example field to pair with> (question_en), level=<difficulty> (PolyMath:
low | medium | high | top; demo: one-step | multi-step), probes=0 (skip the probes), output=<report.json>.
"""

from __future__ import annotations

from pathlib import Path

from pbrl.cli.args import CliSpec, examples_from, parse_argv
from pbrl.cli.compose import compose_checked
from pbrl.cli.errors import one_line_errors
from pbrl.cli.inputs import check_range, check_writable, set_threads
from pbrl.cli.preflight import check_data_root, check_dataset, check_models, check_reward

SPEC = CliSpec(
    prog="python -m pbrl.rewards.validate",
    summary="Check that a reward's semantic components tell true translations from mismatched ones.",
    own={"n": ("items per language", None),
         "reference": ("the Example field to pair with", "question_en"),
         "level": ("difficulty (PolyMath: low | medium | high | top; demo: one-step | multi-step)", None),
         "probes": ("0 skips the hack probes", "1"),
         "output": ("report JSON to write", None)},
    optional=("n", "level", "output"),
    examples=examples_from(__doc__),
    overrides="Hydra overrides of the project config, as `python -m pbrl.run`: reward=<preset>, "
              "data=<preset> (its eval_dataset), langs=<preset> (its eval languages except English), reward.<key>=",
    old_flags={"--n": "n", "--reference": "reference", "--level": "level", "--probes": "probes", "--output": "output",
               "--reward": "reward", "--data": "data", "--langs": "langs"},
)


def config_defaults() -> str:
    """The project config's defaults for this CLI, for --help."""
    from pbrl.config import compose_config

    cfg = compose_config([])
    return (f"defaults (conf/config.yaml): reward={cfg.reward.name}, data={cfg.data.name} "
            f"(eval_dataset={cfg.data.eval_dataset}), langs={cfg.langs.name} (eval: {', '.join(cfg.langs.eval)})")


def check_args(own: dict[str, str], overrides: list[str]):
    """The shared pre-flight, before any model loads; returns the composed config."""
    cfg = compose_checked(overrides)
    langs = [lang for lang in cfg.langs.eval if lang != "en"]
    check_reward(cfg.reward, langs)
    check_models(cfg, policy=False)
    check_data_root(cfg.paths.data_root)
    check_dataset(cfg.data.eval_dataset, ["en", *langs], cfg.paths.data_root, role="data.eval_dataset")
    if "n" in own:
        try:
            n_value = int(own["n"])
        except ValueError:
            raise ValueError(f"n={own['n']!r} is not an integer; e.g. n=200") from None
        check_range("n", n_value, low=1, integer=True, sep="=")
    if "output" in own:
        check_writable("output", Path(own["output"]).parent)
    return cfg


def chosen_examples(cfg, own: dict[str, str]) -> dict[str, list]:
    """Per evaluation language except English, the first n examples (of `level`) that have a
    question and the `reference` field."""
    from pbrl.data import load_examples

    langs = [lang for lang in cfg.langs.eval if lang != "en"]
    field = own["reference"]
    examples = load_examples(cfg.data.eval_dataset, langs, cfg.paths.data_root, dict(cfg.data.hub_ids or {}))
    if "level" in own:
        examples = {lang: [e for e in rows if e.level == own["level"]] for lang, rows in examples.items()}
    n = int(own["n"]) if "n" in own else None
    return {lang: [e for e in examples[lang] if e.question and getattr(e, field)][:n] for lang in langs}


def _number(value: float | None, width: int, digits: int) -> str:
    """`value` right-aligned in `width`, "–" when undefined (all None, or too few items to compare)."""
    return f"{'–':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_languages(report: dict) -> None:
    print(f"reward={report['reward']} dataset={report['dataset']} pairs: question vs {report['reference']}")
    print(f"{'component':>10} {'lang':>5} {'n':>5} {'AUC':>7} {'margin':>8} {'pos':>7} {'neg':>7} {'nonzero':>8}")
    for lang, per in report["languages"].items():
        for name, result in per.items():
            print(f"{name:>10} {lang:>5} {result['n']:>5} {_number(result['auc'], 7, 4)} "
                  f"{_number(result['margin'], 8, 4)} {_number(result['pos_mean'], 7, 4)} "
                  f"{_number(result['neg_mean'], 7, 4)} {_number(result['nonzero'], 8, 2)}")


def print_cosines(cosines: dict) -> None:
    print("\nraw cosines: matched cross-lingual | mismatched cross-lingual | mismatched English | b used")
    for lang, per in cosines.items():
        for name, c in per.items():
            b = "none" if c["b"] is None else f"{c['b']:.4f}"
            print(f"{name:>10} {lang:>5} {c['n']:>5} {c['matched']:>8.4f} {c['mismatched']:>8.4f} "
                  f"{c['mismatched_en']:>8.4f} {b:>8}")


def print_probes(report: dict) -> None:
    from pbrl.rewards.probes import PROBES

    print("\nhack probes: mean total against the right English reference (TRL nansum; all-None = 0),")
    print("and in brackets the share of problems where the correct target-language answer scores higher")
    print(f"{'lang':>5} {'n':>4} {'correct':>8} " + " ".join(f"{p:>18}" for p in PROBES))
    for lang, result in report.items():
        if not result["n"]:
            continue
        cells = " ".join(
            f"{result['probes'][p]['mean']:>10.3f} ({result['probes'][p]['correct_wins']:>4.0%})" for p in PROBES
        )
        print(f"{lang:>5} {result['n']:>4} {result['correct']:>8.3f} {cells}")


def main(argv: list[str] | None = None) -> dict:
    from pbrl.rewards import build_reward
    from pbrl.rewards.validate import hack_probes, prepare_rewards, semantic_components, validate_languages
    from pbrl.rundir import atomic_write_json

    own, overrides = parse_argv(SPEC, argv, defaults=config_defaults)
    with one_line_errors():
        cfg = check_args(own, overrides)
    set_threads(cfg.threads)
    with one_line_errors():
        reward_set = build_reward(cfg.reward)
        components = semantic_components(reward_set)
        if not components:
            raise ValueError(f"reward '{reward_set.name}' has no component comparing with an English reference; "
                             "use reward=embed, mt or comet")
    field = own["reference"]
    chosen = chosen_examples(cfg, own)
    pairs = {lang: [(e.question, getattr(e, field)) for e in rows] for lang, rows in chosen.items()}
    prepare_rewards(reward_set, pairs)
    languages, cosines = validate_languages(components, chosen, field)
    report: dict = {"reward": reward_set.name, "dataset": cfg.data.eval_dataset, "reference": field,
                    "level": own.get("level"), "languages": languages, "cosines": cosines, "probes": {}}
    print_languages(report)
    if cosines:
        print_cosines(cosines)
    if own.get("probes", "1") not in ("0", "false", "no"):
        report["probes"] = hack_probes(reward_set, chosen, field)
    if report["probes"]:
        print_probes(report["probes"])
    if "output" in own:
        atomic_write_json(own["output"], report)
    return report
