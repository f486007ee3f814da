#!/usr/bin/env python3
"""test_semko.py BNNSWEEP WORKDIR - the Semko 2023 / Li & Gal 2017 experiments end to end.

Runs sweeps/semko-fgsm.yaml at reduced size (one process, no MPI: 1000
training rows, 1 epoch, 100 test images, 2-sample expectations and
ensembles), then analysis/semko.py fgsm on its cube, and checks that the PNG
is a valid PNG, the CSV has one row per model and eps with accuracies in
[0, 1], that eps 0 gives the clean accuracy (an FGSM step of 0 changes no
pixel) and that a white-box eps 0.2 attack lowers the MLP's accuracy.
Then analysis/semko.py ood on the same run directory (8 samples, 50 images;
notMNIST / Omniglot from ../shared/data when present, else skipped), and
checks its PNGs, that every per-sample softmax of the sample-probs file sums
to 1, that a deterministic model has one slice and a stochastic one 8 that
differ, and that the AUROC of the predictive entropy recomputed from the
file's samples equals the one `bnnsweep eval --json` reports for the same
model (the file holds the samples the OOD scores use).
"""
import json
import csv
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
from checks import check, failures, valid_png, run as run_in  # noqa: E402


def run(cmd, ok_codes=(0,)):
    return run_in(cmd, ok_codes=ok_codes).stdout

SEMKO = os.path.join(ROOT, "analysis", "semko.py")


def sets(*pairs):
    """--set arguments for KEY=VALUE pairs"""
    return [a for p in pairs for a in ("--set", p)]


# what every reduced run shares: 1000 training rows, 1 epoch, 2-sample validation and runs
COMMON = sets("data.train_limit=1000", "train.max_epochs=1", "train.val_samples=2", "evaluations.robustness.runs=2")
REDUCED = COMMON + sets("data.test_limit=100", "attacks.fgsm.source_samples=2", "evaluations.ensembles.ensemble=[2]",
                        "evaluations.ensembles.runs=2")


def run_sweep(exe, work, name, reduced):
    """runs sweeps/NAME.yaml into WORK/NAME with the reduced settings; returns the run directory"""
    rd = os.path.join(work, name)
    run([exe, "run", os.path.join(ROOT, "sweeps", name + ".yaml"), "--out", rd] + reduced)
    return rd


def test_fgsm(exe, work):
    rd = run_sweep(exe, work, "semko-fgsm", REDUCED)
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


def auroc(s_in, s_out):
    """P(score_out > score_in) + P(equal)/2: OOD positive, as metrics.h."""
    import numpy as np
    a = np.concatenate([s_in, s_out])
    order = a.argsort(kind="mergesort")
    ranks = np.empty(len(a))
    sa = a[order]
    i = 0
    while i < len(a):  # average ranks of ties
        j = i
        while j + 1 < len(a) and sa[j + 1] == sa[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r_out = ranks[len(s_in):].sum()
    return (r_out - len(s_out) * (len(s_out) + 1) / 2) / (len(s_in) * len(s_out))


def entropy(p):
    import numpy as np
    return -(p * np.log(np.maximum(p, 1e-30))).sum(axis=1)


def test_ood(exe, work):
    import h5py
    import numpy as np
    rd = os.path.join(work, "semko-fgsm")
    out = os.path.join(work, "ood-analysis")
    run([sys.executable, SEMKO, "ood", rd, "--bnnsweep", exe, "--samples", "8", "--test-limit", "50",
         "--index", "mnist=1,fashion=2", "--out", out])
    for m in ("mlp", "mcdrop", "bnn"):
        check(valid_png(os.path.join(out, "semko_ood_images_%s.png" % m)), "ood: semko_ood_images_%s.png valid" % m)
    check(valid_png(os.path.join(out, "semko_ood_sets.png")), "ood: semko_ood_sets.png valid")
    with open(os.path.join(out, "semko_ood.csv")) as f:
        rows = list(csv.DictReader(f))
    check({r["model"] for r in rows} == {"mlp", "mcdrop", "bnn"}, "ood: CSV has mlp, mcdrop, bnn")
    check(all(float(r["agreement_mean"]) == 1.0 for r in rows if r["model"] == "mlp"),
          "ood: the deterministic MLP's samples all agree")
    with h5py.File(os.path.join(out, "sample_probs_mlp.h5"), "r") as f:
        check(f["in/probs"].shape == (1, 50, 10), "ood: deterministic model: one slice %s" % (f["in/probs"].shape,))
    path = os.path.join(out, "sample_probs_mcdrop.h5")
    with h5py.File(path, "r") as f:
        model = f.attrs["model"].decode() if isinstance(f.attrs["model"], bytes) else f.attrs["model"]
        p_in, p_f = f["in/probs"][()], f["fashion/probs"][()]
        check(f["in/images"].shape == (50, 784) and int(f["in/images"][()].max()) == 255,
              "ood: images are bytes up to 255")
    check(p_in.shape == (8, 50, 10), "ood: stochastic model: 8 slices %s" % (p_in.shape,))
    check(bool(np.allclose(p_in.sum(axis=2), 1, atol=1e-4)), "ood: every per-sample softmax sums to 1")
    check(float(np.abs(p_in[0] - p_in[1]).max()) > 1e-3, "ood: MC-dropout samples differ")
    js = os.path.join(work, "mcdrop.json")
    run([exe, "eval", "--model", model, "--test-limit", "50", "--runs", "1", "--ensemble", "1", "--ood", "fashion",
         "--ood-samples", "8", "--score", "entropy", "--quiet", "--json", js])
    with open(js) as f:
        rep = json.load(f)
    want = [e["auroc"] for e in rep["ood"]["sets"] if e["score"] == "entropy"]
    want = want[0] if want else None
    got = auroc(entropy(p_in.mean(axis=0)), entropy(p_f.mean(axis=0)))
    check(want is not None and abs(got - want) < 1e-3,
          "ood: entropy AUROC from the samples %.4f = eval's %s" % (got, want))


LIGAL_REDUCED = COMMON + sets("data.test_limit=50", "models.alpha.alpha=[0,1]", "models.alpha.alpha_samples=2",
                              "attacks.fgsm.eps=[0,0.3]", "attacks.fgsm.source_samples=2",
                              "attacks.targeted.steps=[2,4]", "attacks.targeted.eta=0.05",
                              "attacks.targeted.source_samples=2")


def test_ligal(exe, work):
    rd = run_sweep(exe, work, "ligal", LIGAL_REDUCED)
    out = os.path.join(work, "ligal-analysis")
    run([sys.executable, SEMKO, "ligal", rd, "--bnnsweep", exe, "--samples", "4", "--examples", "0,3",
         "--out", out])
    for name in ("ligal_fgsm", "ligal_targeted", "ligal_strip"):
        check(valid_png(os.path.join(out, name + ".png")), "ligal: %s.png is a valid PNG" % name)
    with open(os.path.join(out, "ligal.csv")) as f:
        rows = list(csv.DictReader(f))
    models = sorted({r["model"] for r in rows})
    check(models == ["alpha/alpha=0", "alpha/alpha=1", "det"], "ligal: CSV models %s" % models)
    by = {(r["model"], r["attack"], float(r["x"])): r for r in rows}
    check(len(rows) == 3 * (2 + 3), "ligal: 3 models x (2 FGSM + clean + 2 targeted) rows (%d)" % len(rows))
    for m in models:
        # FGSM with eps 0 leaves every pixel: the clean set's (step 0's) accuracy
        check(by[(m, "fgsm", 0.0)]["accuracy"] == by[(m, "targeted", 0.0)]["accuracy"],
              "ligal: %s: FGSM eps 0 and step 0 give the same accuracy" % m)
        bald = [float(r["bald"]) for r in rows if r["model"] == m]
        if m == "det":
            check(all(b == 0 for b in bald), "ligal: the deterministic net's BALD is 0")
        else:
            check(all(b > 0 for b in bald), "ligal: %s: MC-dropout BALD > 0" % m)
        check(float(by[(m, "targeted", 4.0)]["p_target"]) > float(by[(m, "targeted", 0.0)]["p_target"]),
              "ligal: %s: 4 targeted steps raise p(target)" % m)


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: test_semko.py BNNSWEEP WORKDIR")
    exe, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    test_fgsm(exe, work)
    test_ood(exe, work)
    test_ligal(exe, work)
    if failures:
        raise SystemExit("%d check(s) failed" % len(failures))
    print("all checks passed")


if __name__ == "__main__":
    main()
