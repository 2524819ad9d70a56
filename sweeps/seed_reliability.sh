#!/usr/bin/env bash
# How reliable is the default recipe? The default run over SEEDS seeds (default 0-4), evaluated on the
# dev split (64 problems per language), so that changes to the recipe are chosen on dev, never on test.
# `analysis.report` then prints one row per seed (its paired gain, the reward and accuracy term from the
# first to the last third of the steps, the clipped share, fidelity, English share) and how many gained.
#   bash sweeps/seed_reliability.sh                                        # 5 runs of 16 steps
#   NAME=seed_reliability_kl bash sweeps/seed_reliability.sh algo.beta=0.04  # a candidate change, on dev
#   NAME=seed_reliability_kl_test SPLIT=test EVAL_SIZE=32 bash sweeps/seed_reliability.sh algo.beta=0.04
#   python -m analysis.report runs/seed_reliability
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-python}
"$python" -m pbrl.run -m "name=${NAME:-seed_reliability}" "seed=${SEEDS:-0,1,2,3,4}" \
  "data.eval_split=${SPLIT:-dev}" "data.eval_size=${EVAL_SIZE:-64}" "$@"
