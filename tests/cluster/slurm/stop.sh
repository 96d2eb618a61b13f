#!/usr/bin/env bash
# Stop the one-node SLURM cluster that tests/cluster/slurm/start.sh started.
#
# Usage: tests/cluster/slurm/stop.sh [STATE_DIR]       (default: /tmp/neurovid-slurm)
#
# Only the daemons named by STATE_DIR's pid files are stopped (slurmd, slurmctld, munged,
# in that order), and only when the pid still belongs to a process of the expected name:
# nothing is ever killed by name. Jobs still in the cluster are cancelled first so that
# no slurmstepd or job process outlives slurmd. Each daemon gets SIGTERM, then SIGKILL
# after a bounded wait. Pid files are removed; the rest of STATE_DIR (config, key, logs)
# is kept for inspection and reuse. Safe to call when nothing is running.
set -euo pipefail

STATE_DIR="${1:-/tmp/neurovid-slurm}"
TERM_WAIT="${NEUROVID_SLURM_STOP_WAIT:-20}"

log() { printf 'slurm-stop: %s\n' "$*" >&2; }

if [[ ! -d "$STATE_DIR" ]]; then
    log "no state dir $STATE_DIR: nothing to stop"
    exit 0
fi

exec 9>"$STATE_DIR/.lock"
flock -w 120 9 || {
    log "ERROR: another start.sh/stop.sh holds $STATE_DIR/.lock"
    exit 1
}

# pid_of NAME PIDFILE: print the pid when PIDFILE names a live process whose comm is NAME.
pid_of() {
    local name="$1" pidfile="$2" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" && -r "/proc/$pid/comm" ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] || return 1
    printf '%s\n' "$pid"
}

# stop_daemon NAME PIDFILE
stop_daemon() {
    local name="$1" pidfile="$2" pid i
    if ! pid="$(pid_of "$name" "$pidfile")"; then
        [[ -e "$pidfile" ]] && log "$name: stale pid file $pidfile removed"
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < TERM_WAIT * 10; i++)); do
        [[ -d "/proc/$pid" ]] || break
        sleep 0.1
    done
    if [[ -d "/proc/$pid" ]]; then
        log "$name (pid $pid) ignored SIGTERM for ${TERM_WAIT}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            [[ -d "/proc/$pid" ]] || break
            sleep 0.1
        done
    fi
    if [[ -d "/proc/$pid" ]]; then
        log "ERROR: $name (pid $pid) is still alive"
        return 1
    fi
    rm -f "$pidfile"
}

# Cancel whatever is left in this cluster's queue (only when its slurmctld is ours and up).
if [[ -f "$STATE_DIR/slurm.conf" ]] && pid_of slurmctld "$STATE_DIR/slurmctld.pid" >/dev/null; then
    export SLURM_CONF="$STATE_DIR/slurm.conf"
    jobs="$(timeout 10 squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ' || true)"
    if [[ -n "${jobs// /}" ]]; then
        log "cancelling leftover jobs: $jobs"
        # shellcheck disable=SC2086  # word splitting of the job id list is intended
        timeout 10 scancel $jobs 2>/dev/null || true
        for ((i = 0; i < 30; i++)); do
            [[ -z "$(timeout 10 squeue -h -t PD,R,CG,CF,S -o '%A' 2>/dev/null || true)" ]] && break
            sleep 0.5
        done
    fi
fi

rc=0
stop_daemon slurmd "$STATE_DIR/slurmd.pid" || rc=1
stop_daemon slurmctld "$STATE_DIR/slurmctld.pid" || rc=1
stop_daemon munged "$STATE_DIR/munged.pid" || rc=1

# start.sh links /etc/slurm/slurm.conf to our config for the jobs' nested srun: unlink.
ETC_CONF=/etc/slurm/slurm.conf
if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$STATE_DIR/slurm.conf" ]]; then
    rm -f "$ETC_CONF"
    log "removed link $ETC_CONF"
fi
if [[ $rc -eq 0 ]]; then
    log "stopped (state kept in $STATE_DIR)"
fi
exit "$rc"
