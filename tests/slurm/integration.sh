#!/usr/bin/env bash
# integration.sh BNNSWEEP PYTHON MPIEXEC WORKDIR - the slurm/ scripts for real:
# start a one-node SLURM on localhost (munge, slurmctld, slurmd; recipe in
# ../shared/slurm-local.md), submit sweeps/tiny.yaml once with
# slurm/sweep.sbatch (2 MPI ranks) and once as job arrays with slurm/array.sh,
# wait for them, check both cubes against a plain mpirun run, and stop every
# daemon this script started (by PID file, never by name).
set -euo pipefail
bin="$1" python="$2" mpiexec="$3" work="$4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
spec="$root/sweeps/tiny.yaml"
compare="$root/tests/sweep/compare_cubes.py"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"   # Open MPI's own leaks (tests/CMakeLists.txt)
export BNNSWEEP="$bin"
# the test shares the machine with other tests: no pinning of ranks to cores
export BNNSWEEP_LAUNCH="mpirun --bind-to none"
fail() { echo "FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (starts munged, slurmctld, slurmd)"
for cmd in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || fail "$cmd not found: apt-get install slurm-wlm munge"
done

rm -rf "$work"
mkdir -p "$work"
D="$(mktemp -d)"
mkdir -p "$D"/{state,spool,log}
started_munge=0
cleanup() {
  for pid_file in "$D/slurmd.pid" "$D/slurmctld.pid"; do
    [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null || true
  done
  if [ "$started_munge" = 1 ] && [ -f /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  fi
  sleep 1
  rm -rf "$D"
}
trap cleanup EXIT

if ! { [ -f /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; }; then
  mkdir -p /run/munge && chown munge:munge /run/munge
  runuser -u munge -- /usr/sbin/munged
  started_munge=1
fi
host="$(hostname -s)"
cat > "$D/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$D/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %t | grep -q idle || { cat "$D/log/"*.log >&2; fail "the local SLURM node never became idle"; }

cd "$work"
"$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n 2 "$bin" run "$spec" --out mpi --quiet
# (1) the whole sweep in one allocation of 2 ranks
cd "$root"
sweep_job="$(sbatch --parsable --ntasks=2 --output="$work/sweep-%j.out" slurm/sweep.sbatch "$spec" "$work/sbatch" --quiet)"
# (2) job arrays, stage by stage, then the merge
bash slurm/array.sh "$spec" "$work/array" --train 2 --attack 1 --eval 3 -- --output="$work/array-%A_%a.out" \
  | tee "$work/array-jobs.txt"
for _ in $(seq 1 600); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h)" ] || { squeue; fail "jobs still queued after 600 s"; }
cat "$work"/sweep-*.out
[ -f "$work/sbatch/cube.h5" ] || fail "slurm/sweep.sbatch (job $sweep_job) wrote no cube"
[ -f "$work/array/cube.h5" ] || { cat "$work"/array-*.out; fail "slurm/array.sh wrote no cube"; }
grep -q "^merge: job" "$work/array-jobs.txt" || fail "array.sh submitted no merge job"
"$python" "$compare" "$work/mpi/cube.h5" "$work/sbatch/cube.h5" "$work/array/cube.h5"
echo "slurm integration: 1 passed, 0 failed"
