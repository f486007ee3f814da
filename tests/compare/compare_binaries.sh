#!/usr/bin/env bash
# compare_binaries.sh OLD_BNNSWEEP NEW_BNNSWEEP [WORK_DIR] [--no-quick]
#
# The proof a refactor did not change results: runs the same sweeps and
# commands with two binaries and compares every output bit for bit
# (tests/compare/compare_outputs.py says what is compared and what is bookkeeping).
#
#   sweeps/tiny.yaml and sweeps/quick.yaml under mpirun -n 2 (cubes, posteriors,
#     every per-task model / attack / evaluation file);
#   bnnsweep train (deterministic, bbb sequential + vectorized, lrt, dropout,
#     alpha, sgld, apd offline and online; deterministic, dropout and alpha also
#     at L2 lambda > 0) on 3000 rows for 2-3 epochs: model files and the epoch lines;
#   bnnsweep attack (fgsm and minnorm on the deterministic model, pgd with the
#     expectation source on the BBB model): attack sets;
#   bnnsweep eval (ensembles, pruning, OOD on an attack set; --json): the
#     JSON numbers and the printed tables.
#
# Each binary's outputs go to WORK_DIR/old and WORK_DIR/new (default
# /tmp/bns-compare); a finished side (marker file .done, written last) is
# reused, so comparing a new build against the same old one reruns only the new
# side. --no-quick skips quick.yaml (~4 min per binary on 2 cores).
# Exit status: 0 identical, 1 a difference (printed), 2 usage.
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 2 ]] || usage
old="$(readlink -f "$1")"; new="$(readlink -f "$2")"; shift 2
work=/tmp/bns-compare; quick=1
for a in "$@"; do
  case "$a" in
    --no-quick) quick=0 ;;
    -*) usage ;;
    *) work="$a" ;;
  esac
done
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${BNS_PYTHON:-/usr/bin/python3}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mpi=(mpirun --oversubscribe --bind-to none -n 2)

run_side() {  # run_side BINARY DIR
  local bin="$1" dir="$2"
  if [[ -f "$dir/.done" ]] && cmp -s "$bin" "$dir/.binary"; then echo "reusing $dir"; return; fi
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$bin" "$dir/.binary"
  echo "$dir" >"$dir/.path"   # where it ran: paths inside the outputs name it
  echo "running $bin into $dir"
  (
    cd "$here"
    "${mpi[@]}" "$bin" run sweeps/tiny.yaml --out "$dir/tiny" --quiet >"$dir/tiny.log" 2>&1
    if ((quick)); then "${mpi[@]}" "$bin" run sweeps/quick.yaml --out "$dir/quick" --quiet >"$dir/quick.log" 2>&1; fi
    common=(--set train_limit=3000 --max-epochs 3 --patience 0 --test-limit 500 --arch FC-30-10)
    "$bin" train --method deterministic "${common[@]}" --out "$dir/det.h5" >"$dir/train-det.txt"
    "$bin" train --method deterministic --lambda 1e-2 "${common[@]}" --out "$dir/det-l2.h5" >"$dir/train-det-l2.txt"
    "$bin" train --method bbb --samples 2 --sample-mode sequential "${common[@]}" --out "$dir/bbb.h5" >"$dir/train-bbb.txt"
    "$bin" train --method bbb --samples 2 --sample-mode vectorized --arch FC-30-20-10 "${common[@]}" \
      --out "$dir/bbbvec.h5" >"$dir/train-bbbvec.txt"
    "$bin" train --method lrt --prior gaussian --samples 2 "${common[@]}" --out "$dir/lrt.h5" >"$dir/train-lrt.txt"
    "$bin" train --method dropout --mc-dropout 1 "${common[@]}" --out "$dir/dropout.h5" >"$dir/train-dropout.txt"
    "$bin" train --method alpha --alpha-samples 3 "${common[@]}" --out "$dir/alpha.h5" >"$dir/train-alpha.txt"
    "$bin" train --method dropout --lambda 1e-3 "${common[@]}" --out "$dir/dropout-l2.h5" \
      >"$dir/train-dropout-l2.txt"
    "$bin" train --method alpha --lambda 1e-3 --alpha-samples 2 "${common[@]}" --out "$dir/alpha-l2.h5" \
      >"$dir/train-alpha-l2.txt"
    "$bin" eval --model "$dir/dropout.h5" --runs 4 --ensemble 1,4 --ood uniform --ood-samples 4 --test-limit 300 \
      --quiet --json "$dir/eval-dropout.json" >"$dir/eval-dropout.txt"
    # SGLD, then APD distilling it (offline) and APD with its own chain (online): 3000 rows / batch
    # 100 = 30 generator iterations per epoch, wgan_gp's double backprop included.
    sgld=(--sgld-burn-in 20 --sgld-thin 2 --sgld-samples 20)
    "$bin" train --method sgld "${sgld[@]}" "${common[@]}" --out "$dir/sgld.h5" >"$dir/train-sgld.txt"
    apd=(--apd-hidden 20 --apd-batch 10 --max-epochs 2)
    "$bin" train --method apd --teacher "$dir/sgld.h5" --teacher-samples 20 "${common[@]}" "${apd[@]}" \
      --out "$dir/apd.h5" >"$dir/train-apd.txt"
    "$bin" train --method apd --apd-mode online --teacher-samples 10 --apd-sgld-burn-in 20 --apd-sgld-thin 2 \
      "${common[@]}" "${apd[@]}" --out "$dir/apd-online.h5" >"$dir/train-apd-online.txt"
    "$bin" eval --model "$dir/apd.h5" --runs 4 --ensemble 1,4 --ood gaussian --ood-samples 4 --test-limit 300 \
      --quiet --json "$dir/eval-apd.json" >"$dir/eval-apd.txt"
    "$bin" attack --model "$dir/det.h5" --attack fgsm --limit 300 --quiet --out "$dir/fgsm.h5" >/dev/null
    "$bin" attack --model "$dir/det.h5" --attack minnorm --limit 100 --quiet --out "$dir/minnorm.h5" >/dev/null
    "$bin" attack --model "$dir/bbb.h5" --attack pgd --source expectation --samples 3 --steps 5 --limit 100 \
      --quiet --out "$dir/pgd.h5" >/dev/null
    "$bin" eval --model "$dir/bbb.h5" --set "$dir/fgsm.h5" --runs 10 --ensemble 1,2,5 --prune 0.25,0.5 \
      --prune-samples 5 --ood gaussian,uniform,fashion --ood-samples 5 --test-limit 300 --quiet \
      --json "$dir/eval-bbb.json" >"$dir/eval-bbb.txt"
    "$bin" eval --model "$dir/lrt.h5" --runs 6 --ensemble 1,3 --ood gaussian --ood-samples 4 --test-limit 300 \
      --quiet --json "$dir/eval-lrt.json" >"$dir/eval-lrt.txt"
    "$bin" eval --model "$dir/det.h5" --set "$dir/minnorm.h5" --ood uniform --quiet --json "$dir/eval-det.json" \
      >"$dir/eval-det.txt"
  )
  touch "$dir/.done"
}

run_side "$old" "$work/old"
run_side "$new" "$work/new"
skip=(); ((quick)) || skip=(--skip quick/)
"$python" "$here/tests/compare/compare_outputs.py" "${skip[@]}" "$work/old" "$work/new"
