#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, and the tiny two-biobank workflow through it.
#
# Installs Debian's slurm-wlm and munge when missing, writes a cgroup-free slurm.conf for this
# machine (its hostname, CPUs and memory) under a scratch folder, starts munged, slurmctld and
# slurmd, runs the workflow once locally and once through snakemake-executor-plugin-slurm with
# workflow/profiles/slurm, and checks that:
#   - every workflow job ran as a SLURM job that completed (SLURM's job completion log),
#   - at least two SLURM jobs overlapped in time (per-biobank jobs run in parallel),
#   - every result file equals the local run's, byte for byte.
# The daemons are stopped on exit, also on failure. Needs root (or sudo) for apt-get and slurmd.
#
# Usage: scripts/test-slurm.sh            (or: make test-slurm)
# Environment: IGS_SLURM_WORK (scratch folder, default a new /tmp/igs-slurm.*),
#              IGS_SLURM_KEEP=1 keeps it, IGS_SLURM_PORT (slurmctld port; slurmd uses +1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$REPO/.venv/bin:$PATH"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
T0=$(date +%s)
say() { echo "[test-slurm $(($(date +%s) - T0))s] $*"; }
fail() { echo "[test-slurm] FAILED: $*" >&2; exit 1; }

# --- 1. Debian packages -------------------------------------------------------------------
missing=""
for cmd in slurmctld:slurm-wlm slurmd:slurm-wlm sbatch:slurm-client munged:munge; do
    pkg="${cmd#*:}"
    command -v "${cmd%%:*}" >/dev/null || [[ " $missing " == *" $pkg "* ]] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
command -v snakemake >/dev/null || fail "snakemake not found; run 'make install' first."

# --- 2. A one-node cluster in a scratch folder ----------------------------------------------
WORK="${IGS_SLURM_WORK:-$(mktemp -d /tmp/igs-slurm.XXXXXX)}"
mkdir -p "$WORK"/{state,spool,log,run}
chmod 0755 "$WORK"
PORT="${IGS_SLURM_PORT:-6817}"
HOST="$(hostname -s)"
CPUS="$(nproc)"
# Memory slurmd may hand out: 80% of the machine (slurmd drains a node that claims more).
MEM_MB=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
USER_NAME="$(id -un)"

stop_cluster() {
    set +e
    for pidfile in "$WORK"/run/slurmd.pid "$WORK"/run/slurmctld.pid "$WORK"/run/munged.pid; do
        [ -s "$pidfile" ] && $SUDO kill "$(cat "$pidfile")" 2>/dev/null
    done
    sleep 1
    [ "${LINKED_CONF:-0}" = 1 ] && $SUDO rm -f "$SYSTEM_CONF"
    if [ "${IGS_SLURM_KEEP:-0}" = 1 ]; then
        echo "[test-slurm] kept $WORK"
    else
        $SUDO rm -rf "$WORK"
    fi
}
trap stop_cluster EXIT

# munged on its own socket and key, so a site's munged (if any) is left alone.
dd if=/dev/urandom of="$WORK/munge.key" bs=1 count=1024 status=none
chmod 0400 "$WORK/munge.key"
MUNGE_SOCKET="$WORK/run/munge.socket"
$SUDO munged --force --socket="$MUNGE_SOCKET" --key-file="$WORK/munge.key" \
    --pid-file="$WORK/run/munged.pid" --log-file="$WORK/log/munged.log" \
    --seed-file="$WORK/run/munged.seed"

cat >"$WORK/slurm.conf" <<EOF
# One-node test cluster written by scripts/test-slurm.sh (no cgroups: works in containers).
ClusterName=igs-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$USER_NAME
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
# Keep finished jobs visible to squeue while snakemake polls.
MinJobAge=600
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=igs Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$WORK/slurm.conf"
# The executor's job step strips SLURM_* (SLURM_CONF too) before its nested srun, so srun inside a
# job reads the compiled-in path: link it to ours while the cluster runs, unless a site has one.
SYSTEM_CONF=/etc/slurm/slurm.conf
if [ -e "$SYSTEM_CONF" ] || [ -L "$SYSTEM_CONF" ]; then
    fail "$SYSTEM_CONF exists: this machine has its own SLURM; run the workflow on it as README says."
fi
$SUDO mkdir -p "$(dirname "$SYSTEM_CONF")"
$SUDO ln -s "$SLURM_CONF" "$SYSTEM_CONF"
LINKED_CONF=1

say "starting slurmctld and slurmd ($HOST: $CPUS CPUs, $MEM_MB MB)"
$SUDO env SLURM_CONF="$SLURM_CONF" slurmctld -i
$SUDO env SLURM_CONF="$SLURM_CONF" slurmd
for _ in $(seq 60); do
    state="$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || {
    tail -20 "$WORK"/log/slurmctld.log "$WORK"/log/slurmd.log >&2
    fail "node $HOST is '$state', not idle, after 60 s (logs above)."
}
say "node $HOST is idle"

# --- 3. The tiny workflow, locally and through SLURM ----------------------------------------
TINY="$WORK/tiny.yaml"
cat >"$TINY" <<'EOF'
simulation: {seed: 7, n_variants: 2000, chromosomes: ["1", "2"]}
biobanks:
  - {name: tiny_a, simulate: {n_samples: 200, seed: 5}}
  - {name: tiny_b, simulate: {n_samples: 150, seed: 6, ancestry_proportions: [0.5, 0.3, 0.2],
                              phenotype_source: omop}}
pheno: {endpoints: [{name: CAD, icd10: ["I21", "I25.1"]}]}
EOF
mkdir -p "$WORK/local" "$WORK/slurm"

say "local run"
snakemake -s "$REPO/Snakefile" --directory "$WORK/local" --profile "$REPO/workflow/profiles/local" \
    --configfile "$TINY" >"$WORK/local.log" 2>&1 || { tail -30 "$WORK/local.log"; fail "local run"; }

say "SLURM run"
S0=$(date +%s)
# The executor's own log folder lives in the run folder; finished jobs are polled with squeue
# (no slurmdbd here, so sacct has nothing to report).
snakemake -s "$REPO/Snakefile" --directory "$WORK/slurm" --profile "$REPO/workflow/profiles/slurm" \
    --configfile "$TINY" \
    --default-resources slurm_account=igs slurm_partition=igs \
    --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 \
    --slurm-keep-successful-logs --slurm-logdir "$WORK/slurm/.slurm_logs" \
    >"$WORK/slurm.log" 2>&1 || {
    tail -40 "$WORK/slurm.log"
    fail "SLURM run (log: $WORK/slurm.log)"
}
SLURM_S=$(($(date +%s) - S0))
say "SLURM run took ${SLURM_S} s"

# --- 4. Checks -------------------------------------------------------------------------------
python "$REPO/scripts/check_slurm_run.py" --jobcomp "$WORK/log/jobcomp.txt" \
    --snakemake-log "$WORK/slurm.log" --local "$WORK/local/results" --slurm "$WORK/slurm/results"
say "passed; SLURM run ${SLURM_S} s, whole script $(($(date +%s) - T0)) s"
