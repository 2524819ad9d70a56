#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (munge, mariadb, slurmdbd, slurmctld, slurmd)
# as plain daemons -- CI machines have no systemd. Installs the Debian packages on first use.
# Idempotent: when the controller answers and the node is idle it returns at once.
# Usage: bash .ci/slurm/start.sh        (as root; prints its own wall time)
set -euo pipefail
t0=$(date +%s%N)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log=/var/log/slurm
say() { echo "[slurm] $*"; }
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf "%d.%03d" $((ms / 1000)) $((ms % 1000)); }

node_state() { sinfo -h -N -o %t 2>/dev/null | head -n1; }

if command -v sinfo >/dev/null && scontrol ping 2>/dev/null | grep -q UP \
    && [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]] && pgrep -x slurmdbd >/dev/null; then
  say "already up: $(sinfo -h -N -o '%N %t %c cpus %m MB')"
  say "wall time $(elapsed) s"
  exit 0
fi

need=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d exit 101: the packages must not start services through init scripts; restored after.
  policy=/usr/sbin/policy-rc.d
  [[ -e $policy ]] && mv "$policy" "$policy.pbrl-saved"
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  status=0
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/pbrl-slurm-apt.log 2>&1 || status=$?
  rm -f "$policy"
  [[ -e $policy.pbrl-saved ]] && mv "$policy.pbrl-saved" "$policy"
  ((status == 0)) || { tail -n 30 /tmp/pbrl-slurm-apt.log; say "apt-get install failed ($status)"; exit 1; }
fi

mkdir -p "$log" /run/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /etc/slurm

# munge: the key must be 0400 and owned by munge; /run is a tmpfs, so its socket dir is recreated.
[[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

# mariadb for slurmdbd (so that sacct, which submitit polls, works).
install -d -o mysql -g mysql -m 0755 /run/mysqld
if [[ ! -d /var/lib/mysql/mysql ]]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/tmp/pbrl-mariadb-install.log 2>&1
fi
if ! pgrep -x mariadbd >/dev/null; then
  runuser -u mysql -- /usr/sbin/mariadbd --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
    --skip-networking=0 --bind-address=127.0.0.1 --log-error="$log/mariadb.log" >/dev/null 2>&1 &
fi
for _ in $(seq 100); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
mariadb -e 'select 1' >/dev/null || { say "mariadb did not start; see $log/mariadb.log"; exit 1; }
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

# slurm.conf from this machine's own hardware; RealMemory stays below what slurmd -C measures
# (slurmd drains a node that reports less than configured), and DefMemPerCPU stops one job from
# taking all memory.
host=$(hostname -s)
read -r cpus sockets cores threads mem < <(slurmd -C | awk '
  /^NodeName/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"] }')
real_mem=$((mem * 9 / 10))
def_mem=$((real_mem / cpus / 2))
sed -e "s/@HOST@/$host/g" -e "s/@CPUS@/$cpus/g" -e "s/@SOCKETS@/$sockets/g" -e "s/@CORES@/$cores/g" \
    -e "s/@THREADS@/$threads/g" -e "s/@REALMEM@/$real_mem/g" -e "s/@DEFMEM@/$def_mem/g" \
    "$here/slurm.conf.in" >/etc/slurm/slurm.conf
cp "$here/slurmdbd.conf.in" /etc/slurm/slurmdbd.conf
chmod 600 /etc/slurm/slurmdbd.conf   # slurmdbd refuses a readable file holding the DB password

if ! pgrep -x slurmdbd >/dev/null; then /usr/sbin/slurmdbd; fi
for _ in $(seq 100); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.1; done
sacctmgr -n list cluster format=cluster | grep -qw pbrl || sacctmgr -i add cluster pbrl >/dev/null
if ! pgrep -x slurmctld >/dev/null; then /usr/sbin/slurmctld; fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
if ! pgrep -x slurmd >/dev/null; then /usr/sbin/slurmd; fi

for _ in $(seq 300); do
  state=$(node_state)
  [[ "$state" == idle ]] && break
  [[ "$state" =~ ^(down|drain|drng|down\*)$ ]] && scontrol update nodename="$host" state=resume 2>/dev/null || true
  sleep 0.2
done
if [[ "$(node_state)" != idle ]]; then
  say "node did not become idle (state '$(node_state)'); logs in $log"
  tail -n 20 "$log"/slurmctld.log "$log"/slurmd.log
  exit 1
fi
say "up: $(sinfo -h -N -o '%N %t %c cpus %m MB')"
say "wall time $(elapsed) s"
