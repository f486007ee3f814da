#!/usr/bin/env python3
"""test_benchmark.py BNNSWEEP WORKDIR - sweeps/benchmark-quick.yaml and analysis/benchmark.py end to end.

Runs sweeps/benchmark-quick.yaml at a reduced size in one process - small
stand-ins for the architectures (FC-16-16-10 for FC-100-100-10, FC-24-10 for
FC-400-400-10, FC-10 / FC-12-10 / FC-20-10 for the sources), 200 training
rows, one epoch, 30 validation / test / OOD rows, 10 min-norm steps, 2 PGD
steps, 2 runs / samples, the OOD sets that need no files - then checks:
- the plan: 16 evaluated models (7 methods x 2 architectures, plus the plain
  dropout net), 12 transfer sets, 16 detection sets (8 source models x FGSM,
  PGD), every task done;
- the table: one row per model in the method order, the columns of METHODS.md
  s.13, "-" exactly where a value is not defined (BALD of a point estimate,
  SNR pruning of a method without an SNR), a number everywhere else;
- known answers: the parameters of FC-16-16-10 are 13,002 (deterministic,
  dropout) and 2 x 13,002 (BBB, LRT, RIS: mean and rho); the transfer column
  is the mean of the cube's accuracies on the 12 sets; each CSV number is the
  cube value it names; s/epoch is positive;
- benchmark.png is a PNG of a plausible size.
"""
import csv
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "analysis"))
from bnscube import Cube  # noqa: E402
from checks import check, failures, run as run_in  # noqa: E402


def run(cmd, expect_ok=True):
    return run_in(cmd, cwd=ROOT, expect_ok=expect_ok)


BENCH = os.path.join(ROOT, "analysis", "benchmark.py")
SWEEP = os.path.join(ROOT, "sweeps", "benchmark-quick.yaml")
W_FC16 = 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10   # FC-16-16-10


ARCHS = ["FC-100-100-10", "FC-400-400-10"]
SMALL = {"FC-100-100-10": "FC-16-16-10", "FC-400-400-10": "FC-24-10"}   # the test's stand-ins
SMALL_SOURCES = "[FC-10, FC-12-10, FC-20-10]"                           # for FC-10, FC-200-200-10, FC-1200-1200-10


def reduced():
    groups = ["det", "drop", "alpha", "bbb", "lrt", "sgld", "ris"]
    sets = ["models.%s.arch=[%s]" % (g, ", ".join(SMALL[a] for a in ARCHS)) for g in groups]
    sets += ["models.source.arch=" + SMALL_SOURCES, "models.ris.ris_samples=2", "models.alpha.alpha_samples=2"]
    sets += ["data.train_limit=200", "data.test_limit=30", "train.max_epochs=1",
            "models.sgld.sgld_burn_in=1", "models.sgld.sgld_thin=1", "models.sgld.sgld_samples=2",
            "attacks.minnorm.max_steps=10", "attacks.pgd.steps=2", "attacks.fgsm.rows=30", "attacks.pgd.rows=30",
            "evaluations.robustness.runs=2", "evaluations.detection.samples=2", "evaluations.ood.samples=2",
            "evaluations.ood.rows=30", "evaluations.pruning.samples=2"]
    # notMNIST and Omniglot are read from image files per task (slow under ASan): the
    # analysis_anomaly test covers them; here the sets that need no files
    oods = ["fashion", "gaussian", "uniform"]
    sets += ["evaluations.ood.ood=[%s]" % ", ".join(oods)]
    return [a for s in sets for a in ("--set", s)], oods


def main():
    exe, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    args, oods = reduced()
    rd = os.path.join(work, "run")
    run([exe, "run", SWEEP, "--out", rd, "--quiet"] + args)
    cube = Cube(os.path.join(rd, "cube.h5"))
    check(all(s == "done" for s in cube.task_status), "every task done (%d)" % len(cube.task_status))
    out = os.path.join(work, "table")
    md = run([sys.executable, BENCH, os.path.join(rd, "cube.h5"), "--out", out]).stdout
    grid = [[c.strip() for c in ln.strip("|").split("|")] for ln in md.splitlines() if ln.startswith("| ")]
    head, body = grid[0], grid[2:]
    names = {"notmnist": "notMNIST", "omniglot": "Omniglot", "fashion": "Fashion", "gaussian": "Gaussian",
             "uniform": "Uniform"}
    ood_cols = [c for k in ["notmnist", "omniglot", "fashion", "gaussian", "uniform"] if k in oods
                for c in ("%s VR" % names[k], "%s BALD" % names[k])]
    want = ["Model", "Acc", "NLL", "ECE", "Transfer", "Det. AUROC"] + ood_cols + ["Pruned 75%", "s/epoch", "Params"]
    check(head == want, "columns per METHODS.md s.13: %s" % head)
    methods = ["SGD + L2", "dropout (plain)", "MC dropout", "alpha", "BBB", "LRT", "SGLD", "RIS"]
    small = sorted(SMALL.values())   # the table sorts a method's architectures by name
    want_rows = ["%s, %s" % (m, a) for m in methods for a in small]
    check([r[0] for r in body] == want_rows, "rows: 16 models in the method order: %s" % [r[0] for r in body])
    col = {h: k for k, h in enumerate(head)}
    ok_cells = True
    for r in body:
        point = r[0].startswith("SGD") or r[0].startswith("dropout (plain)")
        snr = r[0].split(",")[0] in ("BBB", "LRT", "RIS")
        for h, text in zip(head[1:], r[1:]):
            undefined = (h.endswith("BALD") and point) or (h == "Pruned 75%" and not snr)
            if undefined != (text == "-") or (not undefined and not text.replace(",", "").replace(".", "").replace("e-", "").isdigit()):
                ok_cells = False
                print("  cell %r / %r = %r" % (r[0], h, text))
    check(ok_cells, "'-' exactly where undefined (BALD of a point estimate, pruning without an SNR), numbers elsewhere")
    params = {r[0]: int(r[col["Params"]].replace(",", "")) for r in body}
    net = SMALL["FC-100-100-10"]
    check(params["SGD + L2, %s" % net] == W_FC16 and params["MC dropout, %s" % net] == W_FC16,
          "parameters of %s: %d (deterministic, dropout)" % (net, W_FC16))
    check(all(params["%s, %s" % (m, net)] == 2 * W_FC16 for m in ("BBB", "LRT", "RIS")),
          "parameters of the Gaussian posteriors: 2 x %d" % W_FC16)
    check(all(float(r[col["s/epoch"]]) > 0 for r in body), "s/epoch > 0 for every model")
    transfer = [j for j in cube.attack_sets() if cube.sets[j].startswith("minnorm")]
    det = [j for j in cube.attack_sets() if cube.sets[j].split(",")[0].split("/")[0] in ("fgsm", "pgd")]
    check(len(transfer) == 12 and len(det) == 16, "%d transfer sets, %d detection sets" % (len(transfer), len(det)))
    with open(os.path.join(out, "benchmark.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    acc = cube.var("accuracy")
    agree = 0
    for r in rows[1:]:
        i = cube.models.index(r[0])
        t = rows[0].index("transfer_accuracy")
        a = rows[0].index("accuracy")
        agree += abs(float(r[t]) - 100 * np.mean(acc[i, transfer])) < 1e-3 and \
            abs(float(r[a]) - 100 * acc[i, cube.sets.index("test")]) < 1e-3
    check(agree == 16, "CSV: accuracy and transfer mean = the cube's, for %d of 16 models" % agree)
    png = os.path.join(out, "benchmark.png")
    with open(png, "rb") as f:
        data = f.read(24)
    w, h = struct.unpack(">II", data[16:24]) if len(data) == 24 else (0, 0)
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and w > 800 and h > 300, "benchmark.png: a PNG of %d x %d" % (w, h))
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
