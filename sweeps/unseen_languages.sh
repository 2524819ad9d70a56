#!/usr/bin/env bash
# Languages never trained on, at laptop scale (2 CPU cores), from the default's start (policy, problems,
# prompt): hybrid GRPO on all 8 non-English languages (langs=demo), hybrid GRPO on 4 of them
# (langs=demo_seen: es ru sw zh; conf/langs/demo_seen.yaml says why these), accuracy-only GRPO on the
# same 4; every arm evaluated on all 9 languages, on the same held-out problems, SEEDS seeds each. The
# untrained policy's answers are computed once and shared: the "no training" row.
#   bash sweeps/unseen_languages.sh                               # SEEDS=0,1,2: 9 runs of 16 steps
#   SEEDS=0 bash sweeps/unseen_languages.sh algo.max_steps=8      # extra overrides go to every arm
#   python -m analysis.report runs/unseen_languages baseline=reward=accuracy,langs=demo_seen
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seeds=${SEEDS:-0,1,2}
python=${PYTHON:-python}
common=("name=${NAME:-unseen_languages}" algo=grpo "seed=$seeds" "$@")
"$python" -m pbrl.run -m reward=hybrid langs=demo,demo_seen "${common[@]}"
"$python" -m pbrl.run -m reward=accuracy langs=demo_seen "${common[@]}"
