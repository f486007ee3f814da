#!/usr/bin/env bash
# sweeps/ris.sh [OUT_DIR] - the RIS measurement of issue 14 (METHODS.md s.11, docs/ris.md).
#
# Not a sweep file: the sweep runner has no gradient-variance step, so this
# script runs `bnnsweep train` and `bnnsweep gradvar` directly. For each of
# FC-100-100-10 and a deeper MLP with 5 hidden layers it trains mean-field VI
# with plain MC (ris_proposal=0), with RIS (ris_proposal=1) and with RIS whose
# proposal is bounded to |mu* - mu| <= 0.001 sigma (ris_max_shift=0.001), M = 10
# samples each, same seed, data order and init; the ELBO traces are the model files'
# /training curves (train_loss = -ELBO per example). At each trained model's
# final parameters, `gradvar` measures the gradient estimator's variance per
# parameter block over 200 repeated estimates on one 100-row minibatch, under
# plain MC, RIS, and RIS with tighter proposal bounds (ris_max_shift 0.01,
# 0.001), and the test accuracy of 1000 sampled models. analysis/ris.py
# makes the figure and the table from these HDF5 files only.
#
# Modest compute on purpose (a shared machine): 10,000 training rows, 20
# epochs, Adam lr 1e-3, 2,000 test rows; about 10 minutes on one core.
# Files already there are kept (a rerun resumes). BNNSWEEP=path/to/bnnsweep
# overrides the binary.
set -uo pipefail
out=${1:-results/ris}
bin=${BNNSWEEP:-build/bnnsweep}
mkdir -p "$out"
common=(--method ris --prior gaussian --optimizer adam --lr 0.001 --train-limit 10000 --test-limit 2000
        --epochs 20 --patience 0 --ris-samples 10 --seed 1 --quiet)
probes=("mc:ris_proposal=0" "ris:ris_max_shift=0.5" "ris-s0.01:ris_max_shift=0.01" "ris-s0.001:ris_max_shift=0.001")
for arch in FC-100-100-10 FC-100-100-100-100-100-10; do
    for est in mc ris ris-s0.001; do
        train_set=(--ris-proposal 1)
        [ "$est" = mc ] && train_set=(--ris-proposal 0)
        [ "$est" = ris-s0.001 ] && train_set=(--ris-proposal 1 --ris-max-shift 0.001)
        model="$out/$arch-$est.h5"
        echo "== train $arch $est"
        [ -f "$model" ] && echo "   (exists: kept)" || nice -n 10 "$bin" train "${common[@]}" --arch "$arch" "${train_set[@]}" --out "$model" \
            || echo "   (train exited with status $?)"
        [ -f "$model" ] || continue
        sampled=1000 # the sampled models depend on q only: once per model
        for probe in "${probes[@]}"; do
            name=${probe%%:*}
            echo "== gradvar $arch $est under $name"
            file="$out/$arch-$est.gradvar-$name.h5"
            # every probe sets what it needs after ris_proposal=1 (a model may carry its own max_shift)
            [ -f "$file" ] && echo "   (exists: kept)" || nice -n 10 "$bin" gradvar --model "$model" --out "$file" --reps 200 \
                --batch 100 --sampled $sampled --test-limit 2000 --setting ris_proposal=1 --setting "${probe#*:}" \
                || echo "   (gradvar exited with status $?)"
            sampled=0
        done
    done
done
