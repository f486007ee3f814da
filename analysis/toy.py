#!/usr/bin/env python3
"""toy.py - the regression toy of Blundell et al. 2015 as in Semko 2023 (METHODS.md s.12).

usage: toy.py OUT_DIR [--bnnsweep BIN] [--models mlp,dropout,bbb,lrt] [--epochs 500]
                      [--samples 100] [--noise-std 0.02] [--train-limit 0] [--grid 281]
                      [--no-train] [--dpi N]

Trains each model with `bnnsweep train --dataset toy1d --arch FC-100-100-1`
(the data: y = x + 0.3 sin(2 pi (x + e)) + 0.3 sin(4 pi (x + e)) + e,
e ~ N(0, 0.02^2), 1000 points with x ~ U[0, 0.5], drawn from the keyed
stream; a Gaussian likelihood with the fixed noise std --noise-std) and
writes its per-sample outputs on the grid x in [-0.2, 1.2]
(--sample-outputs OUT_DIR/toy_MODEL.h5; --no-train reuses existing ones).
The models: mlp (deterministic), dropout (MC dropout, hidden rate 0.1, no
input dropout: the one input would be zeroed), bbb (scale-mixture prior),
lrt (local reparameterisation, Gaussian prior). Writes into OUT_DIR:
  toy.png        one panel per model: training points, the noiseless curve,
                 the predictive mean, +-2 std bands: epistemic (std over the
                 weight samples, dark) and total (sqrt(epistemic^2 + s^2),
                 light); the data's x range shaded
  toy.csv        model, x, target, mean, epistemic_std, total_std
  toy_band.csv   model, x, band widths (4 std: epistemic, total) at x = 0.25
                 (inside the data) and x = 1.0 (outside), and their ratio
It prints the band table. numpy, h5py and matplotlib (Agg). Exit status: 0
done, 1 a failed training or unreadable output, 2 usage.
"""
import argparse
import csv
import os
import subprocess
import sys

import h5py
import numpy as np

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = ["--dataset", "toy1d", "--arch", "FC-100-100-1", "--optimizer", "adam", "--lr", "0.01",
          "--batch-size", "100", "--patience", "0", "--quiet"]
MODELS = {
    "mlp": ("MLP (deterministic)", ["--method", "deterministic"]),
    "dropout": ("MC dropout (p = 0.1)", ["--method", "dropout", "--set", "dropout_input_rate=0",
                                         "--set", "dropout_rate=0.1"]),
    "bbb": ("BBB (mixture prior)", ["--method", "bbb"]),
    "lrt": ("BBB-LRT (Gaussian prior)", ["--method", "lrt", "--prior", "gaussian"]),
}
PROBES = (0.25, 1.0)  # inside the data, outside it


def train(args, name, path):
    cmd = [args.bnnsweep, "train"] + COMMON + MODELS[name][1] + [
        "--epochs", str(args.epochs), "--train-limit", str(args.train_limit), "--test-limit", str(args.grid),
        "--out", os.path.join(args.out_dir, "toy_%s_model.h5" % name), "--sample-outputs", path,
        "--output-samples", str(args.samples)]
    if args.noise_std:
        cmd += ["--set", "noise_std=%g" % args.noise_std]
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(r.stdout)
    return r.returncode == 0


def load(path):
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") not in ("bnnsweep-sample-outputs", b"bnnsweep-sample-outputs"):
            raise ValueError("%s: not a bnnsweep-sample-outputs file" % path)
        out = f["outputs"][:, :, 0].astype(np.float64)
        d = {"x": f["x"][:, 0].astype(np.float64), "target": f["target"][:, 0].astype(np.float64),
             "train_x": f["train_x"][:, 0], "train_t": f["train_t"][:, 0],
             "noise_std": float(f.attrs["noise_std"])}
    d["mean"] = out.mean(0)
    d["epistemic"] = out.std(0)  # 0 for a point estimate (one row)
    d["total"] = np.sqrt(d["epistemic"] ** 2 + d["noise_std"] ** 2)
    return d


def band_at(d, x0, key):
    return 4.0 * float(np.interp(x0, d["x"], d[key]))  # the width of mean +- 2 std


def plot(results, path, dpi):
    n = len(results)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 3.9 * rows), sharey=True, squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (name, d) in zip(axes.flat, results):
        x, m = d["x"], d["mean"]
        lo, hi = float(np.min(d["train_x"])), float(np.max(d["train_x"]))
        ax.axvspan(lo, hi, color="0.92", zorder=0, label="training x range")
        ax.fill_between(x, m - 2 * d["total"], m + 2 * d["total"], color="tab:blue", alpha=0.18, lw=0,
                        label="+-2 std total (s = %g)" % d["noise_std"])
        ax.fill_between(x, m - 2 * d["epistemic"], m + 2 * d["epistemic"], color="tab:blue", alpha=0.45, lw=0,
                        label="+-2 std epistemic")
        ax.scatter(d["train_x"], d["train_t"], s=2, color="k", alpha=0.35, label="training data", zorder=3)
        ax.plot(x, d["target"], color="tab:green", lw=1, ls="--", label="noiseless curve")
        ax.plot(x, m, color="tab:red", lw=1.4, label="predictive mean")
        ax.set_title("%s\nband at x=1: %.2f, at x=0.25: %.3f" % (MODELS[name][0], band_at(d, 1.0, "total"),
                                                                  band_at(d, 0.25, "total")), fontsize=9)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(-1.2, 2.2)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Regression toy (Blundell et al. 2015), FC-100-100-1, Gaussian likelihood:\n"
                 "predictive mean +- 2 std; band width = 4 std (total) at x = 1 and x = 0.25", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--bnnsweep", default=os.path.join(HERE, "..", "build", "bnnsweep"))
    ap.add_argument("--models", default="mlp,dropout,bbb,lrt")
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--samples", type=int, default=100, help="weight samples per grid point (100)")
    ap.add_argument("--noise-std", type=float, default=0.0, help="Gaussian likelihood std (0: 0.02, the toy's)")
    ap.add_argument("--train-limit", type=int, default=0, help="training points (0: 1000)")
    ap.add_argument("--grid", type=int, default=281, help="grid points over [-0.2, 1.2] (281)")
    ap.add_argument("--no-train", action="store_true", help="reuse OUT_DIR/toy_MODEL.h5")
    ap.add_argument("--dpi", type=int, default=120)
    args = ap.parse_args(argv)
    names = [m for m in args.models.split(",") if m]
    bad = [m for m in names if m not in MODELS]
    if bad or not names:
        ap.error("--models: unknown %s (known: %s)" % (",".join(bad) or "(none)", ",".join(MODELS)))
    os.makedirs(args.out_dir, exist_ok=True)
    results = []
    for name in names:
        path = os.path.join(args.out_dir, "toy_%s.h5" % name)
        if not args.no_train and not train(args, name, path):
            print("toy.py: training %s failed" % name, file=sys.stderr)
            return 1
        try:
            results.append((name, load(path)))
        except (OSError, KeyError, ValueError) as e:
            print("toy.py: %s: %s" % (path, e), file=sys.stderr)
            return 1

    with open(os.path.join(args.out_dir, "toy.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "x", "target", "mean", "epistemic_std", "total_std"])
        for name, d in results:
            for i in range(len(d["x"])):
                w.writerow([name, "%.6g" % d["x"][i], "%.6g" % d["target"][i], "%.6g" % d["mean"][i],
                            "%.6g" % d["epistemic"][i], "%.6g" % d["total"][i]])
    rows = []
    for name, d in results:
        r = {"model": name}
        for key in ("epistemic", "total"):
            inside, outside = band_at(d, PROBES[0], key), band_at(d, PROBES[1], key)
            r["%s_band_x0.25" % key], r["%s_band_x1.0" % key] = inside, outside
            r["%s_ratio" % key] = outside / inside if inside > 0 else float("nan")
        rows.append(r)
    with open(os.path.join(args.out_dir, "toy_band.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (v if isinstance(v, str) else "%.6g" % v) for k, v in r.items()})
    print("band width (4 std)    epistemic x=0.25   x=1.0   ratio |  total x=0.25   x=1.0   ratio")
    for r in rows:
        print("%-20s %16.4f %7.4f %7.1f | %12.4f %7.4f %7.1f" % (
            r["model"], r["epistemic_band_x0.25"], r["epistemic_band_x1.0"], r["epistemic_ratio"],
            r["total_band_x0.25"], r["total_band_x1.0"], r["total_ratio"]))
    plot(results, os.path.join(args.out_dir, "toy.png"), args.dpi)
    print("wrote %s/toy.png, toy.csv, toy_band.csv" % args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
