#!/usr/bin/env bash
# A one-node SLURM cluster on this host, for `python3 -m pytest -q -m slurm` (tests/test_slurm.py).
#
# Installs Debian's slurm-wlm and munge, writes /etc/slurm/slurm.conf for this host alone (partition
# `debug`, every CPU schedulable one by one, no cgroups, no accounting), and starts munged, slurmctld
# and slurmd directly as daemons: containers have no systemd. Waits until sinfo shows the node idle.
# Rerunning is safe: what is installed, configured and running is left alone; a changed config
# restarts the two SLURM daemons. Needs root (re-runs itself with sudo otherwise).
#
#   bash scripts/slurm_single_node.sh            # SLURM_WAIT_S=60: seconds to wait for the node
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "slurm_single_node: ERROR: needs root (or sudo)" >&2; exit 1; }
    exec sudo -E bash "$0" "$@"
fi

WAIT_S=${SLURM_WAIT_S:-60}
HOST=$(hostname -s)
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
SPOOL=/var/spool/slurm-prec
LOGS=/var/log/slurm
RUN=/run/slurm-prec
CTLD_PID=$RUN/slurmctld.pid
SLURMD_PID=$RUN/slurmd.pid

say() { echo "slurm_single_node: $*"; }
die() { echo "slurm_single_node: ERROR: $*" >&2; exit 1; }

# --- packages -----------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
        || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# --- munge: the key, then the daemon ------------------------------------------------------------
MUNGE_USER=root
if id munge >/dev/null 2>&1; then MUNGE_USER=munge; fi
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
chown "$MUNGE_USER" /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    say "creating the munge key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown "$MUNGE_USER" /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    if [ "$MUNGE_USER" = root ]; then
        munged --force
    else
        runuser -u munge -- munged
    fi
    for _ in $(seq 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.5
    done
    munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# --- slurm.conf ---------------------------------------------------------------------------------
CPUS=$(nproc)
# Half the machine's memory, whole GiB: MemTotal, not MemAvailable, so that a rerun writes the same file.
MEM_MB=$(awk '/^MemTotal:/ { m = int($2 / 1024 / 2 / 1024) * 1024; print (m < 1024 ? 1024 : m) }' /proc/meminfo)
mkdir -p "$CONF_DIR" "$SPOOL/ctld" "$SPOOL/d" "$LOGS" "$RUN"
NEW_CONF=$(cat <<EOF
# Written by scripts/slurm_single_node.sh: a one-node cluster on this host for the -m slurm tests.
ClusterName=prec
SlurmctldHost=$HOST(127.0.0.1)
# root, so that it runs inside containers where no slurm user and no systemd exist.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# No cgroups (containers rarely delegate them) and no accounting database.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# Each CPU is allocated on its own, so 1-CPU array tasks run side by side; memory is not scheduled.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Trust the lines below over what slurmd detects (a container's view of sockets and memory),
# so that the node is never drained for a mismatch.
SlurmdParameters=config_overrides
ReturnToService=2
SlurmdTimeout=60
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "$(cat "$CONF" 2>/dev/null)" != "$NEW_CONF" ]; then
    say "writing $CONF ($HOST: $CPUS CPUs, ${MEM_MB} MB)"
    printf '%s\n' "$NEW_CONF" >"$CONF"
    # Daemons started with another config: stop them (by their pid files) so they restart with this one.
    for pidfile in "$SLURMD_PID" "$CTLD_PID"; do
        if running "$pidfile"; then
            say "stopping the daemon of $pidfile for the new config"
            pid=$(cat "$pidfile")
            kill "$pid"
            # Wait on the pid, not the pid file: the daemon removes its file before it has let go of its port.
            for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        fi
    done
fi

# --- the daemons --------------------------------------------------------------------------------
if ! running "$CTLD_PID"; then
    say "starting slurmctld"
    slurmctld
fi
if ! running "$SLURMD_PID"; then
    say "starting slurmd"
    slurmd
fi

# --- wait for the node --------------------------------------------------------------------------
state=""
resumed=0
deadline=$((SECONDS + WAIT_S))
while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -n 1 || true)
    case "$state" in
        idle | mix | alloc) break ;;  # mix/alloc: up, with jobs of an earlier run still on it
        down* | drain* | drng*)
            if [ "$resumed" -eq 0 ]; then
                scontrol update nodename="$HOST" state=resume 2>/dev/null || true
                resumed=1
            fi ;;
    esac
    sleep 1
done
case "$state" in
    idle | mix | alloc) ;;
    *)
        for log in "$LOGS/slurmctld.log" "$LOGS/slurmd.log" /var/log/munge/munged.log; do
            echo "--- tail of $log" >&2
            tail -n 20 "$log" >&2 2>/dev/null || echo "(missing)" >&2
        done
        die "node $HOST not idle after ${WAIT_S} s (sinfo state: '${state:-no answer}'); daemon logs above" ;;
esac
sinfo
