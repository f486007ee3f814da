#!/usr/bin/env python3
"""figures.py - PNG figures of a bnnsweep results cube (Zhang & Chen 2020 experiment).

usage: figures.py CUBE [--out DIR] [--dpi N]

Reads only CUBE (RUN_DIR/cube.h5) and writes into DIR (default: CUBE's
directory/analysis):

  fig1_accuracy_vs_rho.png   BNN accuracy against rho_init: clean test (mean +- std
                             over single-sample runs) and the mean over the attack
                             sets (error bar: mean of the per-set stds; band: the
                             lowest to the highest set); L2 baselines as horizontal lines
  fig2_ensemble_vs_n.png     ensemble accuracy against ensemble size N, mean over the
                             attack sets, one line per BNN (band: lowest to highest set)
  fig3_pruning_vs_rate.png   accuracy after SNR pruning against the pruning rate:
                             clean test, clean validation and the attack-set mean, one
                             line per BNN
  fig4_distortion.png        mean distortion (1/n) sum sqrt(|r|^2/d) of each attack set,
                             with its success rate on the source model

A figure whose data the cube lacks (no attack sets, no ensembles, no pruning,
nothing finished yet) is skipped with a message. Missing cells (NaN) are left
out of means and lines. Needs h5py, numpy and matplotlib (Agg backend).
Exit status: 0 done (some figures may be skipped), 1 unreadable cube, 2 usage.
"""
import argparse
import math
import os
import sys

import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bnscube import open_cube, fmt_number  # noqa: E402


def nanstats(rows):
    """Per column of a 2-D array (sets x points): mean, min, max over finite values (NaN if none)."""
    rows = np.asarray(rows, dtype=float)
    out = []
    for col in rows.T:
        col = col[np.isfinite(col)]
        out.append((col.mean(), col.min(), col.max()) if col.size else (math.nan,) * 3)
    return np.array(out).reshape(-1, 3)


def bnn_positions(cube, bnns):
    """x positions and tick labels for BNNs: evenly spaced, in rho_init order."""
    return np.arange(len(bnns)), cube.model_headers(bnns)


def fig_accuracy_vs_rho(cube, out, dpi):
    acc, std = cube.var("accuracy"), cube.var("accuracy_std")
    bnns, bases = cube.model_columns()
    if acc is None or not bnns:
        return "no BNN has an accuracy in the cube"
    test = cube.set_index("test")
    attacks = cube.attack_sets()
    have_clean = test is not None and np.isfinite(acc[bnns, test]).any()
    have_adv = bool(attacks) and np.isfinite(acc[np.ix_(bnns, attacks)]).any()
    if not have_clean and not have_adv:
        return "no BNN accuracy on the test set or an attack set"
    panels = ([("clean test", "clean")] if have_clean else []) + \
        ([("adversarial: mean over %d attack sets" % len(attacks), "adv")] if have_adv else [])
    x, ticks = bnn_positions(cube, bnns)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    base_heads = cube.model_headers(bases) if bases else []
    for ax, (title, kind) in zip(axes[0], panels):
        if kind == "clean":
            y = 100 * acc[bnns, test]
            e = 100 * std[bnns, test] if std is not None else None
            ax.errorbar(x, y, yerr=e, fmt="o-", color="k", capsize=3, label="BNN (mean ± std over runs)")
            bvals = [100 * acc[i, test] for i in bases]
        else:
            st = nanstats(acc[np.ix_(bnns, attacks)].T)
            sd = nanstats(std[np.ix_(bnns, attacks)].T)[:, 0] if std is not None else None
            ax.fill_between(x, 100 * st[:, 1], 100 * st[:, 2], color="0.85", label="BNN: lowest to highest set")
            ax.errorbar(x, 100 * st[:, 0], yerr=None if sd is None else 100 * sd, fmt="o-", color="k",
                        capsize=3, label="BNN: mean over sets (± mean std)")
            bvals = [100 * np.nanmean(acc[i, attacks]) if np.isfinite(acc[i, attacks]).any() else math.nan
                     for i in bases]
        for k, (v, h) in enumerate(zip(bvals, base_heads)):
            if math.isfinite(v):
                ax.axhline(v, color=colors[k % len(colors)], ls="--", lw=1.2, label="L2 " + h)
        ax.set_xticks(x)
        ax.set_xticklabels(ticks, rotation=30 if len(x) > 5 else 0, ha="right" if len(x) > 5 else "center")
        ax.set_xlabel("BNN initial ρ (rho_init; evenly spaced)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("%s: accuracy against rho_init" % (cube.sweep_name or "cube"))
    fig.tight_layout()
    path = os.path.join(out, "fig1_accuracy_vs_rho.png")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def fig_ensemble_vs_n(cube, out, dpi):
    ens = cube.var("ensemble_accuracy")
    if ens is None or not cube.n_ensemble.size or not np.isfinite(ens).any():
        return "the cube has no ensemble results"
    attacks = cube.attack_sets()
    sets = attacks if attacks and np.isfinite(ens[:, attacks]).any() else \
        [j for j in range(len(cube.sets)) if np.isfinite(ens[:, j]).any()]
    what = "mean over %d attack sets" % len(sets) if sets == attacks else "mean over the sets with results"
    bnns, _ = cube.model_columns()
    bnns = [i for i in bnns if np.isfinite(ens[i][sets]).any()]
    if not bnns:
        return "no BNN has ensemble results"
    n = cube.n_ensemble
    fig, ax = plt.subplots(figsize=(6, 4.2))
    heads = cube.model_headers(bnns)
    for i, h in zip(bnns, heads):
        st = nanstats(ens[i][sets])
        ok = np.isfinite(st[:, 0])
        line, = ax.plot(n[ok], 100 * st[ok, 0], "o-", label="BNN " + h)
        if len(sets) > 1:
            ax.fill_between(n[ok], 100 * st[ok, 1], 100 * st[ok, 2], color=line.get_color(), alpha=0.12)
    if n.size > 1 and n.min() > 0:
        ax.set_xscale("log")
    ax.set_xticks(n)
    ax.set_xticklabels([fmt_number(v) for v in n])
    ax.minorticks_off()
    ax.set_xlabel("ensemble size N (weight samples)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("%s: ensemble accuracy, %s" % (cube.sweep_name or "cube", what), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(bnns) > 4 else 1)
    fig.tight_layout()
    path = os.path.join(out, "fig2_ensemble_vs_n.png")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def fig_pruning_vs_rate(cube, out, dpi):
    pr = cube.var("pruned_accuracy")
    if pr is None or not cube.rates.size or not np.isfinite(pr).any():
        return "the cube has no pruning results"
    bnns, _ = cube.model_columns()
    bnns = [i for i in bnns if np.isfinite(pr[i]).any()]
    if not bnns:
        return "no BNN has pruning results"
    attacks = cube.attack_sets()
    panels = []
    for name, title in (("test", "clean test"), ("val", "clean validation")):
        j = cube.set_index(name)
        if j is not None and np.isfinite(pr[bnns, j]).any():
            panels.append((title, [j]))
    if attacks and np.isfinite(pr[np.ix_(bnns, attacks)]).any():
        panels.append(("adversarial: mean over %d attack sets" % len(attacks), attacks))
    rates = 100 * cube.rates
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False, sharey=True)
    heads = cube.model_headers(bnns)
    for ax, (title, sets) in zip(axes[0], panels):
        for i, h in zip(bnns, heads):
            st = nanstats(pr[i][sets])
            ok = np.isfinite(st[:, 0])
            ax.plot(rates[ok], 100 * st[ok, 0], "o-", label="BNN " + h)
        ax.set_xlabel("weights pruned (%, lowest |μ|/σ first)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("%s: accuracy after SNR pruning" % (cube.sweep_name or "cube"))
    fig.tight_layout()
    path = os.path.join(out, "fig3_pruning_vs_rate.png")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def fig_distortion(cube, out, dpi):
    dist, succ = cube.var("attack_mean_distortion"), cube.var("attack_success_rate")
    attacks = cube.attack_sets()
    if dist is None or not attacks or not np.isfinite(dist[attacks]).any():
        return "the cube has no attack sets with a distortion"
    labels = cube.set_headers(attacks)
    d = dist[attacks]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(attacks) + 2), 4.4))
    x = np.arange(len(attacks))
    bars = ax.bar(x, np.where(np.isfinite(d), d, 0.0), color="tab:blue")
    for k, b in enumerate(bars):
        if not math.isfinite(d[k]):
            ax.text(b.get_x() + b.get_width() / 2, 0, "–", ha="center", va="bottom")
        elif succ is not None and math.isfinite(succ[attacks[k]]):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height(), "%.0f%%" % (100 * succ[attacks[k]]),
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45 if len(x) > 3 else 0, ha="right" if len(x) > 3 else "center",
                       fontsize=8)
    ax.set_ylabel("mean distortion (1/n) Σ sqrt(|r|² / d)")
    ax.set_title("%s: attack sets (above the bars: success rate on the source)" % (cube.sweep_name or "cube"),
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out, "fig4_distortion.png")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


FIGURES = [("fig1_accuracy_vs_rho", fig_accuracy_vs_rho), ("fig2_ensemble_vs_n", fig_ensemble_vs_n),
           ("fig3_pruning_vs_rate", fig_pruning_vs_rate), ("fig4_distortion", fig_distortion)]


def main(argv=None):
    ap = argparse.ArgumentParser(description="PNG figures from a bnnsweep results cube.")
    ap.add_argument("cube", help="RUN_DIR/cube.h5")
    ap.add_argument("--out", help="output directory (default: the cube's directory/analysis)")
    ap.add_argument("--dpi", type=int, default=120)
    args = ap.parse_args(argv)
    cube = open_cube(args.cube, "figures.py")
    if cube is None:
        return 1
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    for name, fn in FIGURES:
        with np.errstate(all="ignore"):
            result = fn(cube, out, args.dpi)
        if result.endswith(".png"):
            print("wrote %s" % result)
        else:
            stale = os.path.join(out, name + ".png")
            if os.path.exists(stale):   # from an earlier, fuller cube: would mislead
                os.remove(stale)
            print("skipped %s: %s" % (name, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
