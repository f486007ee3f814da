#!/usr/bin/env bash
# active.sh BNNSWEEP PYTHON MPIEXEC WORKDIR - the active-learning stage end to
# end on tests/data/specs/active_tiny.yaml (ctest sweep_active):
#   - 1 and 3 ranks give bit-identical cubes; every chain's cells are
#     finite, the point estimate's BALD cells NaN (its chain is left out);
#   - every round's labelled set is its predecessor's plus `acquire` new,
#     distinct pool images (never re-acquired), round 0 balanced;
#   - APD (distilling the sgld group): every round names its own teacher
#     file (tasks/teacher-KEY.h5, KEY = its /config/teacher), an SGLD model
#     whose /active/labelled is the round's labelled set, keyed as the
#     round; round 0's teacher is the SGLD chain's round-0 model, bit for
#     bit; the teacher files of 1 and 3 ranks are the same;
#   - a run killed (SIGKILL, whole session) after a few round files exist,
#     then resumed, recomputes only what was missing (the surviving round and
#     teacher files are untouched) and ends with the uninterrupted run's
#     cube, bit for bit;
#   - stage shards (train, then active --shard I/2: a chain stays in one
#     shard) merged give the same cube;
#   - analysis/active.py writes the PNG, a CSV row per chain and point, and
#     "-" for the point estimate's BALD; a sweep whose groups only active:
#     names (or only a recipe's teacher) trains no model of its own.
set -euo pipefail
bin="$1" python="$2" mpiexec="$3" work="$4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spec="$here/../data/specs/active_tiny.yaml"
compare="$here/compare_cubes.py"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
mpi() { local n="$1"; shift; "$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n "$n" "$@"; }
rm -rf "$work"
mkdir -p "$work"
cd "$work"
fail() { echo "FAILED: $*" >&2; exit 1; }

mpi 1 "$bin" run "$spec" --out np1 --quiet
mpi 3 "$bin" run "$spec" --out np3 --quiet
"$python" "$compare" np1/cube.h5 np3/cube.h5
"$python" - <<'PY'
import glob, h5py, numpy as np
f = h5py.File("np1/cube.h5", "r")
text = lambda name: [s.decode() if isinstance(s, bytes) else s for s in f[name][()]]
string = lambda v: v.decode() if isinstance(v, bytes) else str(v)
models, scores = text("al_model"), text("al_score")
acq = f["acquired"][()]
assert models == ["al/sgd", "al/drop", "al/sgld", "al/apd"], models
assert text("al_method") == ["deterministic", "dropout", "sgld", "apd"], text("al_method")
assert list(acq) == [0, 10, 20, 30, 40, 50], acq
a = f["al_accuracy"][()]                       # [model, score, seed, acquired]
assert a.shape == (4, 4, 2, 6), a.shape
for m, model in enumerate(models):
    for s, score in enumerate(scores):
        cells = a[m, s]
        wanted = score in ("entropy", "random") or (score == "bald" and model != "al/sgd")
        if wanted:
            assert np.isfinite(cells).all() and ((cells >= 0) & (cells <= 1)).all(), (model, score, cells)
        else:
            assert np.isnan(cells).all(), (model, score, cells)
# more labels help: the mean over chains after 50 acquisitions beats the start
assert np.nanmean(a[..., -1]) > np.nanmean(a[..., 0]) + 0.05, (np.nanmean(a[..., -1]), np.nanmean(a[..., 0]))
# every chain starts from the same round-0 model per (model, seed)
assert (a[:, 0, :, 0] == a[:, 3, :, 0]).all()
# labelled sets grow by 10 new images a round, never repeating
files = {}
for path in glob.glob("np1/tasks/active-*.h5"):
    g = h5py.File(path, "r")["active"]
    files[path] = (int(g.attrs["round"]), g["labelled"][()], g.attrs["pool"])
# per seed: sgd 2 chains, drop, sgld and apd 3 each
assert len(files) == 2 * (1 + 2 * 5) + 3 * 2 * (1 + 3 * 5), len(files)
names = dict(zip(text("task_key"), text("task_name")))
by_name, path_of = {}, {}
for path, v in files.items():
    key = path.split("active-")[1][:-3]
    by_name[names[key]] = v
    path_of[names[key]] = path
for name, (r, lab, pool) in by_name.items():
    assert len(set(lab.tolist())) == len(lab) == 20 + 10 * r, (name, len(lab))
    assert (lab < pool).all()
    if r == 0:
        continue
    chain = name.rsplit("/", 2)[0]   # active/al/MODEL/seed=S
    prev_name = f"{chain}/round=0" if r == 1 else f"{name.rsplit('/', 1)[0]}/round={r - 1}"
    prev = by_name[prev_name][1]
    assert (lab[: len(prev)] == prev).all(), name

# APD: each round's teacher, an SGLD model trained on that round's labelled set
def params(path):
    out = {}
    h5py.File(path, "r").visititems(lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) and
                                    k.split("/")[0] not in ("active", "training") else None)
    return out
teachers = set()
for name in (n for n in by_name if n.startswith("active/al/apd/")):
    r = h5py.File(path_of[name], "r")
    ref = string(r["config"].attrs["teacher"])
    assert ref.startswith("task:") and len(ref) == 21, (name, ref)
    tpath = f"np1/tasks/teacher-{ref[5:]}.h5"
    t = h5py.File(tpath, "r")
    assert string(t["config"].attrs["method"]) == "sgld", tpath
    assert int(np.asarray(t["config"].attrs["task"]).ravel()[0]) == int(ref[5:], 16), tpath
    assert int(t["active"].attrs["round"][0]) == int(r["active"].attrs["round"][0]), tpath
    assert (t["active/labelled"][()] == r["active/labelled"][()]).all(), (name, "teacher trained on another set")
    assert t["active"].attrs["accuracy"][0] == r["active"].attrs["teacher_accuracy"][0], name
    assert (t["training/train_acc"][()].size == 12), tpath                  # the sgld recipe's 12 epochs
    teachers.add(ref)
    if name.endswith("/round=0"):
        sgld = path_of[name.replace("/apd/", "/sgld/")]
        assert ref[5:] == sgld.split("active-")[1][:-3], (ref, sgld)   # the teacher key is the SGLD round's
        p, q = params(tpath), params(sgld)
        assert p.keys() == q.keys() and all((p[k] == q[k]).all() for k in p), (tpath, sgld)
    q = params(tpath.replace("np1/", "np3/"))
    p = params(tpath)
    assert p.keys() == q.keys() and all((p[k] == q[k]).all() for k in p), ("ranks", tpath)
assert len(teachers) == 2 * (1 + 3 * 5), len(teachers)
assert len(glob.glob("np1/tasks/teacher-*.h5")) == len(teachers)
print(f"active: {len(by_name)} round files, {len(teachers)} APD teachers; 1 and 3 ranks agree")
PY

# analysis/active.py: the curves' PNG, every (chain, round) in the CSV, BALD of SGD "-"
MPLBACKEND=Agg "$python" "$here/../../analysis/active.py" np1/cube.h5 --out analysis --every 2 > analysis.txt
[ -s analysis/active.png ] && head -c 8 analysis/active.png | grep -q PNG || fail "active.py wrote no PNG"
rows=$(($(wc -l < analysis/active.csv) - 1))
[ "$rows" -eq $(((2 + 3 + 3 + 3) * 6)) ] || fail "active.csv has $rows rows, want 66 (11 chains x 6 points)"
grep -q '^| SGD (al/sgd) | BALD | - | - | - | - |' analysis.txt || { cat analysis.txt; fail "no '-' row for SGD's BALD"; }

# killed mid-way, then resumed
setsid "$mpiexec" --allow-run-as-root --oversubscribe --bind-to none -n 2 "$bin" run "$spec" --out killed --quiet &
job=$!
for _ in $(seq 1 3000); do   # until a few rounds exist (at most 300 s: sanitizer builds are slow)
  [ "$(compgen -G "killed/tasks/active-*.h5" | wc -l)" -ge 6 ] && break
  sleep 0.1
done
pkill -KILL -s "$job" 2>/dev/null || true
wait "$job" 2>/dev/null || true
for _ in $(seq 1 300); do
  [ "$(ps -o stat= -s "$job" 2>/dev/null | grep -vc '^Z')" -eq 0 ] && break
  sleep 0.1
done
done_before=$(compgen -G "killed/tasks/active-*.h5" | wc -l)
total=$("$bin" plan "$spec" --summary | awk '/^active/ {print $2}')
[ "$done_before" -ge 1 ] || fail "no round finished before the kill"
[ "$done_before" -lt "$total" ] || fail "every round finished before the kill ($done_before of $total)"
stat -c '%n %Y.%y' killed/tasks/*.h5 > before.txt
mpi 1 "$bin" run "$spec" --out killed --quiet
while read -r path stamp; do
  [ "$(stat -c '%Y.%y' "$path")" = "$stamp" ] || fail "$path was recomputed"
done < before.txt
! compgen -G "killed/tasks/*.tmp.*" >/dev/null || fail "temporary files left behind"
"$python" "$compare" np1/cube.h5 killed/cube.h5
echo "resume: $done_before of $total rounds survived the kill"

# stage shards: a chain's rounds stay in one shard, in order
for i in 0 1; do "$bin" run "$spec" --out shards --stage train --shard "$i/2" --quiet; done
for i in 0 1; do "$bin" run "$spec" --out shards --stage eval --shard "$i/2" --quiet; done
for i in 0 1; do "$bin" run "$spec" --out shards --stage active --shard "$i/2" > "shard$i.txt"; done
grep -q " 0 failed$" shard0.txt && grep -q " 0 failed$" shard1.txt || { cat shard0.txt shard1.txt; fail "a shard failed"; }
"$bin" merge shards > merge.txt || { cat merge.txt; fail "merge of the shards is incomplete"; }
"$python" "$compare" np1/cube.h5 shards/cube.h5
echo "shards: the merged cube is the MPI run's"

# groups named only by active: are recipes (no model of their own): the cube's model axis is the groups;
# sgld, here only APD's teacher, is a recipe too (every round trains its own)
"$bin" run "$spec" --out recipes --quiet --set 'evaluations={}' --set active.al.rounds=1 --set 'active.al.seeds=[1]' \
  --set 'active.al.models=[sgd, drop, apd]'
! compgen -G "recipes/tasks/train-*.h5" >/dev/null || fail "a recipe-only group was trained"
[ "$(compgen -G "recipes/tasks/teacher-*.h5" | wc -l)" -eq 4 ] || fail "want 4 teacher files (round 0, 3 scores x round 1)"
"$python" - <<'PY'
import h5py, numpy as np
f = h5py.File("recipes/cube.h5", "r")
assert [m.decode() if isinstance(m, bytes) else m for m in f["model"][()]] == ["sgd", "drop", "sgld", "apd"], f["model"][()]
assert np.isfinite(f["al_accuracy"][()]).sum() == 3 * 2 * 3 - 2, f["al_accuracy"][()]  # sgd has no BALD chain
print("recipes: no train task, the cube names the groups")
PY
