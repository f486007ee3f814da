#!/usr/bin/env python3
"""test_ris_analysis.py BNNSWEEP WORKDIR - `bnnsweep gradvar` and analysis/ris.py end to end.

Trains a tiny FC-10-10 (300 rows, 2 epochs) with plain MC and with RIS, the file names
sweeps/ris.sh uses, then checks gradvar: the proposal equal to q (ris_taylor_order=0) gives the
same mean gradient and variances as plain MC (ris_proposal=0) to the bit; the variances it stores
are those of its own per-block attributes; a bad --setting exits 2 naming the key. Then ris.py
must write a PNG, and a table (Markdown + CSV) with one row per model and dense layer.
Run with the Python that has h5py, numpy and matplotlib.
"""
import csv
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

from test_analysis import check, failures, run  # the same checker and runner as the cube analysis test

HERE = os.path.dirname(os.path.abspath(__file__))
RIS_PY = os.path.normpath(os.path.join(HERE, "..", "..", "analysis", "ris.py"))


def main():
    bns, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    common = ["train", "--method", "ris", "--prior", "gaussian", "--arch", "FC-10-10", "--train-limit", "300",
              "--test-limit", "100", "--epochs", "2", "--patience", "0", "--ris-samples", "3", "--quiet"]
    for est, p in (("mc", "0"), ("ris", "1")):
        run([bns] + common + ["--ris-proposal", p, "--out", os.path.join(work, f"FC-10-10-{est}.h5")])
    gv = ["gradvar", "--reps", "5", "--batch", "20", "--test-limit", "100"]
    for est in ("mc", "ris"):
        model = os.path.join(work, f"FC-10-10-{est}.h5")
        for probe, setting in (("mc", "ris_proposal=0"), ("ris", "ris_max_shift=0.5"),
                               ("ris-s0.01", "ris_max_shift=0.01"), ("ris-s0.001", "ris_max_shift=0.001")):
            run([bns] + gv + ["--model", model, "--sampled", "6" if probe == "mc" else "0", "--setting",
                              "ris_proposal=1", "--setting", setting,
                              "--out", os.path.join(work, f"FC-10-10-{est}.gradvar-{probe}.h5")])
    q = os.path.join(work, "q.h5")
    run([bns] + gv + ["--model", os.path.join(work, "FC-10-10-mc.h5"), "--sampled", "0", "--setting",
                      "ris_taylor_order=0", "--out", q])
    with h5py.File(q) as a, h5py.File(os.path.join(work, "FC-10-10-mc.gradvar-mc.h5")) as b:
        check(np.array_equal(a["mean_grad"][()], b["mean_grad"][()]), "gradvar: r = q gives plain MC's mean gradient")
        check(np.array_equal(a["loss"][()], b["loss"][()]), "gradvar: r = q gives plain MC's objective values")
        va = a["blocks/layers/0/weight_mu"].attrs["total_variance"][0]
        vb = b["blocks/layers/0/weight_mu"].attrs["total_variance"][0]
        check(va == vb and vb > 0, f"gradvar: r = q gives plain MC's variance ({va:.4g} vs {vb:.4g})")
        blk = b["blocks/layers/0/weight_mu"].attrs
        check(abs(blk["mean_variance"][0] * blk["count"][0] - blk["total_variance"][0]) <= 1e-12 * blk["total_variance"][0],
              "gradvar: mean_variance * count = total_variance")
        check(b["sampled_accuracy"].shape == (6,) and 0 <= b["sampled_accuracy"][()].min() <= 1,
              "gradvar: 6 sampled accuracies in [0, 1]")
    p = subprocess.run([bns] + gv + ["--model", os.path.join(work, "FC-10-10-mc.h5"), "--setting",
                                     "ris_taylor_order=1", "--out", os.path.join(work, "bad.h5")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 2 and "ris_taylor_order" in p.stderr and not os.path.exists(os.path.join(work, "bad.h5")),
          "gradvar: a bad --setting exits 2, names the key, writes nothing")

    run([sys.executable, RIS_PY, work, "--out", os.path.join(work, "analysis")])
    out = os.path.join(work, "analysis")
    with open(os.path.join(out, "ris_traces.png"), "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "ris.py: ris_traces.png is a PNG")
    rows = list(csv.DictReader(open(os.path.join(out, "ris_table.csv"))))
    check(len(rows) == 4, f"ris.py: 2 models x 2 dense layers in the CSV ({len(rows)} rows)")
    check(all(float(r["ratio_mu_ris-s0.001"]) > 0 for r in rows), "ris.py: variance ratios are filled")
    md = open(os.path.join(out, "ris_table.md")).read()
    check(md.count("| FC-10-10 |") == 2, "ris.py: the Markdown table names each model once")
    if failures:
        raise SystemExit(f"{len(failures)} check(s) failed")


if __name__ == "__main__":
    main()
