#!/usr/bin/env bash
# Stop the single-node SLURM cluster that .ci/slurm/start.sh started (jobs, daemons, mariadb, munge).
# Each daemon is stopped through its own pid file or admin command; missing daemons are skipped.
set -uo pipefail
say() { echo "[slurm] $*"; }

stop_pidfile() {  # name pidfile
  local pid
  [[ -s "$2" ]] || return 0
  pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "$1 ($pid) ignored SIGTERM; killing"; kill -KILL "$pid"; }
  fi
  rm -f "$2"
  say "stopped $1"
}

if command -v scancel >/dev/null && scontrol ping 2>/dev/null | grep -q UP; then
  scancel --full --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 50); do [[ -z "$(squeue -h -t R,CG 2>/dev/null)" ]] && break; sleep 0.2; done
fi
stop_pidfile slurmd /run/slurm/slurmd.pid
stop_pidfile slurmctld /run/slurm/slurmctld.pid
stop_pidfile slurmdbd /run/slurm/slurmdbd.pid
if command -v mariadb-admin >/dev/null && mariadb-admin ping >/dev/null 2>&1; then
  mariadb-admin shutdown && say "stopped mariadb"
fi
stop_pidfile munged /run/munge/munged.pid
