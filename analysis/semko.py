#!/usr/bin/env python3
"""semko.py - the figures of Semko 2023 and Li & Gal 2017 (METHODS.md s.12).

usage: semko.py fgsm CUBE [--out DIR] [--dpi N] [--transfer-from GROUP]

  fgsm   reads a cube of sweeps/semko-fgsm.yaml and writes into DIR (default:
         CUBE's directory/analysis):
           semko_fgsm.png   accuracy against FGSM eps ([0, 1] pixel scale), one
                            line per model; left: white-box (the sets made on
                            the model itself, the K-sample expectation for a
                            stochastic one), right: the sets made on the
                            transfer source (default group mlp)
           semko_fgsm.csv   model, eps, white_box, transfer (accuracy in [0, 1])
         A stochastic model's accuracy is that of its largest ensemble in the
         cube (sweeps/semko-fgsm.yaml: 10 samples), else the mean over its
         single-sample runs; a deterministic model's is its one run.

Reads only the cube; missing cells are left out of the lines. Needs h5py,
numpy and matplotlib (Agg). Exit status: 0 done, 1 unreadable input or no
data for the figure, 2 usage.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bnscube  # noqa: E402

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# display names of the model groups of the sweeps (others show their label)
NAMES = {"mlp": "MLP", "dropnet": "MLP with dropout", "mcdrop": "MC dropout", "bnn": "BNN (BBB)"}


def write_csv(path, header, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in r])
    os.replace(tmp, path)


def save_fig(fig, path, dpi):
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    print("wrote %s" % path)


def model_accuracy(cube, mi, si):
    """The accuracy of model mi on set si: the largest ensemble for a stochastic model."""
    ens = cube.var("ensemble_accuracy")
    if ens is not None and cube.is_bayesian(mi):
        row = ens[mi, si]
        ok = np.flatnonzero(np.isfinite(row))
        if ok.size:
            return float(row[ok[-1]])
    acc = cube.var("accuracy")
    return float(acc[mi, si]) if acc is not None else math.nan


def cmd_fgsm(args):
    cube = bnscube.Cube(args.cube)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    order = list(NAMES)
    models = sorted((i for i in range(len(cube.models)) if cube.model_evaluated(i)),
                    key=lambda i: (order.index(g) if (g := bnscube.parse_model_label(cube.models[i])[0]) in order
                                   else len(order), i))
    # sets "fgsm,eps=E/SOURCE": eps and source model of each; the clean test set is eps 0 of nothing
    sets = {}
    for si, label in enumerate(cube.sets):
        name, params, source = bnscube.parse_set_label(label)
        if source and "eps" in params:
            sets[(source, bnscube.to_float(params["eps"]))] = si
    if not sets:
        print("semko.py: %s has no FGSM sets (set labels NAME,eps=E/SOURCE)" % args.cube, file=sys.stderr)
        return 1
    eps = sorted({e for _, e in sets})
    n_ens = int(np.nanmax(cube.n_ensemble)) if cube.n_ensemble.size else 0
    rows = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for mi in models:
        label = cube.models[mi]
        group = bnscube.parse_model_label(label)[0]
        white = [model_accuracy(cube, mi, sets[(label, e)]) if (label, e) in sets else math.nan for e in eps]
        tsrc = [s for s in {s for s, _ in sets} if bnscube.parse_model_label(s)[0] == args.transfer_from]
        trans = [model_accuracy(cube, mi, sets[(tsrc[0], e)]) if tsrc and (tsrc[0], e) in sets else math.nan
                 for e in eps]
        for e, w, t in zip(eps, white, trans):
            rows.append([label, e, w, t])
        name = NAMES.get(group, label)
        for ax, ys in ((axes[0], white), (axes[1], trans)):
            ys = np.asarray(ys)
            if np.isfinite(ys).any():
                ax.plot(np.asarray(eps)[np.isfinite(ys)], 100 * ys[np.isfinite(ys)], "o-", label=name)
    write_csv(os.path.join(out, "semko_fgsm.csv"), ["model", "eps", "white_box", "transfer"], rows)
    axes[0].set_title("white-box (stochastic models: K-sample expectation)", fontsize=10)
    axes[1].set_title("transferred from the %s" % NAMES.get(args.transfer_from, args.transfer_from), fontsize=10)
    for ax in axes:
        ax.set_xlabel("FGSM eps ([0, 1] pixel scale)")
        ax.set_xticks(eps)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].set_ylim(0, 100)
    axes[0].legend(loc="lower left")
    fig.suptitle("FGSM (Semko 2023): accuracy against eps (stochastic models: %d-sample ensemble)" % n_ens, y=1.02)
    save_fig(fig, os.path.join(out, "semko_fgsm.png"), args.dpi)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fgsm", help="accuracy against FGSM eps from a semko-fgsm cube")
    f.add_argument("cube")
    f.add_argument("--transfer-from", default="mlp", help="group whose sets are the transfer sets (mlp)")
    for p in (f,):
        p.add_argument("--out", default=None)
        p.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args(argv)
    try:
        return {"fgsm": cmd_fgsm}[args.cmd](args)
    except (OSError, KeyError) as e:
        print("semko.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
