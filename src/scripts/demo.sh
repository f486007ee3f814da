#!/usr/bin/env bash
# demo.sh - the main job until the sweep runner lands: train the deterministic
# and the Bayes-by-Backprop FC-100-100-10 of Zhang & Chen 2020 side by side
# (one process per core), then print their test accuracies as a table.
#   bash src/scripts/demo.sh [BNNSWEEP_BINARY] [EPOCHS]
set -euo pipefail
bin="${1:-build/bnnsweep}"
epochs="${2:-20}"
out="${BNS_RESULTS:-results/demo}"
mkdir -p "$out"

"$bin" train --method deterministic --epochs "$epochs" --out "$out/deterministic.h5" >"$out/deterministic.log" 2>&1 &
det=$!
"$bin" train --method bbb --rho-init -3 --epochs "$epochs" --out "$out/bbb.h5" >"$out/bbb.log" 2>&1 &
bbb=$!
echo "training deterministic and BBB FC-100-100-10 for up to $epochs epochs (logs in $out/)"
status=0
wait $det || status=$?
wait $bbb || status=$?
tail -n 3 "$out/deterministic.log" "$out/bbb.log"
echo
echo "| model | epochs | s/epoch | best val acc | test accuracy |"
echo "| --- | --- | --- | --- | --- |"
for m in deterministic bbb; do
  log="$out/$m.log"
  stop=$(grep '^stopped:' "$log" || true)
  n=$(sed -n 's/.* after \([0-9]*\) epochs.*/\1/p' <<<"$stop")
  spe=$(sed -n 's/.*(\([0-9.]*\)s\/epoch).*/\1/p' <<<"$stop")
  val=$(sed -n 's/.*validation accuracy \([0-9.]*\).*/\1/p' <<<"$stop")
  test=$(grep '^test accuracy' "$log" | sed 's/^test accuracy *//')
  echo "| $m FC-100-100-10 | $n | $spe | $val | $test |"
done
exit $status
