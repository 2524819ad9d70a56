"""The entry layer: what every `python -m` command shares, above the stages it drives.

    args.py             the `key=value` argument style, `--help`, the refusal of old `--flag`s
    errors.py           bad input as one `pbrl: error:` line and exit status 2
    compose.py          the project config for a command: override syntax, Hydra composition, sweeps
    secrets.py          credentials refused in overrides and config values
    inputs.py           a command's JSONL input, numeric arguments, output folder, CPU threads
    preflight.py        the checks of a composed config that its typed schema cannot express
    rewards_score.py    the command `python -m pbrl.rewards.score`
    rewards_validate.py the command `python -m pbrl.rewards.validate`
    analysis_report.py  the command `python -m pbrl.analysis.report`
    plan.py             the command `python -m pbrl.plan`

A command's file is where `python -m` finds it (pbrl/run.py, pbrl/score.py, pbrl/pivot/__main__.py)
unless that path lies inside a library package (pbrl/rewards/, pbrl/analysis/, pbrl/plan/): there the
module keeps the library code and hands its `__main__` run to the command here. Nothing below this
layer imports it.

A command imports what it needs from here:

    from pbrl.cli import CliSpec, compose_checked, one_line_errors, parse_argv
"""

from pbrl.cli.args import CliSpec, examples_from, parse_argv
from pbrl.cli.compose import compose_checked, sweep_configs
from pbrl.cli.errors import fail, one_line_errors
from pbrl.cli.inputs import check_range, check_writable, read_rows, set_threads
from pbrl.cli.preflight import (
    check_choices,
    check_data_root,
    check_dataset,
    check_model,
    check_models,
    check_reward,
    preflight_argv,
)

__all__ = ["CliSpec", "check_choices", "check_data_root", "check_dataset", "check_model", "check_models",
           "check_range", "check_reward", "check_writable", "compose_checked", "examples_from", "fail",
           "one_line_errors", "parse_argv", "preflight_argv", "read_rows", "set_threads", "sweep_configs"]
