"""`python -m pbrl.plan <overrides>`: the memory plan of every job of a `pbrl.run` command (the plan
itself is `pbrl.plan`).

    python -m pbrl.plan experiment=mgsm_qwen3_32b hydra/launcher=slurm_8gpu
"""

from __future__ import annotations

import sys

import pbrl.plan
from pbrl.cli.compose import sweep_configs
from pbrl.cli.errors import fail, one_line_errors
from pbrl.cli.preflight import check_numbers
from pbrl.cli.secrets import check_config_secrets
from pbrl.plan import build_plan, check_settings, format_plan, refusal


def main(argv: list[str] | None = None) -> int:
    """`python -m pbrl.plan <overrides>`: the plan of every job; exit 2 when one cannot fit."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(pbrl.plan.__doc__.split("\n\n")[0] + "\n\nusage: python -m pbrl.plan [key=value ...] [-m] [-cd DIR -cn NAME]")
        return 0
    refused = []
    with one_line_errors():
        printed = set()
        for cfg in sweep_configs(argv):
            check_config_secrets(cfg)  # not the installed-backend checks: a laptop plans a cluster run
            check_numbers(cfg)
            check_settings(cfg)
            plan = build_plan(cfg)
            table = format_plan(plan)
            if table not in printed:
                printed.add(table)
                print(table + "\n", flush=True)
            if (message := refusal(plan)) is not None:
                refused.append(message)
    if refused:
        fail(refused[0])
    return 0
