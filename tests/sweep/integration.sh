#!/usr/bin/env bash
# integration.sh CASE BNNSWEEP PYTHON MPIEXEC WORKDIR - end-to-end tests of
# `bnnsweep run` on sweeps/tiny.yaml (registered with ctest, one test per CASE):
#   ranks      1, 2 and 3 ranks give bit-identical cubes that xarray opens;
#              eval with an unreadable OOD set exits 1 naming it; a late
#              merge with fewer tasks done keeps the more complete cube
#   resume     a run killed with SIGKILL midway, run again, recomputes only
#              what was missing and ends with the same cube as a clean run
#   failure    a diverging model is recorded as failed, its evaluations are
#              skipped, the rest finishes, the exit status says incomplete
#   malformed  a bad sweep file: exit status 2 and an error naming file:line;
#              --out creates missing parents, and names one it cannot create
#   methods    every method (bbb, lrt, deterministic, dropout with an MC and a
#              plain view, alpha, sgld) on clean, attack and OOD sets
#              (tests/data/specs/methods_tiny.yaml): identical cubes on 1 and 3 ranks
#   teacher    apd and mog groups whose teacher is the sgld group of the same
#              sweep (tests/data/specs/teacher_tiny.yaml): identical cubes on 1
#              and 3 ranks; each student file names its teacher task; a
#              student deleted and resumed comes back bit-identical; train
#              shards (run in reverse order) run a teacher before its students
#   shards     stage shards run one by one, then merged: the MPI run's cube;
#              a grid over an evaluation setting (mc_dropout) trains once per
#              model, its views run in their model's shard
#   versions   task files record program and results versions and the BLAS
#              kernels (the cube tallies them; mixed kernels: a warning); a resume over
#              another results version refuses, listing the tasks;
#              --accept-stale keeps and records them, --rerun-stale redoes them
#   locks      a second run or a shard beside a running sweep refuses naming
#              it; stale locks are taken over, other hosts' respected; a
#              shard keeps live writers' temporaries
#   concurrent four eval shards side by side (slow evaluations) and merges
#              while they work, then a final merge: the MPI run's cube, every
#              evaluation run once, nothing lost, no temporary or lock left
#   timelimit  --task-time-limit: tasks over it are stopped and recorded as
#              failed with the reason, the run goes on; under a limit they
#              do not reach, 2 ranks give the cube of a run without one
#   profile    status --profile after a 2-rank run, a resume and two train
#              shards: every task measured once, both ranks with their tasks,
#              the critical path a train -> eval chain, peak RSS per rank;
#              plan --costs replays the measured times on 1, 2, 3 ranks
#   launch     srun as N tasks without PMI (MPI size 1) stops every task
#              before any work; a batch step or a 1-task step runs
#   killrank   one worker rank of an mpirun run SIGKILLed: mpirun ends the
#              other ranks (no rank waits for it forever) and fails, the
#              finished tasks stay, and running again completes the sweep
set -euo pipefail
case_name="$1" bin="$2" python="$3" mpiexec="$4" work="$5"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spec="$here/../../sweeps/tiny.yaml"
compare="$here/compare_cubes.py"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI's own allocations at exit are not ours to fix (see tests/CMakeLists.txt)
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
# --bind-to none: tests run side by side (ctest -j); pinning every job to cores 0..n-1 starves them
mpi() { local n="$1"; shift; "$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n "$n" "$@"; }
rm -rf "$work/$case_name"
mkdir -p "$work/$case_name"
cd "$work/$case_name"
fail() { echo "FAILED: $*" >&2; exit 1; }

case "$case_name" in
ranks)
  for n in 1 2 3; do mpi "$n" "$bin" run "$spec" --out "np$n" --quiet; done
  "$python" "$compare" np1/cube.h5 np2/cube.h5 np3/cube.h5
  # an OOD set asked of `eval` that cannot be read fails the command (the readable ones still run)
  model="$(compgen -G "np1/tasks/train-*.h5" | head -n 1)"
  status=0
  "$bin" eval --model "$model" --ood notmnist=missing-dir,uniform --test-limit 50 --quiet >eval.out 2>eval.err || status=$?
  [ "$status" -eq 1 ] || fail "eval with an unreadable OOD set exited $status, not 1"
  grep -q "missing-dir" eval.err || fail "eval's error does not name the unreadable set: $(cat eval.err)"
  grep -q "uniform-noise" eval.out || fail "eval did not score the readable OOD set"
  # a merge that sees fewer finished tasks than the cube holds keeps the cube
  cp -r np1 late
  rm "$(compgen -G "late/tasks/eval-*.h5" | head -n 1)"
  "$bin" merge late >merge.out 2>merge.err && fail "merge of an incomplete run exited 0"
  grep -q "kept" merge.err || fail "merge did not say it kept the more complete cube: $(cat merge.err)"
  "$python" "$compare" np1/cube.h5 late/cube.h5
  ;;
resume)
  slow=(--set data.train_limit=6000 --set train.max_epochs=12)
  mpi 1 "$bin" run "$spec" --out clean --quiet "${slow[@]}"
  setsid "$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n 2 "$bin" run "$spec" --out killed --quiet "${slow[@]}" &
  job=$!
  for _ in $(seq 1 3000); do  # until the first model is saved (at most 300 s: sanitizer builds are slow)
    compgen -G "killed/tasks/train-*.h5" >/dev/null && break
    sleep 0.1
  done
  # SIGKILL the whole session: mpirun and its ranks (Open MPI puts the ranks
  # in process groups of their own, so killing mpirun's group alone leaves
  # them computing and writing beside the rerun)
  pkill -KILL -s "$job" 2>/dev/null || true
  wait "$job" 2>/dev/null || true
  # a killed ASan process takes a moment to go (it unmaps a huge shadow), and a
  # rerun removes only temporaries whose writer is gone: wait until none is left
  for _ in $(seq 1 300); do
    [ "$(ps -o stat= -s "$job" 2>/dev/null | grep -vc '^Z')" -eq 0 ] && break
    sleep 0.1
  done
  done_before=$(find killed/tasks -name '*.h5' | wc -l)
  total=$("$bin" plan "$spec" --summary "${slow[@]}" | awk '/^total/ {print $2}')
  [ "$done_before" -ge 1 ] || fail "no task finished before the kill"
  [ "$done_before" -lt "$total" ] || fail "the run finished before it was killed ($done_before of $total)"
  stat -c '%n %Y.%y' killed/tasks/*.h5 > before.txt
  "$bin" status killed > status.txt || true
  grep -q '^train' status.txt || fail "status printed no table"
  mpi 2 "$bin" run "$spec" --out killed --quiet "${slow[@]}"
  # every file that existed before the second run is untouched
  while read -r path stamp; do
    [ "$(stat -c '%Y.%y' "$path")" = "$stamp" ] || fail "$path was recomputed"
  done < before.txt
  ! compgen -G "killed/tasks/*.tmp.*" >/dev/null || fail "temporary files left behind"
  "$python" "$compare" clean/cube.h5 killed/cube.h5
  echo "resume: $done_before of $total tasks survived the kill; the rest was computed on the second run"
  ;;
failure)
  set +e
  mpi 2 "$bin" run "$spec" --out run --quiet --set models.baseline.lr=1e30 --set models.baseline.init_std=0.3
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "exit status $rc, want 1 (incomplete)"
  "$bin" status run > status.txt && fail "status says complete" || true
  grep -q 'failed  train/baseline: training diverged' status.txt || { cat status.txt; fail "no divergence reason"; }
  "$python" - <<'PY'
import h5py
f = h5py.File("run/cube.h5", "r")
names = [n.decode() if isinstance(n, bytes) else n for n in f["task_name"][()]]
status = [s.decode() if isinstance(s, bytes) else s for s in f["status"][()]]
by = dict(zip(names, status))
assert by["train/baseline"] == "failed", by
skipped = [n for n, s in by.items() if s == "skipped"]
assert skipped and all("baseline" in n for n in skipped), skipped
assert all(s == "done" for n, s in by.items() if "baseline" not in n), by
print(f"failure: 1 failed, {len(skipped)} skipped, {sum(s == 'done' for s in status)} done")
PY
  ;;
malformed)
  printf 'models:\n  bnn: {method: bbb, rho_initt: -3}\n' > bad.yaml
  set +e
  "$bin" run bad.yaml --out run 2> err.txt
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "exit status $rc, want 2"
  grep -q 'bad.yaml:2:' err.txt || { cat err.txt; fail "error does not name file and line"; }
  grep -q 'rho_initt' err.txt || { cat err.txt; fail "error does not name the key"; }
  [ ! -e run/cube.h5 ] || fail "a cube was written for a bad sweep"
  # plan says a bad sweep file the same way (exit 2, file:line), also for a
  # plan over the task limit
  set +e
  "$bin" plan bad.yaml > plan.out 2> plan.err
  rc=$?
  BNNSWEEP_MAX_TASKS=3 "$bin" plan "$spec" > plan-limit.out 2> plan-limit.err
  rc_limit=$?
  set -e
  [ "$rc" = 2 ] || fail "plan on a bad sweep file: exit status $rc, want 2"
  grep -q 'bad.yaml:2:.*rho_initt' plan.err || { cat plan.err; fail "plan's error does not name file, line and key"; }
  [ "$rc_limit" = 2 ] || { cat plan-limit.err; fail "plan over the task limit: exit status $rc_limit, want 2"; }
  grep -q 'BNNSWEEP_MAX_TASKS' plan-limit.err || { cat plan-limit.err; fail "plan's task-limit error names no setting"; }
  # --out creates missing parents; a parent that is a file is an error naming it
  : > afile
  set +e
  "$bin" run "$spec" --out afile/run --quiet 2> out.err
  rc=$?
  set -e
  [ "$rc" != 0 ] || fail "run --out under a regular file exited 0"
  grep -q 'afile/run: cannot create directory' out.err || { cat out.err; fail "the --out error does not name the directory"; }
  "$bin" run "$spec" --out new/parents/run --quiet
  [ -e new/parents/run/cube.h5 ] || fail "run --out did not create missing parents"
  ;;
methods)
  methods="$here/../data/specs/methods_tiny.yaml"
  for n in 1 3; do mpi "$n" "$bin" run "$methods" --out "np$n" --quiet; done
  "$python" "$compare" np1/cube.h5 np3/cube.h5
  "$python" - <<'PY'
import h5py, numpy as np
f = h5py.File("np1/cube.h5", "r")
text = lambda name: [s.decode() if isinstance(s, bytes) else s for s in f[name][()]]
methods, status = text("model_method"), text("status")
assert all(s == "done" for s in status), status
assert sorted(set(methods)) == ["alpha", "bbb", "deterministic", "dropout", "lrt", "sgld"], methods
sets = text("set")
acc = f["accuracy"][()][:, [i for i, s in enumerate(sets) if s != "val"]]
assert np.isfinite(acc).all(), acc   # every model on test and on every attack set
assert (acc[:, 0] > 0.3).all(), acc[:, 0]   # and each learnt something (chance: 0.1)
print("methods: %d models x %d sets, every cell finite" % acc.shape)
PY
  ;;
teacher)
  teach="$here/../data/specs/teacher_tiny.yaml"
  for n in 1 3; do mpi "$n" "$bin" run "$teach" --out "np$n" --quiet; done
  "$python" "$compare" np1/cube.h5 np3/cube.h5
  "$python" - <<'PY'
import glob, os, h5py
students = 0
for path in sorted(glob.glob("np1/tasks/train-*.h5")):
    with h5py.File(path, "r") as f:
        method = f["config"].attrs["method"]
        method = method.decode() if isinstance(method, bytes) else str(method)
        if method not in ("apd", "mog"):
            continue
        teacher = f["config"].attrs["teacher"]
        teacher = teacher.decode() if isinstance(teacher, bytes) else str(teacher)
        assert teacher.startswith("task:"), teacher
        tpath = "np1/tasks/train-%s.h5" % teacher[5:]
        assert os.path.exists(tpath), tpath
        with h5py.File(tpath, "r") as t:
            assert t["config"].attrs["arch"] == f["config"].attrs["arch"]
        students += 1
assert students == 3, students
with h5py.File("np1/cube.h5", "r") as f:
    assert all((s.decode() if isinstance(s, bytes) else s) == "done" for s in f["status"][()])
print("teacher: 3 students, each naming its sgld teacher task")
PY
  # resume: a student (and what it fed) deleted is recomputed bit-identically
  apd="$(grep -l . np1/tasks/train-*.h5 | while read -r f; do "$python" -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(sys.argv[1] if f['config'].attrs['method'] in (b'apd','apd') else '')" "$f"; done | grep . | head -n 1)"
  [ -n "$apd" ] || fail "no apd model file"
  cp "$apd" apd-before.h5
  rm "$apd" np1/tasks/eval-*.h5
  "$bin" run "$teach" --out np1 --quiet
  "$python" - "$apd" apd-before.h5 <<'PY' || fail "a resumed student differs from the first run's"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and "seconds" not in n else None)
assert any(n.startswith("apd/generator") for n in names), names
for n in names:
    assert np.array_equal(a[n][()], b[n][()]), n
print("resumed student: %d datasets bit-identical" % len(names))
PY
  "$python" "$compare" np1/cube.h5 np3/cube.h5
  # train shards in reverse order: a student runs in its teacher's shard, after it
  for i in 2 1 0; do "$bin" run "$teach" --out sharded --stage train --shard "$i/3" > "shard$i.log"; done
  ! grep -q FAILED shard*.log || { cat shard*.log; fail "a train shard failed"; }
  "$bin" run "$teach" --out sharded --stage eval --shard 0/1 --quiet
  "$bin" merge sharded
  "$python" "$compare" np1/cube.h5 sharded/cube.h5
  ;;
shards)
  mpi 2 "$bin" run "$spec" --out mpi --quiet
  for i in 0 1; do "$bin" run "$spec" --out sharded --stage train --shard "$i/2" --quiet; done
  "$bin" run "$spec" --out sharded --stage attack --shard 0/1 --quiet
  for i in 0 1 2; do "$bin" run "$spec" --out sharded --stage eval --shard "$i/3" --quiet; done
  "$bin" merge sharded
  "$python" "$compare" mpi/cube.h5 sharded/cube.h5
  cat > views.yaml <<'YAML'
name: views
seed: 3
data: {train_limit: 1000, test_limit: 100}
train: {max_epochs: 1, patience: 0, val_samples: 2}
models:
  d: {method: dropout, arch: FC-10-10, lr: [0.05, 0.1], mc_dropout: [0, 1]}
evaluations:
  robustness: {models: d, runs: 2}
YAML
  mpi 2 "$bin" run views.yaml --out vmpi --quiet
  for i in 0 1 2; do "$bin" run views.yaml --out vsharded --stage train --shard "$i/3" --quiet; done
  "$bin" run views.yaml --out vsharded --stage eval --shard 0/1 --quiet
  "$bin" merge vsharded
  "$python" "$compare" vmpi/cube.h5 vsharded/cube.h5
  "$python" - <<'PY'
import glob, h5py, numpy as np
pairs = {}
for path in sorted(glob.glob("vsharded/tasks/train-*.h5")):
    with h5py.File(path, "r") as f:
        w = np.concatenate([f[f"layers/{l}/{p}"][()].ravel() for l in (0, 1) for p in ("weight", "bias")])
        pairs.setdefault(w.tobytes(), []).append(int(f["config"].attrs["mc_dropout"][0]))
assert len(pairs) == 2 and all(sorted(v) == [0, 1] for v in pairs.values()), pairs
print("views: 4 models from 2 trainings")
PY
  ;;
versions)
  "$bin" run "$spec" --out run --quiet
  cp run/cube.h5 clean-cube.h5
  # every task file records the program and results versions
  "$python" - run <<'PY'
import glob, sys, h5py
files = glob.glob(sys.argv[1] + "/tasks/*.h5")
assert len(files) > 10, files
for p in files:
    with h5py.File(p, "r") as f:
        assert int(f.attrs["results_version"]) >= 1 and "bnnsweep_version" in f.attrs and "git_commit" in f.attrs, p
with h5py.File(sys.argv[1] + "/cube.h5", "r") as f:
    assert int(f.attrs["results_version"]) >= 1 and "accepted_stale" not in f.attrs
    # the BLAS kernels and threads each task ran with (provenance.h), per task and tallied
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    blas = [text(b) for b in f["blas"][()]]
    assert len(set(blas)) == 1 and " x" in blas[0], set(blas)
    assert text(f.attrs["blas_configs"]) == "%s (%d tasks)" % (blas[0], len(blas)), f.attrs["blas_configs"]
for p in files:
    with h5py.File(p, "r") as t:
        assert "%s x%d" % (text(t.attrs["blas_kernel"]), int(t.attrs["blas_threads"])) == blas[0], p
PY
  # a task computed with other BLAS kernels: the merge warns, naming both, and the cube tallies them
  evalfile="$(compgen -G "run/tasks/eval-*.h5" | head -n 1)"
  set_kernel() { "$python" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs['blas_kernel']=sys.argv[2].encode()" "$@"; }
  kernel="$("$python" -c "import h5py,sys; print(h5py.File(sys.argv[1])['/'].attrs['blas_kernel'])" "$evalfile")"
  set_kernel "$evalfile" NoSuchKernel
  "$bin" merge run 2>blas.err >/dev/null || fail "merge with mixed BLAS kernels failed: $(cat blas.err)"
  grep -q "different BLAS kernels" blas.err || fail "no warning for mixed BLAS kernels: $(cat blas.err)"
  grep -q "NoSuchKernel x1 (1 tasks)" blas.err || fail "the warning does not tally the odd task: $(cat blas.err)"
  "$python" -c "import h5py,sys; a=str(h5py.File(sys.argv[1])['/'].attrs['blas_configs']); assert 'NoSuchKernel x1 (1 tasks)' in a and a.count('tasks') == 2, a" run/cube.h5
  set_kernel "$evalfile" "$kernel"
  # one model's file "from another results version": the resume refuses,
  # naming it and an evaluation that used it
  stale_version() { "$python" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs['results_version']=int(sys.argv[2])" "$@"; }
  model="$(compgen -G "run/tasks/train-*.h5" | head -n 1)"
  stale_version "$model" 0
  status=0
  "$bin" run "$spec" --out run --quiet 2>refuse.err || status=$?
  [ "$status" -ne 0 ] || fail "a resume over another results version exited 0"
  grep -q "another results version" refuse.err || fail "refusal does not say why: $(cat refuse.err)"
  grep -q "(results version 0)" refuse.err || fail "refusal does not list the stale model: $(cat refuse.err)"
  grep -q "eval/.*(depends on a stale task)" refuse.err || fail "refusal does not list its evaluations: $(cat refuse.err)"
  n_listed=$(grep -c "^  " refuse.err)
  # --accept-stale keeps them and says so in accepted_stale.txt and the cube; later resumes accept them
  "$bin" run "$spec" --out run --quiet --accept-stale
  grep -q "results_version=0 accepted by bnnsweep" run/accepted_stale.txt || fail "accept not recorded"
  [ "$(wc -l < run/accepted_stale.txt)" -eq "$n_listed" ] || fail "accepted $(wc -l < run/accepted_stale.txt) tasks, $n_listed listed"
  "$python" -c "import h5py,sys; assert 'results_version=0' in str(h5py.File(sys.argv[1])['/'].attrs['accepted_stale'])" run/cube.h5
  "$bin" run "$spec" --out run --quiet
  # --rerun-stale recomputes the stale task and its dependents: the same numbers again
  rm run/accepted_stale.txt
  "$bin" run "$spec" --out run --rerun-stale > rerun.out
  grep -q "removed $n_listed stale tasks" rerun.out || fail "rerun did not remove the $n_listed tasks: $(cat rerun.out)"
  "$python" -c "import h5py,sys; assert int(h5py.File(sys.argv[1])['/'].attrs['results_version']) >= 1" "$model"
  "$python" "$compare" clean-cube.h5 run/cube.h5
  "$bin" run "$spec" --out run --rerun-stale --accept-stale 2>both.err && fail "both stale options accepted"
  ;;
locks)
  slow=(--set data.train_limit=6000 --set train.max_epochs=12)
  host=$("$python" -c "import re, socket; print(re.sub(r'[^A-Za-z0-9_-]', '_', socket.gethostname()[:64]) or 'unknown')")
  sleep 30 & dead=$!; kill "$dead"; wait "$dead" 2>/dev/null || true
  sleep 300 & live=$!
  trap 'kill "$live" 2>/dev/null || true' EXIT  # (set after the last `&`: a forked shell runs EXIT traps)
  mkdir run
  # a run directory held by a live process: a second run and a shard refuse, naming it
  echo "$host $live" > run/run.lock
  status=0
  "$bin" run "$spec" --out run --quiet 2>second.err || status=$?
  [ "$status" -ne 0 ] || fail "a run beside a running one exited 0"
  grep -q "in use by another .bnnsweep run. (run/run.lock: held by host $host, pid $live)" second.err ||
    fail "second run's refusal: $(cat second.err)"
  [ ! -e run/sweep.yaml ] || fail "a refused run wrote sweep.yaml"
  status=0
  "$bin" run "$spec" --out run --stage eval --shard 0/1 --quiet 2>shard.err || status=$?
  [ "$status" -ne 0 ] || fail "a shard beside a running full run exited 0"
  grep -q "in use by a full .bnnsweep run. (host $host, pid $live" shard.err || fail "shard's refusal: $(cat shard.err)"
  compgen -G "run/shard.lock.*" >/dev/null && fail "a refused shard left its lock"
  # a full run beside a live shard refuses too
  rm run/run.lock
  echo "$host $live" > "run/shard.lock.$host.$live"
  status=0
  "$bin" run "$spec" --out run --quiet 2>beside.err || status=$?
  [ "$status" -ne 0 ] || fail "a run beside a live shard exited 0"
  grep -q "in use by shards" beside.err || fail "run beside shards: $(cat beside.err)"
  rm "run/shard.lock.$host.$live"
  # another host's lock cannot be checked: refused, saying what to do
  echo "othernode 4242" > run/run.lock
  status=0
  "$bin" run "$spec" --out run --quiet 2>cross.err || status=$?
  [ "$status" -ne 0 ] || fail "a run beside another host's lock exited 0"
  grep -q "held by host othernode, pid 4242" cross.err || fail "cross-host refusal: $(cat cross.err)"
  grep -q "remove run/run.lock" cross.err || fail "cross-host refusal does not say what to do: $(cat cross.err)"
  # a run holds run.lock while it works (SIGKILLed, it leaves it naming its
  # pid); the next run takes the stale lock over, finishes and removes it
  rm run/run.lock
  "$bin" run "$spec" --out run --quiet "${slow[@]}" &
  job=$!
  for _ in $(seq 1 3000); do [ -e run/run.lock ] && break; sleep 0.1; done
  kill -KILL "$job"; wait "$job" 2>/dev/null || true
  [ "$(cat run/run.lock)" = "$host $job" ] || fail "run.lock of the killed run: $(cat run/run.lock 2>&1)"
  "$bin" run "$spec" --out run --quiet "${slow[@]}" || fail "the stale lock of a killed run was not taken over"
  [ ! -e run/run.lock ] || fail "run.lock left behind"
  # a shard keeps the temporaries of live writers (another shard) and removes dead ones'
  live_tmp="run/tasks/eval-0000000000000001.h5.tmp.$host.$live"
  dead_tmp="run/tasks/eval-0000000000000002.h5.tmp.$host.$dead"
  other_tmp="run/tasks/eval-0000000000000003.h5.tmp.othernode.$dead"
  touch "$live_tmp" "$dead_tmp" "$other_tmp"
  "$bin" run "$spec" --out run --stage eval --shard 1/2 --quiet "${slow[@]}"
  [ -e "$live_tmp" ] || fail "a shard removed a live writer's temporary"
  [ -e "$other_tmp" ] || fail "a shard removed another host's temporary"
  [ ! -e "$dead_tmp" ] || fail "a shard kept a dead writer's temporary"
  kill "$live"
  compgen -G "run/shard.lock.*" >/dev/null && fail "a shard left its lock"
  ;;
concurrent)
  # slow evaluations (the whole test set, 100 runs) so that shards and merges overlap
  slow=(--set data.test_limit=10000 --set evaluations.robustness.runs=100 --set evaluations.ensembles.runs=100)
  mpi 2 "$bin" run "$spec" --out mpi --quiet "${slow[@]}"
  for i in 0 1; do "$bin" run "$spec" --out sharded --stage train --shard "$i/2" --quiet "${slow[@]}"; done
  "$bin" run "$spec" --out sharded --stage attack --shard 0/1 --quiet "${slow[@]}"
  pids=()
  for i in 0 1 2 3; do
    "$bin" run "$spec" --out sharded --stage eval --shard "$i/4" "${slow[@]}" >"shard$i.out" 2>"shard$i.err" &
    pids+=($!)
    # the later shards start while the first one is writing an evaluation (its
    # temporary exists): a shard's start-up clean-up must leave it alone
    if [ "$i" -eq 0 ]; then
      for _ in $(seq 1 2000); do
        compgen -G "sharded/tasks/eval-*.tmp.*" >/dev/null && break
        kill -0 "${pids[0]}" 2>/dev/null || break
        sleep 0.01
      done
    fi
  done
  # merges beside the shards: each ends 0 (complete) or 1 (partial), never by a signal or a usage error
  merges=0
  running() { for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
  while [ "$merges" -eq 0 ] || running; do
    status=0
    "$bin" merge sharded >>merge.out 2>>merge.err || status=$?
    [ "$status" -le 1 ] || fail "a merge beside running shards exited $status: $(tail -n 3 merge.err)"
    merges=$((merges + 1))
  done
  for i in 0 1 2 3; do
    wait "${pids[$i]}" || fail "eval shard $i/4 exited $?: $(cat "shard$i.err")"
  done
  "$bin" merge sharded >final.out 2>final.err || fail "the final merge exited $?: $(cat final.err)"
  "$python" "$compare" mpi/cube.h5 sharded/cube.h5
  # every evaluation file is there, each run by exactly one shard
  diff <(cd mpi/tasks && ls) <(cd sharded/tasks && ls) || fail "task files differ from the MPI run's"
  n_eval=$(compgen -G "mpi/tasks/eval-*.h5" | wc -l)
  cat shard?.out | grep '^done eval/' | sort > done.txt
  [ "$(wc -l <done.txt)" -eq "$n_eval" ] || fail "shards ran $(wc -l <done.txt) evaluations, the sweep has $n_eval"
  [ -z "$(uniq -d done.txt)" ] || fail "evaluations run twice: $(uniq -d done.txt)"
  compgen -G "sharded/tasks/*.tmp.*" >/dev/null && fail "temporaries left: $(ls sharded/tasks)"
  compgen -G "sharded/shard.lock.*" >/dev/null && fail "a shard left its lock"
  echo "concurrent: 4 eval shards, $merges merges beside them, $n_eval evaluations, cube identical to the MPI run's"
  ;;
timelimit)
  # every training task needs seconds here: a 0.05 s limit stops each one
  slow=(--set data.train_limit=6000 --set train.max_epochs=12)
  status=0
  "$bin" run "$spec" --out limited --quiet --task-time-limit 0.05 "${slow[@]}" 2>limited.err || status=$?
  [ "$status" -eq 1 ] || fail "a run whose tasks all pass the time limit exited $status, not 1"
  n_train=$(compgen -G "limited/tasks/train-*.failed" | wc -l)
  [ "$n_train" -eq 4 ] || fail "$n_train of 4 training tasks recorded as failed"
  for f in limited/tasks/train-*.failed; do
    grep -q "time limit exceeded: stopped after .* (task_time_limit 0.05 s)" "$f" || fail "$f: $(cat "$f")"
  done
  compgen -G "limited/tasks/*.h5" >/dev/null && fail "a stopped task left a result: $(ls limited/tasks)"
  "$bin" status limited >status.out || true   # (exit 1: incomplete)
  grep -q "failed  train/.*time limit exceeded" status.out || fail "status does not show the reason: $(cat status.out)"
  # a limit no task reaches changes nothing (each task in its own process, 2 ranks)
  "$bin" run "$spec" --out plain --quiet
  mpi 2 "$bin" run "$spec" --out generous --quiet --task-time-limit 600
  "$python" "$compare" plain/cube.h5 generous/cube.h5
  status=0
  "$bin" run "$spec" --out bad --task-time-limit 0 2>bad.err || status=$?
  [ "$status" -eq 2 ] && grep -q "task-time-limit '0'" bad.err || fail "--task-time-limit 0: exit $status, $(cat bad.err)"
  ;;
launch)
  # srun started 4 copies that MPI does not join (no PMI): all stop before any work
  step=(SLURM_JOB_ID=1 SLURM_NTASKS=4 SLURM_STEP_NUM_TASKS=4 SLURM_STEP_ID=0 SLURM_PROCID=0)
  status=0
  env "${step[@]}" "$bin" run "$spec" --out run 2>srun.err || status=$?
  [ "$status" = 2 ] || fail "srun without PMI: exit status $status, want 2"
  grep -q "started by srun as 4 tasks.*MPI sees 1 process" srun.err || fail "srun message: $(cat srun.err)"
  grep -q -- "--mpi=pmix" srun.err || fail "srun message gives no remedy: $(cat srun.err)"
  [ ! -e run ] || fail "a refused launch created the run directory"
  status=0
  env "${step[@]/SLURM_PROCID=0/SLURM_PROCID=3}" "$bin" run "$spec" --out run 2>srun3.err || status=$?
  [ "$status" = 2 ] && [ ! -s srun3.err ] || fail "task 3 of the step: status $status, said $(cat srun3.err)"
  status=0
  env "${step[@]}" "$bin" run "$spec" --out run --stage train --shard 0/2 2>shard.err || status=$?
  [ "$status" = 2 ] || fail "a shard under srun -n 4: exit status $status, want 2"
  grep -q "a shard (--stage/--shard) is one process" shard.err || fail "shard message: $(cat shard.err)"
  [ ! -e run ] || fail "a refused shard created the run directory"
  # the batch script of a 4-task allocation (no step) and a 1-task step are one process, as meant
  printf 'models:\n  bnn: {method: bbb, rho_initt: -3}\n' > bad.yaml
  for vars in "SLURM_JOB_ID=1 SLURM_NTASKS=4" "SLURM_JOB_ID=1 SLURM_NTASKS=4 SLURM_STEP_NUM_TASKS=1 SLURM_PROCID=0"; do
    status=0
    # shellcheck disable=SC2086
    env $vars "$bin" run bad.yaml --out run 2>plain.err || status=$?
    grep -q "rho_initt" plain.err || fail "with $vars the sweep was not read: $(cat plain.err)"
  done
  # srun with PMI: MPI sees the 2 tasks, and the sweep runs
  mpi 2 env SLURM_JOB_ID=1 SLURM_NTASKS=2 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_ID=0 "$bin" run "$spec" --out run --quiet
  [ -e run/cube.h5 ] || fail "an MPI run under an srun-like environment wrote no cube"
  ;;
profile)
  mpi 2 "$bin" run "$spec" --out run --quiet
  mpi 2 "$bin" run "$spec" --out run --quiet   # a resume: nothing left, one more run of 0 tasks
  "$bin" status --profile run >profile.txt || fail "status --profile exited $?: $(cat profile.txt)"
  n="$(compgen -G "run/tasks/*.h5" | wc -l)"
  grep -q "($n of $n tasks measured" profile.txt || fail "not every one of $n tasks measured: $(cat profile.txt)"
  [ "$(grep -c '^run ' profile.txt)" -eq 2 ] || fail "two runs expected: $(cat profile.txt)"
  # rank rows of the first run: ranks 0 and 1 whose task counts add up to every task, with a peak RSS
  awk '/^run /{r++} r==1 && $1 ~ /^[01]$/ {tasks += $3; if ($7 <= 0) bad = 1} END {exit !(tasks == '"$n"' && !bad)}' \
    profile.txt || fail "rank rows: $(cat profile.txt)"
  sed -n '/^critical path/,/^with/p' profile.txt >path.txt
  sed -n 2p path.txt | grep -q " train/" && sed -n '$!p' path.txt | tail -n 1 | grep -q "eval/" \
    || fail "the critical path is not a train -> eval chain: $(cat path.txt)"
  # two shards of the train stage into a fresh directory: one run each, its rank the shard
  for i in 0 1; do "$bin" run "$spec" --out shards --stage train --shard "$i/2" --quiet; done
  "$bin" status --profile shards >shards.txt || true
  [ "$(grep -c '^run .*-train-shard' shards.txt)" -eq 2 ] || fail "shard runs: $(cat shards.txt)"
  grep -q "(4 of 19 tasks measured" shards.txt || fail "shards: $(cat shards.txt)"
  "$bin" status --help | grep -q -- "--profile" || fail "status --help does not describe --profile"
  # plan --costs: the measured times replayed; one simulated rank takes the measured total
  "$bin" plan "$spec" --summary --ranks 3 --costs run >plan.txt
  grep -q "measured costs from run: $n of $n tasks; " plan.txt || fail "plan --costs: $(cat plan.txt)"
  total="$(sed -n 's/^total .*(\([0-9.]*\) core-seconds, measured)$/\1/p' plan.txt)"
  [ -n "$total" ] && [ "$(awk '$1 == 1 && $3 == "1.0x"' plan.txt | wc -l)" -eq 1 ] \
    && [ "$(awk '$1 == 2 || $1 == 3' plan.txt | wc -l)" -eq 2 ] || fail "plan --costs schedule rows: $(cat plan.txt)"
  status=0
  "$bin" plan "$spec" --summary --costs . >/dev/null 2>nologs.err || status=$?
  [ "$status" -eq 1 ] && grep -q "no timing logs in ./profile" nologs.err || fail "plan --costs without logs: exit $status, $(cat nologs.err)"
  ;;
killrank)
  # (what slurm/sweep.sbatch relies on with its default launcher; the srun
  # path is tests/slurm/integration.sh's)
  slow=(--set data.train_limit=12000 --set train.max_epochs=20)
  "$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n 3 "$bin" run "$spec" --out kr --quiet "${slow[@]}" \
    >kr.out 2>&1 &
  job=$!
  for _ in $(seq 1 3000); do compgen -G "kr/tasks/train-*.h5" >/dev/null && break; sleep 0.1; done
  compgen -G "kr/tasks/train-*.h5" >/dev/null || fail "no model saved in 300 s"
  # rank 1 (a worker), by its pid: mpirun's child running $bin whose environment says rank 1
  ranks=() victim=""
  for p in $(ps -o pid= --ppid "$job"); do
    [ "$(tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | head -n 1)" = "$bin" ] || continue
    ranks+=("$p")
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
  done
  [ "${#ranks[@]}" = 3 ] && [ -n "$victim" ] || fail "found ranks '${ranks[*]}', rank 1 '$victim'"
  kill -KILL "$victim"
  for _ in $(seq 1 1200); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$job" 2>/dev/null && { kill -KILL "${ranks[@]}" "$job" 2>/dev/null; fail "mpirun still runs 120 s after rank 1 was killed"; }
  status=0
  wait "$job" || status=$?
  [ "$status" -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
  for _ in $(seq 1 300); do  # the other ranks go too (ASan processes take a moment)
    alive=0
    for r in "${ranks[@]}"; do [ -e "/proc/$r" ] && [ "$(awk '{print $3}' "/proc/$r/stat" 2>/dev/null)" != Z ] && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  [ "$alive" = 0 ] || fail "ranks of the killed run still alive: ${ranks[*]}"
  kept=$(compgen -G "kr/tasks/*.h5" | wc -l)
  [ "$kept" -ge 1 ] || fail "no finished task kept"
  mpi 2 "$bin" run "$spec" --out kr --quiet "${slow[@]}" || fail "running the killed sweep again failed"
  [ -f kr/cube.h5 ] || fail "no cube after running again"
  echo "killrank: mpirun ended after rank 1 was killed (status $status), $kept task files kept, the rerun completed"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "sweep integration '$case_name': 1 passed, 0 failed"
