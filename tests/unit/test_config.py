"""Every option of every config group composes and validates; bad input fails in one line."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pbrl.config import CONF_DIR, GROUPS, compose_config, run_id
from pbrl.cli.preflight import check_config, preflight_argv

OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
LAUNCHERS = sorted(p.stem for p in (CONF_DIR / "hydra" / "launcher").glob("*.yaml"))


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


# Options that only make sense with a matching choice elsewhere (the pre-flight refuses them alone):
# the offline Bergamot MT reward translates Portuguese only.
COMPANIONS = {("reward", "mt"): ["langs=en_pt"], ("reward", "hybrid_mt"): ["langs=en_pt"]}


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_validates(group, option):
    cfg = compose_config([f"{group}={option}", *COMPANIONS.get((group, option), [])])
    assert cfg[group].name == option, "the `name` field must equal the file name (it is the W&B tag)"
    check_config(cfg)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_validates(experiment):
    overrides = [f"experiment={experiment}"]
    if importlib.util.find_spec("vllm") is None:  # a GPU preset's vLLM evaluation; everything else is checked
        overrides.append("eval.lm_eval.model=hf")
    check_config(compose_config(overrides))


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_launcher_composes(launcher):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert "submitit" in cfg.hydra.launcher._target_


def test_run_id_is_deterministic_and_bounded():
    assert run_id("") == "default"
    assert run_id("algo=ppo,reward=mt") == "algo=ppo,reward=mt"
    long = ",".join(f"k{i}=v{i}" for i in range(60))
    assert run_id(long) == run_id(long) and len(run_id(long)) <= 120
    assert run_id(long) != run_id(long + ",x=1")


def pbrl_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pbrl.run", *args, "--cfg", "job"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent,
    )


@pytest.mark.parametrize(
    "override,expected",
    [
        ("reward.wieght=1", "unknown config key 'reward.wieght' (did you mean 'weights'?)"),  # typo'd key
        ("+reward.wieght=1", "unknown config key 'reward.wieght'"),  # typo'd key, appended
        ("algo.max_steps=many", "bad value for 'algo.max_steps'"),  # wrong type
        ("policy=lama8b", "unknown option policy=lama8b; choose one of: llama8b,"),  # unknown option
        ("langs.train=[de,xx]", "unknown language code 'xx'"),  # unknown language
        ("reward.components.embed.bakend=x", "unknown config key 'reward.components.embed.bakend'"),
        ("+algo.args.loss_typo=grpo", "unknown config key 'algo.args.loss_typo' (did you mean 'loss_type'?)"),
    ],
)
def test_bad_input_fails_fast_in_one_line(override, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        preflight_argv([override])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pbrl: error: "), lines
    assert expected in lines[0]


def test_cli_fails_in_one_line_before_launching_a_sweep():
    proc = pbrl_run("-m", "reward=embed,acuracy")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "pbrl: error: unknown option reward=acuracy; choose one of: " + ", ".join(
            sorted(p.stem for p in (CONF_DIR / "reward").glob("*.yaml")))
    )


def test_cfg_job_prints_composed_config():
    proc = pbrl_run("policy=tiny")
    assert proc.returncode == 0, proc.stderr
    assert "model: pbrl:tiny" in proc.stdout and "trainer: grpo" in proc.stdout


def test_help_lists_groups():
    proc = subprocess.run([sys.executable, "-m", "pbrl.run", "--help"], capture_output=True, text=True, timeout=60)
    for group in GROUPS:
        assert f"{group}:" in proc.stdout


@pytest.fixture
def user_conf(tmp_path):
    """A user's own config folder with a new policy option built on pbrl's `tiny`."""
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "my_tiny.yaml").write_text("defaults: [tiny, _self_]\nname: my_tiny\n")
    return tmp_path


@pytest.mark.parametrize("how", ["--config-dir", "-cd", "hydra.searchpath"])
def test_a_users_config_dir_adds_options(how, user_conf, capsys):
    from pbrl.cli.compose import sweep_configs

    where = [f"hydra.searchpath=[file://{user_conf}]"] if how == "hydra.searchpath" else [how, str(user_conf)]
    (cfg,) = sweep_configs([*where, "policy=my_tiny"])
    assert (cfg.policy.name, cfg.policy.model) == ("my_tiny", "pbrl:tiny")
    with pytest.raises(SystemExit):  # a typo lists the user's options with pbrl's
        preflight_argv([*where, "policy=my_tnyi"])
    assert "unknown option policy=my_tnyi; choose one of: llama8b, my_tiny," in capsys.readouterr().err
    with pytest.raises(SystemExit):  # without the folder, the option is unknown
        preflight_argv(["policy=my_tiny"])
    assert "unknown option policy=my_tiny" in capsys.readouterr().err


def test_compose_config_follows_hydra_searchpath(user_conf):
    cfg = compose_config([f"hydra.searchpath=[file://{user_conf}]", "policy=my_tiny"])
    assert cfg.policy.name == "my_tiny"


def test_as_schema_converts_once_with_the_schema_defaults_and_choices():
    """A stage's node as its dataclass: the schema's defaults fill what is missing, a value outside
    a choice list fails naming its full key."""
    from pbrl.config import ConfigError, EvalConfig, LoggerConfig, RewardConfig, as_schema

    assert as_schema(RewardConfig, {"components": {}}).gate_threshold == RewardConfig.gate_threshold
    assert as_schema(EvalConfig, {"backend": "lm_eval"}).lm_eval.model == "hf"
    with pytest.raises(ConfigError, match=r"unknown logger.mode 'sometimes'; choose one of: auto, online"):
        as_schema(LoggerConfig, {"mode": "sometimes"})
    with pytest.raises(ConfigError, match=r"unknown eval.backend 'harness'"):
        as_schema(EvalConfig, {"backend": "harness"})
