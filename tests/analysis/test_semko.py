#!/usr/bin/env python3
"""test_semko.py BNNSWEEP WORKDIR - the Semko 2023 / Li & Gal 2017 experiments end to end.

Runs sweeps/semko-fgsm.yaml at reduced size (one process, no MPI: 1000
training rows, 1 epoch, 100 test images, 2-sample expectations and
ensembles), then analysis/semko.py fgsm on its cube, and checks that the PNG
is a valid PNG, the CSV has one row per model and eps with accuracies in
[0, 1], that eps 0 gives the clean accuracy (an FGSM step of 0 changes no
pixel) and that a white-box eps 0.2 attack lowers the MLP's accuracy.
"""
import csv
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SEMKO = os.path.join(ROOT, "analysis", "semko.py")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n")
        raise SystemExit("FAILED: %s exited %d" % (" ".join(cmd), p.returncode))
    return p.stdout


def valid_png(path):
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > 1000


REDUCED = ["--set", "data.train_limit=1000", "--set", "data.test_limit=100", "--set", "train.max_epochs=1",
           "--set", "train.val_samples=2", "--set", "attacks.fgsm.source_samples=2",
           "--set", "evaluations.ensembles.ensemble=[2]", "--set", "evaluations.ensembles.runs=2",
           "--set", "evaluations.robustness.runs=2"]


def test_fgsm(exe, work):
    rd = os.path.join(work, "fgsm")
    run([exe, "run", os.path.join(ROOT, "sweeps", "semko-fgsm.yaml"), "--out", rd] + REDUCED)
    out = os.path.join(work, "fgsm-analysis")
    run([sys.executable, SEMKO, "fgsm", os.path.join(rd, "cube.h5"), "--out", out])
    check(valid_png(os.path.join(out, "semko_fgsm.png")), "fgsm: semko_fgsm.png is a valid PNG")
    with open(os.path.join(out, "semko_fgsm.csv")) as f:
        rows = list(csv.DictReader(f))
    models = sorted({r["model"] for r in rows})
    check(models == ["bnn", "dropnet", "mcdrop", "mlp"], "fgsm: CSV has the four models (%s)" % models)
    check(len(rows) == 20, "fgsm: CSV has 4 models x 5 eps rows (%d)" % len(rows))
    vals = [float(r[k]) for r in rows for k in ("white_box", "transfer")]
    check(all(0 <= v <= 1 for v in vals), "fgsm: accuracies in [0, 1]")
    by = {(r["model"], float(r["eps"])): r for r in rows}
    for m in models:
        check(by[(m, 0.0)]["white_box"] == by[(m, 0.0)]["transfer"], "fgsm: %s eps 0 white-box = transfer" % m)
    check(float(by[("mlp", 0.2)]["white_box"]) < float(by[("mlp", 0.0)]["white_box"]),
          "fgsm: eps 0.2 lowers the MLP's accuracy")


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: test_semko.py BNNSWEEP WORKDIR")
    exe, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    test_fgsm(exe, work)
    if failures:
        raise SystemExit("%d check(s) failed" % len(failures))
    print("all checks passed")


if __name__ == "__main__":
    main()
