#!/usr/bin/env python3
"""ris.py RUN_DIR [--out DIR] - the figure and the table of the RIS measurement (issue 14,
docs/ris.md) from the HDF5 files sweeps/ris.sh writes, and nothing else:

  ARCH-EST.h5               model files (EST = mc: trained with plain MC, ris: with RIS, ris-s0.001:
                            with RIS bounded by ris_max_shift 0.001), whose
                            /training curves are the optimisation traces
  ARCH-EST.gradvar-PROBE.h5 `bnnsweep gradvar` at that model's parameters under estimator PROBE
                            (mc, ris, ris-s0.01, ris-s0.001); the mc probe also holds the test
                            accuracies of 1000 sampled models

Writes ris_traces.png (per architecture and epoch: -ELBO and train NLL per example as each run's own
estimator saw them, and validation accuracy; the plain-MC -ELBO at the saved parameters as a marker) and
ris_table.md / ris_table.csv (per architecture, trained-with and dense layer: the plain-MC
gradient variance, the variance ratios of the RIS probes (mu and rho blocks) and the error of their
mean estimates, with the model's accuracies). Needs h5py, numpy, matplotlib (/usr/bin/python3 on Debian).
"""
import argparse
import csv
import glob
import os
import re

import h5py
import numpy as np

PROBES = ["mc", "ris", "ris-s0.01", "ris-s0.001"]
ESTIMATORS = ["mc", "ris", "ris-s0.001"]
LABEL = {"mc": "plain MC", "ris": "RIS", "ris-s0.001": "RIS, shift <= 0.001"}


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load_model(path):
    with h5py.File(path, "r") as f:
        t = f["training"]
        return {k: t[k][()] for k in ("train_loss", "train_nll", "train_kl", "val_acc")} | {
            "best_epoch": int(t.attrs["best_epoch"][0]), "best_val_acc": float(t.attrs["best_val_acc"][0]),
            "status": text(t.attrs["status"])}


def load_gradvar(path):
    """per dense layer and kind (mu, rho: weights and biases together): the mean per-coordinate
    variance of the estimate and the mean estimate itself"""
    out = {"layers": {}}
    with h5py.File(path, "r") as f:
        out["loss"] = f["loss"][()]
        if "sampled_accuracy" in f:
            out["sampled"] = f["sampled_accuracy"][()]
        mean = f["mean_grad"][()]
        for layer in f["blocks/layers"]:
            g = f["blocks/layers"][layer]
            row = {}
            for kind in ("mu", "rho"):
                n, var, parts = 0.0, 0.0, []
                for part in ("weight", "bias"):
                    a = g[f"{part}_{kind}"].attrs
                    off, cnt = int(a["offset"][0]), int(a["count"][0])
                    n += cnt
                    var += a["total_variance"][0]
                    parts.append(mean[off:off + cnt])
                row[kind] = var / n
                row[kind + "_mean"] = np.concatenate(parts)
            out["layers"][int(layer)] = row
    return out


def collect(run_dir):
    runs = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "*.h5"))):
        m = re.match(r"(FC-[0-9-]+?)-(mc|ris|ris-s0\.001)(?:\.gradvar-(.+))?\.h5$", os.path.basename(path))
        if not m:
            continue
        arch, est, probe = m.groups()
        r = runs.setdefault((arch, est), {"gradvar": {}})
        if probe:
            r["gradvar"][probe] = load_gradvar(path)
        else:
            r["model"] = load_model(path)
    return runs


def depth(arch):
    return len(arch.split("-")) - 2


def short(arch):
    """FC-100-100-100-100-100-10 -> FC-100x5-10"""
    parts = arch.split("-")
    hidden = parts[1:-1]
    if len(hidden) > 2 and len(set(hidden)) == 1:
        return f"FC-{hidden[0]}x{len(hidden)}-{parts[-1]}"
    return arch


def figure(runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    archs = sorted({a for a, _ in runs}, key=depth)
    fig, axes = plt.subplots(3, len(archs), figsize=(5.6 * len(archs), 10), squeeze=False, sharex=True)
    colors = {"mc": "tab:blue", "ris": "tab:red", "ris-s0.001": "tab:green"}
    # plain MC wide and pale beneath, the bounded RIS dashed on top: the two nearly coincide
    style = {"mc": dict(lw=4, alpha=0.5), "ris": dict(lw=1.5), "ris-s0.001": dict(lw=1.5, ls="--")}
    for c, arch in enumerate(archs):
        ax_l, ax_n, ax_a = axes[0][c], axes[1][c], axes[2][c]
        for est in ESTIMATORS:
            r = runs.get((arch, est))
            if not r or "model" not in r:
                continue
            m = r["model"]
            ep = np.arange(1, len(m["train_loss"]) + 1)
            kw = dict(color=colors[est], label=f"trained with {LABEL[est]}", **style[est])
            ax_l.plot(ep, m["train_loss"], **kw)
            ax_n.plot(ep, m["train_nll"], **kw)
            ax_a.plot(ep, 100 * m["val_acc"], **kw)
            mc = r["gradvar"].get("mc")
            if mc is not None:
                ax_l.plot([m["best_epoch"]], [mc["loss"].mean()], marker="*", ms=14, ls="none", color=colors[est],
                          markeredgecolor="k", label="plain-MC -ELBO at the saved parameters" if est == "mc" else None)
        ax_l.set_title(f"{short(arch)} ({depth(arch)} hidden layers), M = 10 samples")
        ax_l.set_ylabel("-ELBO per example\n(the run's own estimate)")
        ax_l.set_yscale("log")
        ax_n.set_ylabel("train NLL per example\n(the run's own estimate)")
        ax_a.set_ylabel("validation accuracy (%)")
        ax_a.set_xlabel("epoch")
        ax_a.set_ylim(0, 100)
        for ax in (ax_l, ax_n, ax_a):
            ax.grid(alpha=0.3)
        ax_l.legend(fontsize=7, loc="lower left", framealpha=0.85)
        ax_a.legend(fontsize=8, loc="center right")
    fig.suptitle("MNIST (10k training rows), mean-field VI with M = 10: plain MC, RIS (ris_max_shift 0.5), RIS bounded to 0.001; "
                 "stars: the run's colour", fontsize=11)
    fig.tight_layout()
    path = os.path.join(out, "ris_traces.png")
    fig.savefig(path, dpi=100)
    return path


def table(runs, out):
    """per layer: plain MC's variance; per RIS probe the variance ratio to plain MC and the relative
    error of its mean estimate against plain MC's mean (the reference: both are unbiased for the
    same gradient, so a large error means the probe's 200 estimates missed its rare large weights)"""
    cols = ["arch", "trained_with", "layer", "var_mu_mc"]
    for p in PROBES[1:]:
        cols += [f"ratio_mu_{p}", f"mean_err_mu_{p}"]
    cols += ["var_rho_mc"] + [f"ratio_rho_{p}" for p in PROBES[1:]]
    cols += ["neg_elbo_mc_at_params", "best_val_acc", "sampled_acc_mean", "sampled_acc_std", "sampled_acc_p5",
             "sampled_acc_p95"]
    rows = []
    for (arch, est), r in sorted(runs.items(), key=lambda kv: (depth(kv[0][0]), kv[0][1])):
        gv = r["gradvar"]
        if "mc" not in gv:
            continue
        base = gv["mc"]
        s = base.get("sampled", np.array([np.nan]))
        for layer in sorted(base["layers"]):
            row = {"arch": arch, "trained_with": est, "layer": layer}
            for kind in ("mu", "rho"):
                b = base["layers"][layer]
                row[f"var_{kind}_mc"] = b[kind]
                for p in PROBES[1:]:
                    q = gv[p]["layers"][layer] if p in gv else None
                    row[f"ratio_{kind}_{p}"] = q[kind] / b[kind] if q else np.nan
                    if kind == "mu":
                        ref = b["mu_mean"]
                        row[f"mean_err_mu_{p}"] = (np.linalg.norm(q["mu_mean"] - ref) / np.linalg.norm(ref)
                                                   if q else np.nan)
            row["neg_elbo_mc_at_params"] = base["loss"].mean()
            row["best_val_acc"] = r["model"]["best_val_acc"] if "model" in r else np.nan
            row["sampled_acc_mean"] = s.mean()
            row["sampled_acc_std"] = s.std(ddof=1) if len(s) > 1 else np.nan
            row["sampled_acc_p5"], row["sampled_acc_p95"] = np.percentile(s, [5, 95])
            rows.append(row)
    with open(os.path.join(out, "ris_table.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    head = ["arch", "trained with", "layer", "Var mu (MC)"]
    for p in PROBES[1:]:
        head += [f"{p}/MC", f"{p} mean err"]
    head += ["Var rho (MC)"] + [f"{p}/MC rho" for p in PROBES[1:]]
    head += ["-ELBO (MC)", "val acc", "1000 sampled: acc mean ± std [5%, 95%]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    last = None
    for row in rows:
        first = (row["arch"], row["trained_with"]) != last
        last = (row["arch"], row["trained_with"])
        cells = [row["arch"] if first else "", LABEL[row["trained_with"]] if first else "", str(row["layer"])]
        cells.append(f"{row['var_mu_mc']:.3g}")
        for p in PROBES[1:]:
            cells += [f"{row[f'ratio_mu_{p}']:.3g}", f"{row[f'mean_err_mu_{p}']:.2f}"]
        cells.append(f"{row['var_rho_mc']:.3g}")
        cells += [f"{row[f'ratio_rho_{p}']:.3g}" for p in PROBES[1:]]
        if first:
            cells += [f"{row['neg_elbo_mc_at_params']:.4g}", f"{100 * row['best_val_acc']:.2f}",
                      f"{100 * row['sampled_acc_mean']:.2f} ± {100 * row['sampled_acc_std']:.2f} "
                      f"[{100 * row['sampled_acc_p5']:.2f}, {100 * row['sampled_acc_p95']:.2f}]"]
        else:
            cells += ["", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    note = ("Var: mean over a dense layer's weights and biases of the per-coordinate variance of the minibatch "
            "gradient estimate (200 repeats on one 100-row minibatch, M = 10) at the model's saved parameters. "
            "PROBE/MC: that estimator's variance over plain MC's at the same parameters; ris = RIS with "
            "ris_max_shift 0.5 (the default), ris-s0.01 / ris-s0.001 = RIS with ris_max_shift 0.01 / 0.001. "
            "A ratio of 0: every one of the 200 estimates had all q/r underflow to 0 (the NLL gradient vanished). "
            "mean err: |mean_PROBE - mean_MC| / |mean_MC| over the layer's mu gradient (plain MC's own "
            "sampling error of the mean is about sqrt(Var/200) per coordinate). -ELBO: plain-MC estimate per "
            "example at the saved parameters. Accuracies in %, on the run's test rows.")
    md = "\n".join(lines) + "\n\n" + note + "\n"
    with open(os.path.join(out, "ris_table.md"), "w") as f:
        f.write(md)
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None, help="output directory (default RUN_DIR/analysis)")
    a = ap.parse_args()
    out = a.out or os.path.join(a.run_dir, "analysis")
    os.makedirs(out, exist_ok=True)
    runs = collect(a.run_dir)
    if not runs:
        raise SystemExit(f"ris.py: no ARCH-EST*.h5 files in {a.run_dir}")
    print(table(runs, out))
    print("wrote", figure(runs, out))


if __name__ == "__main__":
    main()
