"""Every number and setting the README (and docs/reference.md) states about a preset is what the preset's YAML sets."""

from __future__ import annotations

import re

import pytest

from pbrl.config import compose_config


@pytest.fixture(scope="module")
def readme(repo_root) -> str:
    """The README and the reference page it links (the algorithms table lives there)."""
    return "\n".join((repo_root / name).read_text(encoding="utf-8") for name in ("README.md", "docs/reference.md"))


def algorithm_rows(readme: str) -> dict[str, str]:
    section = readme.split("## Algorithms", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", section, flags=re.M))


def claims(text: str) -> dict:
    """The checkable statements of one README algorithm row."""
    found = {}
    if m := re.search(r"KL β = ([0-9.]+)", text):
        found["beta"] = float(m.group(1))
    if "no KL" in text:
        found["beta"] = 0.0
    if m := re.search(r"`loss_type=(\w+)`", text):
        found["args.loss_type"] = m.group(1)
    if m := re.search(r"ε_high = ([0-9.]+)", text):
        found["args.epsilon_high"] = float(m.group(1))
    if "group-scaled rewards" in text:
        found["args.scale_rewards"] = "group"
    if "no std scaling" in text:
        found["args.scale_rewards"] = "none"
    if "truncated completions masked" in text:
        found["args.mask_truncated_completions"] = True
    if m := re.search(r"TRL `(\w+)Trainer`", text):
        found["trainer"] = {"GRPO": "grpo", "RLOO": "rloo", "SFT": "sft"}[m.group(1)]
    return found


def test_every_algorithm_row_matches_its_preset(readme):
    rows = algorithm_rows(readme)
    assert set(rows) >= {"grpo", "dr_grpo", "dapo", "rloo", "ppo", "sft"}
    checked = 0
    for algo, text in rows.items():
        cfg = compose_config([f"algo={algo}"]).algo
        for key, expected in claims(text).items():
            node = cfg
            for part in key.split("."):
                node = node[part]
            assert node == expected, f"README says algo={algo} has {key}={expected}; conf/algo/{algo}.yaml: {node}"
            checked += 1
    assert checked >= 10


def test_grpo_kl_beta_is_stated_as_configured(readme):
    beta = compose_config(["algo=grpo"]).algo.beta
    assert f"KL β = {beta:g}" in algorithm_rows(readme)["grpo"]


def test_default_run_numbers(readme):
    cfg = compose_config([])
    m = re.search(r"evaluates\s+(\d+) held-out one-step problems in (\d+) languages, trains (\d+) GRPO steps", readme)
    assert m, "the README's description of the default run changed; update this test"
    eval_size, n_langs, steps = map(int, m.groups())
    assert (eval_size, n_langs, steps) == (cfg.data.eval_size, len(cfg.langs.eval), cfg.algo.max_steps)
    assert list(cfg.data.eval_levels) == ["one-step"] and cfg.algo.name == "grpo"
