#!/usr/bin/env bash
# A real single-node Slurm cluster, started and stopped by this test (Debian slurm-wlm + munge, as root, no
# cgroups, no accounting): submit the script `vibench slurm` prints (a job array over shards plus a merge
# job with --dependency=afterok), wait for it, and check that the merged results file is bitwise identical
# (every dataset of every cell) to a single-process run of the same grid.
# Usage: slurm_cluster_test.sh VIBENCH_BINARY
set -euo pipefail
VIBENCH=$(readlink -f "${1:?usage: $0 path/to/vibench}")
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${SLURM_TEST_TIMEOUT:-300}   # seconds to wait for the jobs; two cores and scheduler gaps need >= 30

[ "$(id -u)" = 0 ] || { echo "slurm cluster test: must run as root (slurmd starts jobs as root)" >&2; exit 1; }
for prog in munged slurmctld slurmd sbatch scontrol sinfo; do
  command -v "$prog" >/dev/null || { echo "slurm cluster test: '$prog' not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/vibench_slurm.XXXXXX)
chmod 755 "$T"   # munged runs as user munge and must reach its directory
pids=()
cleanup() {
  local rc=$?
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    for log in "$T"/*.log "$T"/out/slurm-*.out; do
      [ -f "$log" ] && { echo "---- $log"; tail -n 30 "$log"; }
    done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT INT TERM

# munge: its own key, socket and state under $T, started as user munge.
# munged wants the socket's directory executable by all and the key private to user munge.
mkdir -p "$T/munge" "$T/munge-key"
dd if=/dev/urandom of="$T/munge-key/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$T/munge" "$T/munge-key"
chmod 755 "$T/munge"; chmod 700 "$T/munge-key"; chmod 400 "$T/munge-key/munge.key"
runuser -u munge -- munged --foreground --socket="$T/munge/munge.socket" --key-file="$T/munge-key/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge-key/munged.seed" > "$T/munged.stderr" 2>&1 &
pids+=($!)

# slurm: controller and one node on 127.0.0.1, ports away from the defaults, state and spool under $T.
node=$(hostname -s)
cpus=$(nproc)
port=$(( 17000 + RANDOM % 2000 ))
mkdir -p "$T/state" "$T/spool" "$T/out"
cat > "$T/slurm.conf" <<CONF
ClusterName=vibench-test
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=vibench Nodes=${node} Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"

for i in $(seq 50); do [ -S "$T/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.socket" ] || { echo "slurm cluster test: munged did not start" >&2; exit 1; }
slurmctld -D -i -f "$SLURM_CONF" > "$T/slurmctld.stderr" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" > "$T/slurmd.stderr" 2>&1 &
pids+=($!)

state=""
for i in $(seq 60); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null || true)
  [ "$state" = "idle" ] && break
  sleep 1
done
[ "$state" = "idle" ] || { echo "slurm cluster test: node not idle after 60 s (state '$state')" >&2; exit 1; }
echo "slurm cluster test: controller and node up on 127.0.0.1:${port}"

# The grid: 6 cells over 3 array tasks.
cat > "$T/cluster.yaml" <<'YAML'
name: cluster
study: gradient_stats
seed: 11
replicates: 4000
fixed:
  target: {name: quadratic}
  family: gaussian_diag
  objective: expectation
grid:
  estimator: [score_function, reparam]
  target.k: [0.5, 1.5, 2.5]
YAML

"$VIBENCH" slurm "$T/cluster.yaml" --array 3 --out "$T/out" > "$T/submit.sh"
submitted=$(bash "$T/submit.sh")
echo "slurm cluster test: $submitted"
merge=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' <<<"$submitted")
[ -n "$merge" ] || { echo "slurm cluster test: could not read the merge job id from '$submitted'" >&2; exit 1; }

# No accounting: job states come from scontrol (records kept for MinJobAge seconds).
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
start=$SECONDS
while :; do
  s=$(job_state "$merge")
  case "$s" in
    COMPLETED) break ;;
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
      echo "slurm cluster test: merge job $merge ended $s" >&2; scontrol show job "$merge" >&2; exit 1 ;;
  esac
  if (( SECONDS - start > TIMEOUT )); then
    echo "slurm cluster test: merge job $merge still '$s' after ${TIMEOUT} s" >&2
    scontrol show job >&2 || true; exit 1
  fi
  sleep 1
done
echo "slurm cluster test: array and merge completed in $((SECONDS - start)) s"
# Every job the script submitted (3 array tasks + the merge) must have completed.
states=$(scontrol show job 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort | uniq -c | xargs)
echo "slurm cluster test: job states: $states"
[ "$states" = "4 COMPLETED" ] || { echo "slurm cluster test: expected 4 COMPLETED jobs" >&2; exit 1; }

# The reference: one process, no shards.
"$VIBENCH" run "$T/cluster.yaml" --out "$T/single" > /dev/null 2>&1
/usr/bin/python3 "$HERE/compare_cells.py" "$T/out/cluster.h5" "$T/single/cluster.h5"
echo "slurm cluster test: passed"
