#!/usr/bin/env python3
"""test_study.py BNNSWEEP WORK_DIR - analysis/study.py's arithmetic on a hand-made cube.

A cube written here with h5py (the layout bnnsweep writes: string coordinates
model and set, accuracy over (model, set)) with four BNN configurations on a
2 x 2 grid (reduction x clip_norm), a baseline, a fifth BNN without results,
and attack sets at two stopping margins. Known answers: each axis value's
marginal mean of T1, of T2 per margin, of the ensemble gain (T3) and of the
pruned accuracy (T4), the best T1, the configurations'
order, the per-margin best-BNN-minus-best-baseline margin, the note counting
the model without results, the CSV's numbers. Bad input: an unreadable cube
and a cube without the BNN group exit 1. BNNSWEEP is not used (no sweep run).
"""
import csv
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from checks import check, failures, md_rows  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
STUDY = os.path.join(ROOT, "analysis", "study.py")

MODELS = ["bnn/reduction=mean,clip_norm=0", "bnn/reduction=mean,clip_norm=50",
          "bnn/reduction=sum,clip_norm=0", "bnn/reduction=sum,clip_norm=50",
          "bnn/reduction=sum,clip_norm=5", "baseline/l2_lambda=0"]
SETS = ["test", "val", "minnorm,margin=0,budget=0.1/source/arch=FC-10",
        "minnorm,margin=0.5,budget=0.1/source/arch=FC-10", "minnorm,margin=0.5,budget=0.1/source/arch=FC-200"]
NAN = float("nan")
# rows: models; columns: sets (fractions)
ACC = [[0.90, 0.91, 0.60, 0.70, 0.80],
       [0.92, 0.92, 0.62, 0.72, 0.74],
       [0.96, 0.95, 0.64, 0.84, 0.86],
       [0.97, 0.97, 0.66, 0.88, 0.90],
       [NAN, NAN, NAN, NAN, NAN],   # pending
       [0.97, 0.97, 0.50, 0.40, 0.60]]


# ensemble accuracy (model, set, n_ensemble = [1, 5]): the 5-sample one is
# the 1-sample one plus a per-model gain on the attack sets (columns 2-4)
GAIN = [0.01, 0.02, 0.03, 0.05, NAN, 0.0]
ENS = [[[a, a + (GAIN[i] if j >= 2 else 0.0)] for j, a in enumerate(row)] for i, row in enumerate(ACC)]
ENS[3][4][1] = ACC[3][4] + 0.08   # model 3: gains 0.05, 0.05, 0.08 -> mean 0.06
# pruned accuracy (model, set, rate = [0.5, 0.9]): on test, T1 - 0.01 and T1 - 0.2
PRUNED = [[[a - 0.01, a - 0.2] for a in row] for row in ACC]


def write_cube(path, models, sets, acc, ens=None, pruned=None):
    with h5py.File(path, "w") as f:
        f["model"] = np.array([m.encode() for m in models], dtype="S")
        f["set"] = np.array([s.encode() for s in sets], dtype="S")
        f["accuracy"] = np.array(acc, dtype=float)
        if ens is not None:
            f["n_ensemble"] = np.array([1.0, 5.0])
            f["ensemble_accuracy"] = np.array(ens, dtype=float)
        if pruned is not None:
            f["rate"] = np.array([0.5, 0.9])
            f["pruned_accuracy"] = np.array(pruned, dtype=float)
        f.attrs["sweep_name"] = "zhang2020-study"


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    work = sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cube = os.path.join(work, "cube.h5")
    write_cube(cube, MODELS, SETS, ACC, ENS, PRUNED)
    out = os.path.join(work, "out")
    p = subprocess.run([sys.executable, STUDY, cube, "--out", out], capture_output=True, text=True)
    print(p.stdout, p.stderr)
    check(p.returncode == 0, "study.py exits 0")
    rows = md_rows(p.stdout)
    # Table 1 (marginal means), columns: T1, T2 m=0, T2 m=0.5, best T1, T3 gain N=5-1, T4 50%, T4 90%
    t2 = lambda r: (ACC[r][3] + ACC[r][4]) / 2   # noqa: E731  margin 0.5: two sets
    want = {
        "reduction = mean (2)": [(0.90 + 0.92) / 2, (0.60 + 0.62) / 2, (t2(0) + t2(1)) / 2, 0.92],
        "reduction = sum (2)": [(0.96 + 0.97) / 2, (0.64 + 0.66) / 2, (t2(2) + t2(3)) / 2, 0.97],
        "clip_norm = 0 (2)": [(0.90 + 0.96) / 2, (0.60 + 0.64) / 2, (t2(0) + t2(2)) / 2, 0.96],
        "clip_norm = 50 (2)": [(0.92 + 0.97) / 2, (0.62 + 0.66) / 2, (t2(1) + t2(3)) / 2, 0.97],
    }
    for label, values in want.items():
        got = rows.get(label)
        check(got is not None and got[:4] == ["%.2f" % (100 * v) for v in values],
              "effect row %s = %s (got %s)" % (label, ["%.2f" % (100 * v) for v in values], got))
    gain = [0.01, 0.02, 0.03, 0.06]   # per model, averaged over its three attack sets
    want_extra = {
        "reduction = mean (2)": [(gain[0] + gain[1]) / 2, (0.90 + 0.92) / 2 - 0.01, (0.90 + 0.92) / 2 - 0.2],
        "clip_norm = 50 (2)": [(gain[1] + gain[3]) / 2, (0.92 + 0.97) / 2 - 0.01, (0.92 + 0.97) / 2 - 0.2],
    }
    for label, values in want_extra.items():
        got = rows.get(label)
        check(got is not None and got[4:] == ["%.2f" % (100 * v) for v in values],
              "effect row %s T3 gain, T4 = %s (got %s)" % (label, ["%.2f" % (100 * v) for v in values], got))
    header = [line for line in p.stdout.splitlines() if line.startswith("| ") and "T1 test" in line][0]
    check("T3 gain N=5-1" in header and "T4 50%" in header and "T4 90%" in header, "extra columns named: " + header)
    check(rows.get("reduction=sum, clip_norm=50", [])[3:] == ["6.00", "96.00", "77.00"],
          "configuration row holds its own T3 gain and T4 (%s)" % rows.get("reduction=sum, clip_norm=50"))
    check("clip_norm = 5 (1)" not in rows, "the model without results makes no effect row")
    check("1 models of group bnn have no results yet" in p.stdout, "the note counts the model without results")
    # Table 2: the configurations, best T1 first
    order = [line.split("|")[1].strip() for line in p.stdout.split("## Table 2")[1].split("## Table 3")[0].splitlines()
             if line.startswith("| ") and not line.startswith("| ---") and line.split("|")[1].strip()]
    check(order == ["reduction=sum, clip_norm=50", "reduction=sum, clip_norm=0", "reduction=mean, clip_norm=50",
                    "reduction=mean, clip_norm=0"], "configurations best T1 first: %s" % order)
    # Table 3: margin 0.5: best BNN T2 = t2(3) = 0.89, best baseline (0.40 + 0.60) / 2 = 0.50
    check(rows.get("margin 0.5") == ["89.00", "50.00", "39.00"], "margin 0.5: 89 - 50 = 39 (%s)" % rows.get("margin 0.5"))
    check(rows.get("margin 0") == ["66.00", "50.00", "16.00"], "margin 0: 66 - 50 = 16 (%s)" % rows.get("margin 0"))
    for name in ("study.md", "study.tex", "study.csv"):
        check(os.path.exists(os.path.join(out, name)), "%s written" % name)
    with open(os.path.join(out, "study.csv")) as f:
        recs = {(r["table"], r["row"], r["column"]): r["value"] for r in csv.DictReader(f)}
    check(recs.get(("study-margin", "margin=0.5", "difference")) == "39.0000", "the CSV holds the margin")
    check(recs.get(("study-effects", "reduction=sum", "t1_mean")) == "96.5000", "the CSV holds the effect means")
    check(recs.get(("study-configs", "reduction=mean, clip_norm=0", "t3_gain")) == "1.0000", "the CSV holds T3 gains")
    # without ensemble and pruning variables the extra columns are left out
    plain = os.path.join(work, "plain.h5")
    write_cube(plain, MODELS, SETS, ACC)
    p = subprocess.run([sys.executable, STUDY, plain, "--out", os.path.join(work, "plain")], capture_output=True,
                       text=True)
    check(p.returncode == 0 and "T3 gain" not in p.stdout and "T4" not in p.stdout.split("## Table 3")[0],
          "a cube without ensembles or pruning has no T3/T4 columns")

    # bad input
    p = subprocess.run([sys.executable, STUDY, os.path.join(work, "missing.h5")], capture_output=True, text=True)
    check(p.returncode == 1 and "cannot read the cube" in p.stderr, "an unreadable cube exits 1 naming it")
    other = os.path.join(work, "other.h5")
    write_cube(other, ["baseline/l2_lambda=0"], SETS, [ACC[5]])
    p = subprocess.run([sys.executable, STUDY, other, "--out", out], capture_output=True, text=True)
    check(p.returncode == 1 and "no model of group 'bnn'" in p.stderr, "a cube without the BNN group exits 1")
    if failures:
        raise SystemExit("FAILED: %d checks: %s" % (len(failures), "; ".join(failures)))
    print("all checks passed")


if __name__ == "__main__":
    main()
