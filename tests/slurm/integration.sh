#!/usr/bin/env bash
# integration.sh BNNSWEEP PYTHON MPIEXEC WORKDIR - the slurm/ scripts for real:
# start a one-node SLURM on localhost (munge, slurmctld, slurmd; recipe in
# ../shared/slurm-local.md), submit sweeps/tiny.yaml once with
# slurm/sweep.sbatch (2 MPI ranks) and once as job arrays with slurm/array.sh,
# wait for them, check both cubes against a plain mpirun run, check srun
# without an MPI plugin is refused with a message, srun --mpi=pmix gives the
# same cube (srun --mpi=pmi2 too where Open MPI has a PMI-2 client; Debian's
# Open MPI 4.1 has none, and there the step must fail in MPI_Init before any
# work), a rank killed under sweep.sbatch ends its job, and array.sh's
# later stages run when a shard is killed (resubmitting resumes); stop every
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
mkdir -p "$D"/{state,spool,log,tmp}
started_munge=0
waiter=""
cleanup() {
  # this private cluster's jobs first (all of them are this script's): a
  # step left running when slurmd stops keeps its ranks, srun and
  # slurmstepd alive, computing after the test has failed and holding
  # ctest's output pipe open until its timeout
  if [ -f "$D/slurmctld.pid" ]; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    # shellcheck disable=SC2086  # a list of job ids
    [ -z "$jobs" ] || scancel $jobs 2>/dev/null || true
    for _ in $(seq 1 300); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  # and a background `sbatch --wait` (the waiter subshell's child), which
  # would poll the stopped controller for ever: by pid
  if [ -n "$waiter" ]; then
    for pid in $(ps -o pid= --ppid "$waiter" 2>/dev/null) "$waiter"; do kill "$pid" 2>/dev/null || true; done
  fi
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
# the PMIx plugin's per-step directories (spmix_appdir_UID_JOB.STEP) go here,
# not /tmp: a step killed with its slurmstepd leaves its directory behind,
# and job ids restart at 1 with each fresh state directory, so the next run's
# step of the same id would fail to launch over it
TmpFS=$D/tmp
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
# (0) srun without an MPI plugin (what MpiDefault=none gives): every task
# stops with a message before any work, and the step fails
status=0
srun --mpi=none -n 2 --kill-on-bad-exit=1 "$bin" run "$spec" --out nopmi --quiet >nopmi.out 2>&1 || status=$?
[ "$status" -ne 0 ] || { cat nopmi.out; fail "srun --mpi=none -n 2 bnnsweep run exited 0"; }
grep -q "started by srun as 2 tasks.*MPI sees 1 process" nopmi.out || { cat nopmi.out; fail "no srun message"; }
[ ! -e nopmi ] || fail "srun without PMI created the run directory"
"$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n 2 "$bin" run "$spec" --out mpi --quiet
# (0b) srun with PMIx (Debian's SLURM and Open MPI both have it): the same cube as mpirun's
srun --mpi=pmix -n 2 --kill-on-bad-exit=1 "$bin" run "$spec" --out srun-pmix --quiet
"$python" "$compare" mpi/cube.h5 srun-pmix/cube.h5
# (0b') srun --mpi=pmi2: Debian's SLURM has the plugin (srun --mpi=list) but
# Debian's Open MPI 4.1 is built without SLURM's PMI-2 client, so MPI_Init
# aborts ("OMPI was not built with SLURM's PMI support"): then nothing may
# have been started; with an Open MPI that has it, the same cube
status=0
srun --mpi=pmi2 -n 2 --kill-on-bad-exit=1 "$bin" run "$spec" --out srun-pmi2 --quiet >pmi2.out 2>&1 || status=$?
if [ "$status" -eq 0 ]; then
  "$python" "$compare" mpi/cube.h5 srun-pmi2/cube.h5
  echo "srun --mpi=pmi2: the same cube"
else
  grep -q "MPI_Init\|PMI" pmi2.out || { cat pmi2.out; fail "srun --mpi=pmi2 failed, but not in MPI_Init"; }
  [ ! -e srun-pmi2 ] || fail "srun --mpi=pmi2 failed in MPI_Init but created the run directory"
  echo "srun --mpi=pmi2: refused by this Open MPI in MPI_Init (no PMI-2 client), nothing started"
fi
# (0c) a rank killed under slurm/sweep.sbatch with srun: the job ends (no
# rank waits forever for it), finished tasks stay, resubmitting completes
slow=(--set data.train_limit=20000 --set train.max_epochs=40)
(cd "$root" && BNNSWEEP_LAUNCH="srun --mpi=pmix" sbatch --wait --ntasks=2 --output="$work/killrank-%j.out" \
  slurm/sweep.sbatch "$spec" "$work/killrank" --quiet "${slow[@]}" >/dev/null 2>&1) &
waiter=$!
# until its first model is saved: no fixed bound (a loaded machine and a
# sanitizer build take minutes; ctest's TIMEOUT bounds the test), but a job
# that ended first is a failure
while ! compgen -G "killrank/tasks/train-*.h5" >/dev/null && kill -0 "$waiter" 2>/dev/null; do sleep 0.1; done
compgen -G "killrank/tasks/train-*.h5" >/dev/null || fail "the killrank job ended without saving a model"
# one rank of that job, by its pid: a process whose program is $bin and whose
# command line names this test's run directory (srun's names it too, after "srun")
rank_pid=""
for p in /proc/[0-9]*; do
  cmd=$(tr '\0' '\n' < "$p/cmdline" 2>/dev/null) || continue
  [ "$(head -n 1 <<<"$cmd")" = "$bin" ] && grep -qx -- "$work/killrank" <<<"$cmd" && { rank_pid=${p#/proc/}; break; }
done
[ -n "$rank_pid" ] || fail "found no rank of the killrank job"
kill -KILL "$rank_pid"
echo "killed rank process $rank_pid" >&2
for _ in $(seq 1 1200); do kill -0 "$waiter" 2>/dev/null || break; sleep 0.1; done
kill -0 "$waiter" 2>/dev/null && { squeue; fail "the job of a killed rank still runs 120 s later"; }
wait "$waiter" || true
kept=$(compgen -G "killrank/tasks/*.h5" | wc -l)
[ "$kept" -ge 1 ] || fail "the killed job kept no finished task"
(cd "$root" && BNNSWEEP_LAUNCH="srun --mpi=pmix" sbatch --wait --ntasks=2 --output="$work/killrank-again-%j.out" \
  slurm/sweep.sbatch "$spec" "$work/killrank" --quiet "${slow[@]}" >/dev/null) || fail "resubmitting the killed sweep failed"
[ -f killrank/cube.h5 ] || fail "the resubmitted sweep wrote no cube"
echo "killed rank: the job ended, $kept task files kept, the resubmission completed"
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
# (3) job arrays with a train shard killed (as a time limit or the OOM killer
# would: the array task ends FAILED by SIGKILL): the later stages and the
# merge still run (afterany; a partial cube, merge exits 1) instead of
# pending forever, and submitting the same command again resumes to the cube
# of the plain mpirun run (0). The kill is deterministic: a wrapper given as
# BNNSWEEP kills itself when started as train shard 0/2.
cat > "$work/killed-shard.sh" <<WRAP
#!/usr/bin/env bash
case " \$* " in *" --stage train --shard 0/2 "*) kill -KILL \$\$ ;; esac
exec "$bin" "\$@"
WRAP
chmod +x "$work/killed-shard.sh"
wait_queue() {
  for _ in $(seq 1 300); do
    [ -z "$(squeue -h 2>/dev/null)" ] && return 0
    sleep 1
  done
  squeue; fail "$1"
}
BNNSWEEP="$work/killed-shard.sh" bash slurm/array.sh "$spec" "$work/arraykill" --train 2 --attack 1 --eval 3 \
  -- --output="$work/arraykill-%A_%a.out" | tee "$work/arraykill-jobs1.txt"
wait_queue "a killed train shard left the later stages pending 300 s"
merge_id=$(awk '/^merge: job/ {print $3}' "$work/arraykill-jobs1.txt")
grep -q "(partial)" "$work/arraykill-${merge_id}"_*.out ||
  { cat "$work"/arraykill-*.out; fail "no partial cube after a killed shard"; }
bash slurm/array.sh "$spec" "$work/arraykill" --train 2 --attack 1 --eval 3 \
  -- --output="$work/arraykill-again-%A_%a.out" | tee "$work/arraykill-jobs2.txt"
wait_queue "the resubmitted arrays still queued after 300 s"
"$python" "$compare" "$work/mpi/cube.h5" "$work/arraykill/cube.h5"
echo "killed shard: later stages and the merge ran (partial cube), the resubmission completed"
echo "slurm integration: 1 passed, 0 failed"
