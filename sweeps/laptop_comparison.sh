#!/usr/bin/env bash
# The paper's comparison at laptop scale, on 2 CPU cores: from the same start (the default policy,
# problems, languages and prompt), no training vs SFT on the pivot references vs GRPO with the
# accuracy-only reward (RLVR baseline) vs GRPO with the embedding reward vs GRPO with the hybrid
# reward vs critic PPO with the hybrid reward, each with SEEDS seeds, evaluated on the same held-out
# problems (the untrained policy's answers are computed once and shared: it is the "no training" row).
#   bash sweeps/laptop_comparison.sh                 # SEEDS=0,1,2 by default
#   SEEDS=0 bash sweeps/laptop_comparison.sh algo.max_steps=16   # extra overrides go to every arm
#   python -m analysis.report runs/comparison baseline=algo=grpo,reward=accuracy
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seeds=${SEEDS:-0,1,2}
python=${PYTHON:-python}
common=(name=comparison "seed=$seeds" "$@")
"$python" -m pbrl.run -m algo=grpo reward=accuracy,embed,hybrid "${common[@]}"
# SFT gets the GRPO preset's steps, learning rate, examples per step (8), completion length and
# temperature here; conf/algo/ppo.yaml already has them. PPO (the slowest arm: 4 epochs over each
# rollout, ~19 s a step on 2 cores) runs last, in the policy's default precision like every other arm,
# so all arms start from the same untrained policy and share its evaluation.
same=(algo.max_steps=16 algo.learning_rate=1e-3 algo.per_device_batch_size=8 algo.gradient_accumulation_steps=1
      algo.max_completion_length=40 algo.temperature=0.7)
"$python" -m pbrl.run -m algo=sft reward=hybrid "${same[@]}" "${common[@]}"
"$python" -m pbrl.run -m algo=ppo reward=hybrid "${common[@]}"
