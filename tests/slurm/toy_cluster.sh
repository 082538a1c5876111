#!/usr/bin/env bash
# A toy single-node SLURM cluster on 127.0.0.1 with one fake GPU, to try the workflow's SLURM profile on one
# machine (and to test it: tests/test_slurm.py). Needs root (daemons run as root) and Debian's packages.
#
#   tests/slurm/toy_cluster.sh install          apt-get install slurmctld slurmd slurm-client munge (if missing)
#   tests/slurm/toy_cluster.sh start [DIR]      write DIR/etc/slurm.conf, start munged, slurmctld, slurmd
#   tests/slurm/toy_cluster.sh stop [DIR]       cancel the toy's jobs, stop exactly the daemons started above
#
# After `start`, point SLURM's commands (and Snakemake, which calls sbatch/squeue) at the toy cluster:
#   export SLURM_CONF=DIR/etc/slurm.conf
#   snakemake results/tables/table1.csv --config scale=smoke --profile profiles/slurm \
#     --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5
# (The toy has no slurmdbd, so `sacct` cannot answer: job states come from `squeue`, which keeps finished
# jobs for MinJobAge seconds. Finished jobs are also written to DIR/log/jobcomp.log.) While the toy runs,
# /etc/slurm/slurm.conf is a link to DIR/etc/slurm.conf (see link_default_config); `stop` removes it.
#
# DIR defaults to $TOY_SLURM_DIR or /tmp/toy-slurm. The node advertises TOY_SLURM_CPUS CPUs (default 4) and
# TOY_SLURM_MEM_MB MB (default 65536) whatever the hardware (SlurmdParameters=config_overrides), so jobs sized
# for a real cluster are scheduled here too; nothing enforces those limits. The GPU is a generic resource
# backed by /dev/null (slurmd drops a gres without File=): jobs asking for --gpus=1 run one at a time and see
# CUDA_VISIBLE_DEVICES=0. Ports: TOY_SLURM_PORT (slurmctld, default 6817) and the next one (slurmd).
set -euo pipefail

cmd=${1:-}
dir=${2:-${TOY_SLURM_DIR:-/tmp/toy-slurm}}
daemons=(slurmd slurmctld munged) # stop order

die() {
  echo "toy_cluster: $*" >&2
  exit 1
}

install_packages() {
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v munged >/dev/null; then
    echo "toy_cluster: slurm and munge already installed"
    return
  fi
  [ "$(id -u)" = 0 ] || die "installing packages needs root"
  command -v apt-get >/dev/null || die "apt-get not found: install slurmctld, slurmd, slurm-client and munge by hand"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  echo "toy_cluster: installed $(sbatch --version)"
}

write_config() {
  local host cpus mem port
  host=$(hostname -s)
  cpus=${TOY_SLURM_CPUS:-4}
  mem=${TOY_SLURM_MEM_MB:-65536}
  port=${TOY_SLURM_PORT:-6817}
  mkdir -p "$dir"/{etc,munge,state,spool,log,pids}
  chmod 700 "$dir" "$dir/munge"
  # A fresh MUNGE key for this cluster only (munged insists on owner-only permissions).
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
  fi
  cat >"$dir/etc/slurm.conf" <<EOF
# Toy single-node cluster written by tests/slurm/toy_cluster.sh
ClusterName=toy
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/pids/slurmctld.pid
SlurmdPidFile=$dir/pids/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: finished jobs stay visible to squeue/scontrol for MinJobAge seconds and are appended to a file.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
MinJobAge=3600
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=toy Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$dir/etc/gres.conf" <<EOF
NodeName=$host Name=gpu Count=1 File=/dev/null
EOF
}

# The PID in DIR/pids/NAME.pid, if that process is alive and is NAME (Debian's binaries are NAME-wlm).
daemon_pid() {
  local name=$1 file="$dir/pids/$1.pid" pid exe
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  case "$(basename "$exe")" in "$name" | "$name"-wlm) echo "$pid" ;; *) return 1 ;; esac
}

# SLURM's commands read $SLURM_CONF, else /etc/slurm/slurm.conf. Snakemake's jobstep plugin (0.6) removes
# every SLURM_* variable, SLURM_CONF included, before the `srun` it runs inside each job, so that srun only
# finds the toy cluster through the default path: link it there for the cluster's lifetime (never replacing
# a slurm.conf that is not ours).
default_conf=/etc/slurm/slurm.conf
link_default_config() {
  if [ -L "$default_conf" ] && [ ! -e "$default_conf" ]; then
    rm -f "$default_conf" # a dangling link left by a toy cluster whose folder is gone
  fi
  if [ -e "$default_conf" ] || [ -L "$default_conf" ]; then
    [ "$(readlink "$default_conf")" = "$dir/etc/slurm.conf" ] ||
      die "$default_conf exists and is not the toy cluster's: refusing to replace it"
  else
    mkdir -p "$(dirname "$default_conf")"
    ln -s "$dir/etc/slurm.conf" "$default_conf"
  fi
}

unlink_default_config() {
  if [ -L "$default_conf" ] && [ "$(readlink "$default_conf")" = "$dir/etc/slurm.conf" ]; then
    rm -f "$default_conf"
  fi
}

start() {
  [ "$(id -u)" = 0 ] || die "the toy cluster runs its daemons as root"
  for name in "${daemons[@]}"; do
    if pid=$(daemon_pid "$name"); then die "$name already running from $dir (PID $pid): run stop first"; fi
  done
  write_config
  export SLURM_CONF="$dir/etc/slurm.conf"
  link_default_config
  munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/pids/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  # Wait until the controller answers and the node has registered (idle).
  # (a daemon that died, e.g. on a bad slurm.conf, ends the wait early; its PID file may lag its fork by a moment)
  local state="" started=$SECONDS
  while [ $SECONDS -lt $((started + 30)) ]; do
    if [ $SECONDS -gt $((started + 3)) ] && ! { daemon_pid slurmctld && daemon_pid slurmd; } >/dev/null; then break; fi
    state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    tail -n 20 "$dir"/log/*.log >&2 || true
    stop
    die "node did not become idle (state: '${state:-no answer}'); logs above"
  fi
  for name in "${daemons[@]}"; do
    daemon_pid "$name" >/dev/null || die "$name did not start"
  done
  echo "toy_cluster: up (munged $(daemon_pid munged), slurmctld $(daemon_pid slurmctld), slurmd $(daemon_pid slurmd))"
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
  export SLURM_CONF="$dir/etc/slurm.conf"
  if daemon_pid slurmctld >/dev/null; then
    scancel --full --quiet --partition toy 2>/dev/null || true
  fi
  local name pid
  for name in "${daemons[@]}"; do
    pid=$(daemon_pid "$name") || continue
    kill -TERM "$pid"
    for _ in $(seq 1 40); do
      [ -e "/proc/$pid" ] || break
      sleep 0.25
    done
    if [ -e "/proc/$pid" ]; then kill -KILL "$pid"; fi
    rm -f "$dir/pids/$name.pid"
    echo "toy_cluster: stopped $name (PID $pid)"
  done
  unlink_default_config
}

case "$cmd" in
install) install_packages ;;
start) start ;;
stop) stop ;;
*) die "usage: $0 install|start|stop [DIR]" ;;
esac
