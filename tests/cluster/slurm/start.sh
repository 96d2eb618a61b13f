#!/usr/bin/env bash
# Start a throw-away one-node SLURM cluster (munged + slurmctld + slurmd) on THIS host.
#
# Usage: tests/cluster/slurm/start.sh [STATE_DIR]      (default: /tmp/neurovid-slurm)
#
# - installs Debian's slurm-wlm and munge with apt-get when they are missing (needs root);
# - writes STATE_DIR/slurm.conf for this host and a munge key STATE_DIR/munge/munge.key;
# - starts munged, slurmctld and slurmd by hand (no systemd), each writing a pid file
#   in STATE_DIR; everything (munge socket, spool, state, logs) lives in STATE_DIR and a
#   system munged, if any, is left alone. The one thing outside: /etc/slurm/slurm.conf
#   becomes a symlink to STATE_DIR/slurm.conf (jobs' nested srun needs it, see below);
#   an existing config there that is not such a link is never replaced;
# - waits (bounded) until `sinfo` shows the node idle;
# - prints the environment the client commands need, as `export NAME=VALUE` lines on
#   stdout (everything else goes to stderr), so `eval "$(start.sh)"` works.
#
# Idempotent: a daemon whose pid file points to a live process of the right name is
# not started again. Stop with tests/cluster/slurm/stop.sh STATE_DIR.
#
# Tunables (environment): NEUROVID_SLURM_WAIT (seconds to wait for the node, default 60),
# NEUROVID_SLURMCTLD_PORT (default 6817), NEUROVID_SLURMD_PORT (default 6818),
# NEUROVID_SLURM_MEM_MARGIN_MB (memory kept back from the node, default: max(1024, 10%)).
set -euo pipefail

STATE_DIR="${1:-/tmp/neurovid-slurm}"
WAIT_SECONDS="${NEUROVID_SLURM_WAIT:-60}"
CTLD_PORT="${NEUROVID_SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${NEUROVID_SLURMD_PORT:-6818}"

log() { printf 'slurm-start: %s\n' "$*" >&2; }
die() {
    printf 'slurm-start: ERROR: %s\n' "$*" >&2
    exit 1
}

[[ "$(id -u)" -eq 0 ]] || die "must run as root (it installs packages and runs slurmd)"
[[ "$STATE_DIR" = /* ]] || STATE_DIR="$(pwd)/$STATE_DIR"

# --- 1. packages -------------------------------------------------------------------------
need_install=0
for cmd in munged mungekey slurmctld slurmd sbatch squeue sinfo scancel scontrol; do
    command -v "$cmd" >/dev/null 2>&1 || need_install=1
done
if [[ $need_install -eq 1 ]]; then
    log "installing slurm-wlm and munge with apt-get (one-off, takes a minute) ..."
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' maintainer scripts from starting daemons of their own.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
    fi
    apt_ok=0
    for attempt in 1 2; do
        if [[ $attempt -eq 2 ]] || ! apt-cache show slurmctld >/dev/null 2>&1; then
            apt-get update -q >&2 || true
        fi
        if apt-get install -y -q --no-install-recommends slurm-wlm munge >&2; then
            apt_ok=1
            break
        fi
    done
    [[ $apt_ok -eq 1 ]] || die "apt-get install slurm-wlm munge failed"
fi
for cmd in munged mungekey slurmctld slurmd sbatch squeue sinfo scancel scontrol; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found after installing slurm-wlm/munge"
done

# --- 2. state dir, lock ------------------------------------------------------------------
mkdir -p "$STATE_DIR"
chmod 755 "$STATE_DIR"
exec 9>"$STATE_DIR/.lock"
flock -w 120 9 || die "another start.sh/stop.sh holds $STATE_DIR/.lock"

MUNGE_DIR="$STATE_DIR/munge"
CONF="$STATE_DIR/slurm.conf"
SOCKET="$MUNGE_DIR/munge.socket"
mkdir -p "$MUNGE_DIR" "$STATE_DIR/ctld" "$STATE_DIR/slurmd" "$STATE_DIR/log"
chmod 755 "$MUNGE_DIR"
chmod 700 "$STATE_DIR/ctld" "$STATE_DIR/slurmd"

# alive NAME PIDFILE: true when PIDFILE names a live process whose comm is NAME.
alive() {
    local name="$1" pidfile="$2" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" && -r "/proc/$pid/comm" ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]]
}

# wait_pidfile NAME PIDFILE SECONDS: wait for a daemon to write its pid file and be alive.
wait_pidfile() {
    local name="$1" pidfile="$2" secs="$3" i
    for ((i = 0; i < secs * 10; i++)); do
        alive "$name" "$pidfile" && return 0
        sleep 0.1
    done
    return 1
}

# --- 3. slurm.conf -----------------------------------------------------------------------
NODE="$(hostname -s)"
CPUS="$(nproc)"
mem_total_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
default_margin_mb=$((mem_total_mb / 10 > 1024 ? mem_total_mb / 10 : 1024))
margin_mb="${NEUROVID_SLURM_MEM_MARGIN_MB:-$default_margin_mb}"
REAL_MEM=$((mem_total_mb - margin_mb))
((REAL_MEM >= 256)) || die "too little memory for a node: ${mem_total_mb} MB total"

MARKER="Written by neurovid tests/cluster/slurm/start.sh"
new_conf="$(
    cat <<EOF
# ${MARKER} -- a throw-away one-node test cluster.
ClusterName=neurovid
SlurmctldHost=${NODE}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${SOCKET}
StateSaveLocation=${STATE_DIR}/ctld
SlurmdSpoolDir=${STATE_DIR}/slurmd
SlurmctldPidFile=${STATE_DIR}/slurmctld.pid
SlurmdPidFile=${STATE_DIR}/slurmd.pid
SlurmctldLogFile=${STATE_DIR}/log/slurmctld.log
SlurmdLogFile=${STATE_DIR}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
# Finished jobs stay visible to squeue this long; the snakemake plugin polls with squeue
# and needs MinJobAge >= 3 x --slurm-init-seconds-before-status-checks (default 40 s).
MinJobAge=300
ReturnToService=2
InactiveLimit=0
KillWait=10
Waittime=0
SlurmctldTimeout=60
SlurmdTimeout=120
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${REAL_MEM} State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
EOF
)"

export SLURM_CONF="$CONF"
ctld_pid="$STATE_DIR/slurmctld.pid"
slurmd_pid="$STATE_DIR/slurmd.pid"
munge_pid="$STATE_DIR/munged.pid"

if [[ -f "$CONF" ]] && [[ "$(cat "$CONF")" == "$new_conf" ]]; then
    log "slurm.conf unchanged: $CONF"
else
    if alive slurmctld "$ctld_pid" || alive slurmd "$slurmd_pid"; then
        die "slurm.conf would change but daemons from $STATE_DIR are running: run stop.sh first"
    fi
    printf '%s\n' "$new_conf" >"$CONF"
    chmod 644 "$CONF"
    log "wrote $CONF (node $NODE: CPUs=$CPUS RealMemory=${REAL_MEM}MB)"
fi

# Jobs' nested `srun` (snakemake's slurm-jobstep executor) runs with every SLURM_* variable
# but the job ids stripped, SLURM_CONF included, so it only finds the default config path:
# link it to ours. A config there that is not a neurovid link is never replaced.
ETC_CONF=/etc/slurm/slurm.conf
if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$CONF" ]]; then
    :
elif [[ -L "$ETC_CONF" ]] && { [[ ! -e "$ETC_CONF" ]] || grep -q "$MARKER" "$ETC_CONF"; }; then
    ln -sfn "$CONF" "$ETC_CONF"
    log "re-pointed $ETC_CONF -> $CONF"
elif [[ -e "$ETC_CONF" ]]; then
    die "$ETC_CONF exists and is not a neurovid test config: refusing to replace it"
else
    mkdir -p "$(dirname "$ETC_CONF")"
    ln -s "$CONF" "$ETC_CONF"
    log "linked $ETC_CONF -> $CONF"
fi

# --- 4. munged ---------------------------------------------------------------------------
if [[ ! -s "$MUNGE_DIR/munge.key" ]]; then
    mungekey --create --keyfile="$MUNGE_DIR/munge.key" --force
    chmod 600 "$MUNGE_DIR/munge.key"
    log "created munge key $MUNGE_DIR/munge.key"
fi
if alive munged "$munge_pid"; then
    log "munged already running (pid $(cat "$munge_pid"))"
else
    rm -f "$munge_pid" "$SOCKET" "$SOCKET.lock"
    log "starting munged"
    munged --force \
        --key-file="$MUNGE_DIR/munge.key" \
        --socket="$SOCKET" \
        --pid-file="$munge_pid" \
        --log-file="$STATE_DIR/log/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed" \
        --num-threads=2 9>&- </dev/null >>"$STATE_DIR/log/munged.out" 2>&1 ||
        die "munged failed to start; see $STATE_DIR/log/munged.{log,out}"
    wait_pidfile munged "$munge_pid" 10 ||
        die "munged did not come up; see $STATE_DIR/log/munged.{log,out}"
fi
# Sanity: the socket authenticates.
munge --socket="$SOCKET" -n </dev/null | unmunge --socket="$SOCKET" >/dev/null ||
    die "munge round trip failed on $SOCKET; see $STATE_DIR/log/munged.{log,out}"

# --- 5. slurmctld, slurmd ----------------------------------------------------------------
if alive slurmctld "$ctld_pid"; then
    log "slurmctld already running (pid $(cat "$ctld_pid"))"
else
    rm -f "$ctld_pid"
    log "starting slurmctld"
    # -c: start from a clean job state (this is a throw-away cluster). "9>&-": daemons must
    # not inherit the lock.
    slurmctld -c -f "$CONF" 9>&- </dev/null >>"$STATE_DIR/log/slurmctld.out" 2>&1 ||
        die "slurmctld failed; see $STATE_DIR/log/slurmctld.{log,out}"
    wait_pidfile slurmctld "$ctld_pid" 20 ||
        die "slurmctld did not come up; see $STATE_DIR/log/slurmctld.{log,out}"
fi
if alive slurmd "$slurmd_pid"; then
    log "slurmd already running (pid $(cat "$slurmd_pid"))"
else
    rm -f "$slurmd_pid"
    log "starting slurmd"
    slurmd -f "$CONF" -N "$NODE" 9>&- </dev/null >>"$STATE_DIR/log/slurmd.out" 2>&1 ||
        die "slurmd failed; see $STATE_DIR/log/slurmd.{log,out}"
    wait_pidfile slurmd "$slurmd_pid" 20 ||
        die "slurmd did not come up; see $STATE_DIR/log/slurmd.{log,out}"
fi

# --- 6. wait for the node ----------------------------------------------------------------
log "waiting up to ${WAIT_SECONDS}s for node $NODE to be idle"
deadline=$((SECONDS + WAIT_SECONDS))
state=""
while ((SECONDS < deadline)); do
    state="$(sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n1 || true)"
    case "$state" in
    idle | mix | alloc) break ;;
    down* | drain* | drng*)
        scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        ;;
    esac
    alive slurmctld "$ctld_pid" || die "slurmctld died; see $STATE_DIR/log/slurmctld.{log,out}"
    alive slurmd "$slurmd_pid" || die "slurmd died; see $STATE_DIR/log/slurmd.{log,out}"
    sleep 1
done
case "$state" in
idle | mix | alloc) ;;
*)
    sinfo -N -l >&2 || true
    die "node $NODE not ready after ${WAIT_SECONDS}s (state '${state}'); logs in $STATE_DIR/log"
    ;;
esac
log "node $NODE is $state ($(sinfo -V 2>/dev/null || echo slurm)); cluster ready in ${SECONDS}s"

# --- 7. environment for the clients (stdout) ---------------------------------------------
printf 'export SLURM_CONF=%q\n' "$CONF"
printf 'export NEUROVID_SLURM_STATE_DIR=%q\n' "$STATE_DIR"
printf 'export NEUROVID_SLURM_PARTITION=%q\n' "debug"
