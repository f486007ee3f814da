#!/usr/bin/env python3
"""test_toy.py BNNSWEEP WORK_DIR - the regression toy end to end (analysis/toy.py).

Trains the MLP, MC dropout and BBB on Blundell's toy at reduced size (250
epochs, 30 weight samples, a 141-point grid) through `bnnsweep train
--dataset toy1d --sample-outputs`, then checks: the PNG is a valid PNG that
decodes to an image; the per-sample output files hold the documented
shapes; the MLP's band is the constant +-2 s of the likelihood (no
epistemic part); each Bayesian model's band is at least twice as wide at
x = 1.0 (outside the data) as at x = 0.25 (inside), and its mean fits the
data inside (RMSE against the noiseless curve below 0.05 on [0, 0.5]).
"""
import csv
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_semko import ROOT, check, failures, run, valid_png  # noqa: E402

TOY = os.path.join(ROOT, "analysis", "toy.py")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    exe, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    import h5py
    import matplotlib.image
    import numpy as np
    out = run([sys.executable, TOY, work, "--bnnsweep", exe, "--models", "mlp,dropout,bbb", "--epochs", "250",
               "--samples", "30", "--grid", "141"])
    print(out)
    png = os.path.join(work, "toy.png")
    check(valid_png(png), "toy.png is a valid PNG")
    img = matplotlib.image.imread(png)
    check(img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300, "toy.png decodes to %s" % (img.shape,))
    with h5py.File(os.path.join(work, "toy_bbb.h5"), "r") as f:
        check(f["outputs"].shape == (30, 141, 1) and f["x"].shape == (141, 1), "bbb outputs [30, 141, 1]")
        check(f["train_x"].shape == (1000, 1) and float(f.attrs["noise_std"]) == 0.02, "1000 training points, s 0.02")
    with h5py.File(os.path.join(work, "toy_mlp.h5"), "r") as f:
        check(f["outputs"].shape[0] == 1, "the MLP writes one output row (a point estimate)")
    band = {r["model"]: r for r in csv.DictReader(open(os.path.join(work, "toy_band.csv")))}
    check(set(band) == {"mlp", "dropout", "bbb"}, "toy_band.csv has one row per model")
    m = band["mlp"]
    check(abs(float(m["total_band_x1.0"]) - 0.08) < 1e-6 and float(m["epistemic_band_x1.0"]) == 0,
          "MLP band: 4 s = 0.08 everywhere, no epistemic part")
    rows = list(csv.DictReader(open(os.path.join(work, "toy.csv"))))
    for name in ("dropout", "bbb"):
        inside, outside = float(band[name]["total_band_x0.25"]), float(band[name]["total_band_x1.0"])
        check(outside > 2 * inside, "%s: band at x=1 (%.3f) > 2 x band at x=0.25 (%.3f)" % (name, outside, inside))
        fit = [(float(r["mean"]) - float(r["target"])) ** 2 for r in rows
               if r["model"] == name and 0 <= float(r["x"]) <= 0.5]
        rmse = float(np.sqrt(np.mean(fit)))
        check(rmse < 0.05, "%s: mean fits the data inside (RMSE %.4f on [0, 0.5])" % (name, rmse))
    if failures:
        raise SystemExit("%d check(s) failed" % len(failures))
    print("all toy checks passed")


if __name__ == "__main__":
    main()
