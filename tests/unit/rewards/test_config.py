from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pbrl.rewards import build_reward, validate_reward_config

CONF = Path(__file__).resolve().parents[3] / "conf" / "reward"
PRESETS = sorted(p.stem for p in CONF.glob("*.yaml"))


def reward_node(preset: str, langs=("pt",)):
    """The preset as a node of a root config, so its ${paths...}/${langs...} interpolations resolve."""
    root = OmegaConf.create(
        {
            "paths": {"cache": "/tmp/pbrl-test-cache"},
            "langs": {"train": list(langs)},
            "reward": OmegaConf.load(CONF / f"{preset}.yaml"),
        }
    )
    return root.reward


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_validates(preset):
    node = reward_node(preset)
    validate_reward_config(node)
    assert node.name == preset  # the file name is the id used in W&B


@pytest.mark.parametrize("preset", ["accuracy", "language", "format", "hybrid", "embed", "mt", "hybrid_mt"])
def test_presets_build_without_loading_weights(preset):
    rs = build_reward(reward_node(preset))
    assert rs.funcs and len(rs.weights) == len(rs.funcs)
    for comp in rs.funcs:
        model = getattr(getattr(comp.reward, "embedder", None), "_model", None)
        assert model is None  # models load on first call, not at build time


def test_hybrid_is_embed_accuracy_language_repetition_gated_by_language():
    rs = build_reward(reward_node("hybrid"))
    assert rs.names == ["embed", "accuracy", "language", "repetition"]
    assert rs.weights == [1.0, 1.0, 0.5, 1.0]
    assert rs.gates == {"embed": "language"}
    assert rs.components["embed"].reward.calibration == "crosslingual"


def test_unknown_component_param_names_key_and_allowed():
    node = OmegaConf.create(
        {
            "name": "x",
            "components": {"language": {"_target_": "pbrl.rewards.language.LanguageReward", "mdoe": "document"}},
        }
    )
    with pytest.raises(
        ValueError, match=r"reward.components.language.mdoe.*did you mean 'mode'.*allowed: lang_column, mode"
    ) as err:
        validate_reward_config(node)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "node, message",
    [
        ({"name": "x", "components": {}}, "needs components"),
        ({"name": "x", "components": {"a": {"mode": "x"}}}, "needs a _target_"),
        ({"name": "x", "components": {"a": {"_target_": "pbrl.rewards.nope.Nope"}}}, "cannot be imported"),
        (
            {
                "name": "x",
                "components": {"a": {"_target_": "pbrl.rewards.language.LanguageReward"}},
                "weights": {"b": 1},
            },
            "names no component",
        ),
        (
            {"name": "x", "components": {"a": {"_target_": "pbrl.rewards.language.LanguageReward"}}, "wieghts": {}},
            "unknown config key 'reward.wieghts'",
        ),
    ],
)
def test_bad_configs_raise_one_line(node, message):
    with pytest.raises(ValueError, match=message) as err:
        validate_reward_config(OmegaConf.create(node))
    assert "\n" not in str(err.value)


def test_build_reports_component_error_in_one_line():
    node = reward_node("mt", langs=["de"])
    node.components.mt.translator, node.components.mt.translator_model = "bergamot", None  # Portuguese only
    with pytest.raises(ValueError, match=r"reward.components.mt: no translator covers de -> en") as err:
        build_reward(node)
    assert "\n" not in str(err.value)
