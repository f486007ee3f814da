#!/usr/bin/env python3
"""apd.py - APD's training curves and the storage table (METHODS.md s.10).

    analysis/apd.py MODEL.h5[=EVAL.json] ... [--out DIR]

Reads bnnsweep model files (apd, mog, sgld, or any method) and, for each
given with `=EVAL.json` (from `bnnsweep eval --json`), its evaluation. Draws
apd_curves.png: the validation accuracy of generated parameters (an
ensemble of val_samples generated weight vectors) against generator
iterations, one line per apd model (the GAN formulation in the legend), with
each evaluated sgld teacher's 10-sample-ensemble test accuracy as a
reference line when given. Prints the storage table (Markdown; also
storage.csv): the parameters each posterior stores (sgld: its samples; mog:
weights, means, variances; apd: the generator and its standardisation;
others: every parameter block) against its accuracy (single sample, 10- and
100-sample ensembles) and BALD OOD AUROCs from the evaluation.
Needs only h5py, numpy and matplotlib.
"""
import argparse
import csv
import json
import math
import os
import sys

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def stored_parameters(f, method):
    """Floats the posterior keeps, by its method's own blocks."""
    def size(path):
        return int(np.prod(f[path].shape)) if path in f else 0

    def group_size(group):
        total = 0
        if group not in f:
            return 0
        def visit(_, obj):
            nonlocal total
            if isinstance(obj, h5py.Dataset):
                total += int(np.prod(obj.shape))
        f[group].visititems(visit)
        return total

    if method == "sgld":
        kept = int(f["sgld/state"][0]) if "sgld/state" in f else 0
        return kept * int(f["samples/weights"].shape[1])
    if method == "apd":
        return group_size("apd")
    if method == "mog":
        return size("mog/weight") + size("mog/mean") + size("mog/var")
    return group_size("layers")


def label_of(path, f, method):
    cfg = f["config"].attrs
    if method == "apd":
        return "apd %s" % text(cfg.get("apd_gan", "?"))
    if method == "mog":
        return "mog K=%d" % int(cfg.get("mog_components", 0))
    return method


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="MODEL.h5 or MODEL.h5=EVAL.json")
    ap.add_argument("--out", default=".", help="directory for apd_curves.png and storage.csv")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rows, curves, references = [], [], []
    for item in args.models:
        path, _, eval_path = item.partition("=")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            sys.exit("apd.py: %s: cannot open (%s)" % (path, e))
        with f:
            if text(f.attrs.get("format", "")) != "bnnsweep-model":
                sys.exit("apd.py: %s: not a bnnsweep model file" % path)
            cfg = f["config"].attrs
            method = text(cfg["method"])
            label = label_of(path, f, method)
            ev = None
            if eval_path:
                try:
                    with open(eval_path) as fh:
                        ev = json.load(fh)
                except (OSError, ValueError) as e:
                    sys.exit("apd.py: %s: cannot read the evaluation (%s)" % (eval_path, e))
            if method == "apd" and "training/val_acc" in f:
                rows_per_epoch = int(cfg["train_limit"]) or 50000
                per_epoch = math.ceil(rows_per_epoch / int(cfg["batch_size"]))
                acc = f["training/val_acc"][:]
                curves.append((label, per_epoch * np.arange(1, len(acc) + 1), 100 * acc))
            row = {"posterior": label, "file": os.path.basename(path),
                   "stored parameters": stored_parameters(f, method)}
            if ev:
                ens = {e["n"]: e["acc_mean"] for e in ev.get("ensembles", [])}
                row["single-sample acc %"] = 100 * ev["single_sample"]["acc_mean"]
                row["single-sample std"] = 100 * ev["single_sample"]["acc_std"]
                for n in (10, 100):
                    if n in ens:
                        row["%d-ensemble acc %%" % n] = 100 * ens[n]
                for s in ev.get("ood", {}).get("sets", []):
                    if s["score"] == "bald":
                        row["BALD AUROC %s" % s["set"]] = s["auroc"]
                if method == "sgld" and 10 in ens:
                    references.append(("%s 10-ensemble (test)" % label, 100 * ens[10]))
            rows.append(row)

    columns = []
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(k)
    def fmt(v):
        if isinstance(v, float):
            return "%.2f" % v if v > 1.5 else "%.4f" % v
        return str(v)
    print("| " + " | ".join(columns) + " |")
    print("| " + " | ".join("---" for _ in columns) + " |")
    for r in rows:
        print("| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |")
    with open(os.path.join(args.out, "storage.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow(r)

    if curves:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, it, acc in curves:
            ax.plot(it, acc, marker="o", markersize=3, label=label)
        for label, acc in references:
            ax.axhline(acc, color="gray", linestyle="--", linewidth=1, label=label)
        ax.set_xlabel("generator iterations")
        ax.set_ylabel("validation accuracy of generated weights (%)")
        ax.set_title("APD: accuracy of generated parameters over GAN training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
        fig.tight_layout()
        out = os.path.join(args.out, "apd_curves.png")
        fig.savefig(out, dpi=120)
        print("wrote %s" % out, file=sys.stderr)


if __name__ == "__main__":
    main()
