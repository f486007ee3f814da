#!/usr/bin/env bash
# measure.sh BNNSWEEP N [WORK_DIR] [--no-run] [--no-mpi] [--only-mpi]
#
# Time and peak memory of the sweep runner on a synthetic sweep of about N
# tiny tasks (tests/scale/make_sweep.py): `plan --summary`, `run` on 1 rank,
# `run` again into the finished directory (resume: nothing to do), `merge`,
# and `run` on 2 ranks (mpirun -n 2, a fresh directory). Each command runs
# under /usr/bin/time -v at nice 10; one line per command:
#   N STEP wall_s user_s sys_s max_rss_mb
# and, after each run, rank 0's overhead per task: (wall - the time rank 0's
# compute thread spent in tasks, from the run's profile logs) / all tasks, in ms.
# --no-run skips both runs (the resume and merge then need WORK_DIR/run-1
# from an earlier call); --no-mpi skips the 2-rank run; --only-mpi does only
# the 2-rank run.
# docs/performance.md ("Runner scale") has the numbers and how they were taken.
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
bin="$(readlink -f "$1")"; n="$2"; shift 2
work=/tmp/bns-scale-$n; do_run=1; do_mpi=1; only_mpi=0
for a in "$@"; do
  case "$a" in
    --no-run) do_run=0 ;;
    --no-mpi) do_mpi=0 ;;
    --only-mpi) only_mpi=1 ;;
    *) work="$a" ;;
  esac
done
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${BNS_PYTHON:-/usr/bin/python3}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
spec="$work/scale.yaml"
"$python" "$here/tests/scale/make_sweep.py" "$n" "$spec" 2>/dev/null

measure() {  # measure STEP LOG COMMAND...
  local step="$1" log="$2"; shift 2
  local rc=0
  nice -n 10 /usr/bin/time -v -o "$work/$step.time" "$@" >"$log" 2>&1 || rc=$?
  "$python" - "$work/$step.time" "$n" "$step" "$rc" <<'PY'
import sys
path, n, step, rc = sys.argv[1:]
v = {}
for line in open(path):
    k, _, val = line.strip().rpartition(": ")
    v[k] = val
w = v["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
print(f"{n} {step} {wall:.2f} {float(v['User time (seconds)']):.2f} {float(v['System time (seconds)']):.2f} "
      f"{int(v['Maximum resident set size (kbytes)']) / 1024:.1f}" + ("" if rc == "0" else f" (exit {rc})"))
PY
}

overhead() {  # overhead STEP RUN_DIR: (wall - rank 0's task seconds) / tasks
  "$python" - "$work/$1.time" "$2" <<'PY'
import glob, sys
time_path, run = sys.argv[1:]
for line in open(time_path):
    if "Elapsed (wall clock)" in line:
        w = line.strip().rpartition(": ")[2].split(":")
        wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
busy, tasks, mine = 0.0, 0, 0
for log in glob.glob(run + "/profile/*.log"):
    rank0 = ".r0." in log
    for line in open(log):
        if line.startswith("task "):
            tasks += 1
            if rank0:
                f = dict(kv.split("=") for kv in line.split()[2:])
                busy += float(f["end"]) - float(f["start"])
                mine += 1
print(f"   rank 0 ran {mine} of {tasks} tasks, {busy:.2f} s in them; wall - that = "
      f"{1e3 * (wall - busy) / max(tasks, 1):.3f} ms per task")
PY
}

if ((!only_mpi)); then
  measure plan "$work/plan.log" "$bin" plan "$spec" --summary
  if ((do_run)); then
    rm -rf "$work/run-1"
    measure run1 "$work/run1.log" "$bin" run "$spec" --out "$work/run-1"
    overhead run1 "$work/run-1"
  fi
  measure resume "$work/resume.log" "$bin" run "$spec" --out "$work/run-1"
  measure merge "$work/merge.log" "$bin" merge "$work/run-1"
fi
if ((do_run && do_mpi)); then
  rm -rf "$work/run-2"
  measure run2 "$work/run2.log" mpirun --oversubscribe --bind-to none -n 2 "$bin" run "$spec" --out "$work/run-2"
  overhead run2 "$work/run-2"
fi
