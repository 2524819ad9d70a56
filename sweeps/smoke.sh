#!/usr/bin/env bash
# CPU smoke version of each study on a SLURM cluster without GPUs (CI: .ci/slurm/start.sh first):
# the tiny random policy, 2 optimizer steps, 2 problems per language, no W&B.
#   bash sweeps/smoke.sh                  # every study
#   bash sweeps/smoke.sh reward_type pivot
# Runs land in ${PBRL_RUNS:-runs}/<study>_smoke/; needs PBRL_DATA_ROOT for MGSM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The resource keys undo a study's own launcher sizes (policy_scale asks for an 8-GPU node).
smoke=(policy=tiny eval=quick algo.max_steps=2 algo.save_steps=1 data.train_size=2 data.eval_size=2
       logger=none "paths.runs=${PBRL_RUNS:-runs}" hydra/launcher=slurm_cpu
       hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=4 hydra.launcher.timeout_min=30)
# Options that need GPUs, gated hub models or network are left out of the smoke runs; so are the
# self/model pivots, whose references the random tiny policy never gets verified (no training rows).
declare -A options=(
  [reward_type]="reward=accuracy,embed,hybrid"
  [algorithm]=""
  [pivot]="pivot=gold"
  [policy_scale]="algo.args.use_vllm=false"   # its GPU rollouts: vLLM over 4 GPUs
  [seen_unseen]=""
)
studies=("$@")
((${#studies[@]})) || studies=(reward_type algorithm pivot policy_scale seen_unseen)
python=${PYTHON:-python}
for study in "${studies[@]}"; do
  [[ -v "options[$study]" ]] || { echo "unknown study '$study'; choose from: ${!options[*]}" >&2; exit 2; }
  echo "== $study (smoke)"
  # shellcheck disable=SC2086  # options are space-separated overrides
  "$python" -m pbrl.run -m -cd sweeps -cn "$study" "name=${study}_smoke" "${smoke[@]}" ${options[$study]}
done
