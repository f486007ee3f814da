#!/usr/bin/env python3
"""benchmark.py - the cross-method benchmark table and figure (METHODS.md s.13) from a bnnsweep cube.

usage: benchmark.py CUBE [--out DIR] [--dpi N]

Reads only CUBE (RUN_DIR/cube.h5 of sweeps/benchmark.yaml or
benchmark-quick.yaml). One row per evaluated model (method x architecture;
MC dropout and the plain net with dropout are two rows of one training), in
the order deterministic+L2, dropout, MC dropout, alpha, BBB, LRT, SGLD, RIS,
APD; columns:

  Acc, NLL, ECE     clean test: robustness on `test` (a BNN: mean over its
                    single-sample runs; a point estimate: its weights)
  Transfer          mean accuracy over the transfer sets: attack sets with a
                    robustness result (the 12 Zhang & Chen min-norm sets)
  Det. AUROC        mean over the adversarial-detection sets (detection
                    evaluations) of the AUROC, by BALD for a model whose
                    samples differ and predictive entropy for a point
                    estimate (analysis/adversarial.py's choice)
  OOD <set> VR/BALD AUROC of each OOD set by VR and by BALD ("-": BALD of a
                    point estimate, not defined)
  Pruned 75%        accuracy on test after SNR pruning at rate 0.75 ("-":
                    a method without a per-weight SNR)
  s/epoch           mean wall time of a training epoch's steps (validation
                    apart), from the model file (cube: train_seconds_per_epoch)
  Params            parameters the model file stores (cube: parameters)

Writes benchmark.md, benchmark.tex (booktabs), benchmark.csv and
benchmark.png (four panels: clean and transfer accuracy, ECE, detection
AUROC, mean OOD AUROC by VR and BALD, one bar per model) into DIR (default:
CUBE's directory/analysis) and prints the Markdown. Percentages in %; "–" a
result missing from the cube. Needs h5py, numpy and matplotlib (Agg).
Exit status: 0 written, 1 unreadable cube or no model with a result, 2 usage.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bnscube import open_cube, parse_model_label  # noqa: E402
from tables import DASH, TEX_DASH, tex_escape  # noqa: E402

UNDEFINED = "-"
ORDER = ["deterministic", "dropnet", "dropout", "alpha", "bbb", "lrt", "sgld", "ris", "apd", "mog"]
NAMES = {"deterministic": "SGD + L2", "dropnet": "dropout (plain)", "dropout": "MC dropout", "alpha": "alpha",
         "bbb": "BBB", "lrt": "LRT", "sgld": "SGLD", "ris": "RIS", "apd": "APD", "mog": "MoG"}
OOD_ORDER = [("notmnist", "notMNIST"), ("omniglot", "Omniglot"), ("cifar10", "CIFAR-10"), ("fashion", "Fashion"),
             ("gaussian", "Gaussian"), ("uniform", "Uniform")]
PRUNE_RATE = 0.75


def nan():
    return float("nan")


def kind_of(cube, i):
    m = cube.model_methods[i] if i < len(cube.model_methods) else parse_model_label(cube.models[i])[0]
    if m in ("dropout", "alpha") and not cube.is_bayesian(i):
        return "dropnet" if m == "dropout" else m
    return m


def finite_mean(xs):
    xs = [x for x in xs if math.isfinite(x)]
    return float(np.mean(xs)) if xs else nan()


def models_of(cube):
    acc, det = cube.var("accuracy"), cube.var("detection_auroc")
    idx = []
    for i in range(len(cube.models)):
        has = (acc is not None and np.isfinite(acc[i]).any()) or (det is not None and np.isfinite(det[i]).any())
        if has or (cube.var("auroc") is not None and np.isfinite(cube.var("auroc")[i]).any()):
            idx.append(i)

    def key(i):
        k = kind_of(cube, i)
        arch = parse_model_label(cube.models[i])[1].get("arch", "")
        return (ORDER.index(k) if k in ORDER else len(ORDER), k, arch, i)
    return sorted(idx, key=key)


def label_of(cube, i):
    k = kind_of(cube, i)
    arch = parse_model_label(cube.models[i])[1].get("arch")
    return "%s, %s" % (NAMES.get(k, k), arch) if arch else "%s (%s)" % (NAMES.get(k, k), cube.models[i])


def columns(cube):
    """(header, csv header, kind) per column; kind: pct, nll, sec, int."""
    cols = [("Acc", "accuracy", "pct"), ("NLL", "nll", "nll"), ("ECE", "ece", "pct"),
            ("Transfer", "transfer_accuracy", "pct"), ("Det. AUROC", "detection_auroc", "pct")]
    for key, name in OOD_ORDER:
        if key in cube.oods:
            cols += [("%s VR" % name, "ood_%s_vr" % key, "pct"), ("%s BALD" % name, "ood_%s_bald" % key, "pct")]
    cols += [("Pruned 75%", "pruned_accuracy_0.75", "pct"), ("s/epoch", "train_seconds_per_epoch", "sec"),
             ("Params", "parameters", "int")]
    return cols


def set_groups(cube):
    """(transfer sets, detection sets): attack sets with a robustness / detection result."""
    acc, det = cube.var("accuracy"), cube.var("detection_auroc")
    transfer = [j for j in cube.attack_sets() if acc is not None and np.isfinite(acc[:, j]).any()]
    detect = [j for j in cube.attack_sets() if det is not None and np.isfinite(det[:, j]).any()]
    return transfer, detect


def values(cube, i, cols, transfer, detect):
    """The row of model i: a number (NaN = missing) or UNDEFINED per column."""
    bayes = cube.is_bayesian(i)
    test = cube.sets.index("test") if "test" in cube.sets else None

    def at(name, *idx):
        v = cube.var(name)
        try:
            return float(v[idx]) if v is not None and None not in idx else nan()
        except IndexError:
            return nan()
    out = {"accuracy": at("accuracy", i, test), "nll": at("nll", i, test), "ece": at("ece", i, test),
           "transfer_accuracy": finite_mean([at("accuracy", i, j) for j in transfer]) if transfer else nan(),
           "train_seconds_per_epoch": at("train_seconds_per_epoch", i), "parameters": at("parameters", i)}
    if detect:
        s = cube.scores.index("bald" if bayes else "entropy")
        out["detection_auroc"] = finite_mean([at("detection_auroc", i, j, s) for j in detect])
    else:
        out["detection_auroc"] = nan()
    for key, _ in OOD_ORDER:
        if key not in cube.oods:
            continue
        o = cube.oods.index(key)
        for sc in ("vr", "bald"):
            name = "ood_%s_%s" % (key, sc)
            if sc == "bald" and not bayes:
                out[name] = UNDEFINED
            else:
                out[name] = at("auroc", i, o, cube.scores.index(sc)) if sc in cube.scores else nan()
    snr = cube.has_capability(i, "snr")
    rates = list(cube.rates)
    if snr is False:
        out["pruned_accuracy_0.75"] = UNDEFINED
    else:
        r = rates.index(PRUNE_RATE) if PRUNE_RATE in rates else None
        out["pruned_accuracy_0.75"] = at("pruned_accuracy", i, test, r) if r is not None else nan()
    return [out[c[1]] for c in cols]


def fmt(v, kind, tex=False):
    if v == UNDEFINED:
        return UNDEFINED
    if not math.isfinite(v):
        return TEX_DASH if tex else DASH
    if kind == "pct":
        return "%.2f" % (100 * v)
    if kind == "nll":
        return "%.3f" % v
    if kind == "sec":
        return "%.3g" % v
    return "{:,}".format(int(round(v))).replace(",", "{,}" if tex else ",")


NOTES = ["Acc, NLL (nats), ECE (15 bins): clean test; a BNN's are the means over its single-sample runs. "
         "Transfer: mean accuracy over the transfer sets (%d). Det. AUROC: mean over the adversarial-detection "
         "sets (%d) by BALD (entropy for a point estimate). OOD: AUROC, MNIST test vs the set. Pruned 75%%: test "
         "accuracy after 75%% SNR pruning. s/epoch: training steps only. Params: stored by the model file. "
         "'-': not defined for the model; '–': no result in the cube. Percentages in %%."]


def main(argv=None):
    ap = argparse.ArgumentParser(description="The cross-method benchmark table and figure (METHODS.md s.13).")
    ap.add_argument("cube", help="RUN_DIR/cube.h5")
    ap.add_argument("--out", help="output directory (default: the cube's directory/analysis)")
    ap.add_argument("--dpi", type=int, default=120)
    args = ap.parse_args(argv)
    cube = open_cube(args.cube, "benchmark.py")
    if cube is None:
        return 1
    models = models_of(cube)
    if not models:
        print("benchmark.py: %s: no model has a result" % args.cube, file=sys.stderr)
        return 1
    cols = columns(cube)
    transfer, detect = set_groups(cube)
    rows = [(label_of(cube, i), cube.models[i], values(cube, i, cols, transfer, detect)) for i in models]
    note = NOTES[0] % (len(transfer), len(detect))
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    n_done = sum(1 for s in cube.task_status if s == "done")
    wall = cube.attrs.get("wall_seconds")
    ranks = cube.attrs.get("mpi_size")
    md = ["# %s" % (cube.sweep_name or os.path.basename(args.cube)), "",
          "Cube `%s`: %d of %d tasks done%s." % (args.cube, n_done, len(cube.task_status),
                                                  ", run wall time %.0f s on %s ranks" % (float(wall), ranks)
                                                  if wall is not None and ranks is not None else ""), "",
          "## The cross-method benchmark (METHODS.md s.13)", "",
          "| Model | " + " | ".join(c[0] for c in cols) + " |",
          "| --- | " + " | ".join("---:" for _ in cols) + " |"]
    for label, _, vals in rows:
        md.append("| %s | %s |" % (label, " | ".join(fmt(v, c[2]) for v, c in zip(vals, cols))))
    md += ["", note, ""]
    md = "\n".join(md)
    tex = [r"% bnnsweep: the cross-method benchmark from sweep " + cube.sweep_name + r" (needs \usepackage{booktabs})",
           r"\begin{table*}[t]", r"\centering", r"\scriptsize", r"\caption{The cross-method benchmark (METHODS.md s.13)}",
           r"\begin{tabular}{l%s}" % ("r" * len(cols)), r"\toprule",
           "Model & " + " & ".join(tex_escape(c[0]) for c in cols) + r" \\", r"\midrule"]
    for label, _, vals in rows:
        tex.append("%s & %s \\\\" % (tex_escape(label), " & ".join(fmt(v, c[2], tex=True) for v, c in zip(vals, cols))))
    tex += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip{\footnotesize " + tex_escape(note) + "}",
            r"\end{table*}", ""]
    with open(os.path.join(out, "benchmark.md"), "w", encoding="utf-8") as f:
        f.write(md)
    with open(os.path.join(out, "benchmark.tex"), "w", encoding="utf-8") as f:
        f.write("\n".join(tex))
    with open(os.path.join(out, "benchmark.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["model", "label"] + [c[1] for c in cols])
        for label, model, vals in rows:
            w.writerow([model, label] + [v if v == UNDEFINED else "" if not math.isfinite(v) else
                                         "%.6g" % (100 * v if c[2] == "pct" else v) for v, c in zip(vals, cols)])
    figure(rows, cols, os.path.join(out, "benchmark.png"), args.dpi, cube.sweep_name)
    sys.stdout.write(md)
    print("benchmark.py: wrote benchmark.md benchmark.tex benchmark.csv benchmark.png into %s" % out, file=sys.stderr)
    return 0


def figure(rows, cols, path, dpi, title):
    col = {c[1]: k for k, c in enumerate(cols)}

    def series(name):
        if name not in col:
            return np.full(len(rows), np.nan)
        return np.array([100 * v if v != UNDEFINED and math.isfinite(v) else np.nan
                         for v in (r[2][col[name]] for r in rows)])

    def undefined(name):
        return np.array([name in col and r[2][col[name]] == UNDEFINED for r in rows])

    def ood_mean(sc):
        names = [c[1] for c in cols if c[1].startswith("ood_") and c[1].endswith("_" + sc)]
        if not names:
            return np.full(len(rows), np.nan)
        if sc == "bald":
            nd[0] = undefined(names[0])
        with np.errstate(all="ignore"):
            arr = np.array([series(n) for n in names])
            return np.array([np.nanmean(a) if np.isfinite(a).any() else np.nan for a in arr.T])

    nd = [np.zeros(len(rows), bool)]   # BALD not defined (a point estimate), set by ood_mean
    labels = [r[0] for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 4, figsize=(15, 0.38 * len(rows) + 1.8), sharey=True)
    h = 0.38
    panels = [("accuracy (%)", [("clean test", series("accuracy")), ("transfer sets", series("transfer_accuracy"))]),
              ("ECE (%)", [("clean test", series("ece"))]),
              ("adversarial detection AUROC (%)", [("BALD / entropy", series("detection_auroc"))]),
              ("OOD AUROC, mean over sets (%)", [("VR", ood_mean("vr")), ("BALD", ood_mean("bald"))])]
    for ax, (xlabel, bars) in zip(axes, panels):
        for k, (name, v) in enumerate(bars):
            off = (k - (len(bars) - 1) / 2) * h
            ax.barh(y + off, np.nan_to_num(v, nan=0.0), height=h if len(bars) > 1 else 0.6, label=name)
            for r, (yy, vv) in enumerate(zip(y + off, v)):
                if not np.isfinite(vv):
                    text = " not defined" if name == "BALD" and nd[0][r] else " –"
                    ax.text(0, yy, text, va="center", fontsize=6, color="gray")
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        if "AUROC" in xlabel:
            ax.axvline(50, color="gray", lw=0.8, ls=":")
        if len(bars) > 1:
            ax.legend(fontsize=7, loc="lower right")
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle("Cross-method benchmark (%s)" % title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
