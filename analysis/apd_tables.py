#!/usr/bin/env python3
"""apd_tables.py - the tables and the GAN figure of sweeps/apd.yaml (METHODS.md s.10; issue 11).

usage: apd_tables.py RUN_DIR [--out DIR]

Reads RUN_DIR/cube.h5 and the model files RUN_DIR/tasks/train-KEY.h5 (for the
parameter counts and the training curves). Prints two tables as Markdown
(also written as apd_accuracy.{md,csv} and apd_storage.{md,csv} into DIR,
default RUN_DIR/analysis, with the formatting of tables.py):

  accuracy  one row per evaluated model (SGD, MC dropout, SGLD, APD by GAN
            formulation, online APD, MoG-K; the arch when the sweep has
            several): clean test accuracy of single samples (mean ± std over
            the robustness runs), of 100-sample ensembles (10 for a sweep
            without 100), and BALD OOD AUROC per OOD set (notMNIST, Omniglot,
            Gaussian, uniform), in %. BALD of a point estimate is "–" (not
            defined).
  storage   the posteriors that stand in for the SGLD samples: SGLD (its kept
            samples), MoG-K (weights, means, variances), APD (generator +
            standardisation): stored parameters against the same accuracy
            and AUROC columns.

and draws apd_gan.png: the validation accuracy of generated parameters (the
per-epoch /training/val_acc of each apd model file: a val_samples-ensemble of
generated weight vectors) against generator iterations, one line per GAN
formulation (vanilla GAN, WGAN, WGAN-GP; online APD from its first GAN
iteration on), one panel per arch, the SGLD teacher's last val_acc dashed.
Needs h5py, numpy, matplotlib.
"""
import argparse
import csv
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apd import stored_parameters  # noqa: E402
from bnscube import Cube, parse_model_label  # noqa: E402
from tables import Table, cell, fmt_cell, to_markdown, write_csv  # noqa: E402

OOD_ORDER = [("notmnist", "notMNIST"), ("omniglot", "Omniglot"), ("gaussian", "Gaussian"),
             ("uniform", "Uniform"), ("fashion", "Fashion-MNIST")]
GAN_NAMES = {"gan": "vanilla GAN", "wgan": "WGAN", "wgan_gp": "WGAN-GP"}
METHOD_NAMES = {"deterministic": "SGD", "dropout": "MC dropout", "sgld": "SGLD", "mog": "MoG", "apd": "APD"}
MNIST_TRAIN_ROWS = 50000


def text(v):
    if isinstance(v, np.ndarray):
        v = v.flat[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def attr(cfg, key, default=None):
    return text(cfg[key]) if key in cfg else default


class Model:
    """One evaluated model: its cube index, file, and what the tables show."""

    def __init__(self, index, label, path):
        self.index, self.label, self.path = index, label, path
        with h5py.File(path, "r") as f:
            cfg = f["config"].attrs
            self.method = attr(cfg, "method")
            self.arch = attr(cfg, "arch")
            self.gan = attr(cfg, "apd_gan", "wgan_gp")
            self.online = attr(cfg, "apd_mode", "offline") == "online"
            self.k = int(attr(cfg, "mog_components", "0"))
            self.stored = stored_parameters(f, self.method)
            self.generator = sum(int(np.prod(f["apd/generator"][n].shape)) for n in self._datasets(f, "apd/generator"))
            self.val_acc = np.asarray(f["training/val_acc"][()], dtype=float) if "training/val_acc" in f else None
            rows = int(attr(cfg, "train_limit", "0")) or MNIST_TRAIN_ROWS
            self.steps_per_epoch = math.ceil(min(rows, MNIST_TRAIN_ROWS) / int(attr(cfg, "batch_size", "100")))
            self.gan_start = 0
            if self.online:
                self.gan_start = (int(attr(cfg, "apd_sgld_burn_in", "500")) +
                                  int(attr(cfg, "apd_sgld_thin", "20")) * int(attr(cfg, "teacher_samples", "100")))

    @staticmethod
    def _datasets(f, group):
        if group not in f:
            return []
        out = []
        f[group].visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
        return out

    def name(self, with_arch):
        if self.method == "apd":
            base = "APD online (%s)" % GAN_NAMES.get(self.gan, self.gan) if self.online else \
                "APD %s" % GAN_NAMES.get(self.gan, self.gan)
        elif self.method == "mog":
            base = "MoG-%d" % self.k
        else:
            base = METHOD_NAMES.get(self.method, self.method)
        return "%s, %s" % (base, self.arch) if with_arch else base

    def curve(self):
        """(generator iterations, val_acc) at each epoch's end; online: from its first GAN step on"""
        if self.val_acc is None:
            return None
        steps = self.steps_per_epoch * np.arange(1, len(self.val_acc) + 1)
        its = steps - (self.gan_start - 1 if self.online else 0)
        keep = its > 0
        return its[keep], 100 * self.val_acc[keep]


def load_models(run_dir, cube):
    with h5py.File(os.path.join(run_dir, "cube.h5"), "r") as f:
        names = [text(s) for s in f["task_name"][()]]
        keys = [text(s) for s in f["task_key"][()]]
    by_name = dict(zip(names, keys))
    models = []
    for i, label in enumerate(cube.models):
        key = by_name.get("train/" + label)
        path = os.path.join(run_dir, "tasks", "train-%s.h5" % key) if key else None
        if not path or not os.path.exists(path) or not cube.model_evaluated(i):
            continue
        models.append(Model(i, label, path))
    order = ["deterministic", "dropout", "sgld", "apd", "mog"]
    gan_order = ["gan", "wgan", "wgan_gp"]
    models.sort(key=lambda m: (len(m.arch.split("-")), m.arch,
                               order.index(m.method) if m.method in order else len(order), m.online,
                               gan_order.index(m.gan) if m.gan in gan_order else 0, m.k, m.index))
    return models


def ensemble_size(cube):
    n = list(cube.n_ensemble)
    return 100 if 100 in n else (10 if 10 in n else (int(max(n)) if n else None))


def columns_and_cells(cube, models, n_ens):
    test = cube.set_index("test")
    acc, acc_std = cube.var("accuracy"), cube.var("accuracy_std")
    ens, ens_std = cube.var("ensemble_accuracy"), cube.var("ensemble_accuracy_std")
    auroc = cube.var("auroc")
    bald = cube.scores.index("bald") if "bald" in cube.scores else None
    oods = [(k, name) for k, name in OOD_ORDER if k in cube.oods]
    cols = [("single sample", "single sample", "single_sample_acc", True)]
    if n_ens:
        cols.append(("%d-ensemble" % n_ens, "%d-ensemble" % n_ens, "ensemble%d_acc" % n_ens, False))
    cols += [("BALD AUROC %s" % name, "BALD AUROC %s" % name, "bald_auroc_%s" % k, False) for k, name in oods]
    rows = {}
    for m in models:
        i = m.index
        cells = [cell(acc[i, test], acc_std[i, test]) if acc is not None and test is not None else (None, None)]
        if n_ens:
            j = list(cube.n_ensemble).index(n_ens)
            cells.append(cell(ens[i, test, j], None) if ens is not None else (None, None))
        for k, _ in oods:
            o = cube.oods.index(k)
            deterministic = not cube.is_bayesian(i)
            v = auroc[i, o, bald] if auroc is not None and bald is not None and not deterministic else None
            cells.append(cell(v, None))
        rows[i] = cells
    return cols, rows


def main(argv=None):
    ap = argparse.ArgumentParser(description="sweeps/apd.yaml's accuracy and storage tables and GAN figure")
    ap.add_argument("run_dir", help="the run directory (cube.h5, tasks/)")
    ap.add_argument("--out", help="output directory (default: RUN_DIR/analysis)")
    args = ap.parse_args(argv)
    cube_path = os.path.join(args.run_dir, "cube.h5")
    try:
        cube = Cube(cube_path)
    except (OSError, KeyError) as e:
        print("apd_tables.py: %s: cannot read the cube (%s)" % (cube_path, e), file=sys.stderr)
        return 1
    out = args.out or os.path.join(args.run_dir, "analysis")
    os.makedirs(out, exist_ok=True)
    models = load_models(args.run_dir, cube)
    if not models:
        print("apd_tables.py: %s: no evaluated model with a model file" % args.run_dir, file=sys.stderr)
        return 1
    with_arch = len({m.arch for m in models}) > 1
    n_ens = ensemble_size(cube)
    cols, cells = columns_and_cells(cube, models, n_ens)

    acc = Table(1, "apd_accuracy", "Clean test accuracy and BALD OOD AUROC (%)")
    acc.columns = cols
    for m in models:
        acc.add_row(m.name(with_arch), m.label, cells[m.index])
    acc.notes.append("SGD's BALD cells: BALD is not defined for a point estimate (one weight sample).")
    text_acc = to_markdown(acc)
    print(text_acc)
    with open(os.path.join(out, acc.slug + ".md"), "w", encoding="utf-8") as fh:
        fh.write(text_acc)
    write_csv(acc, os.path.join(out, acc.slug + ".csv"))
    # storage: the same accuracy / AUROC cells beside an integer count
    head = ["posterior", "stored parameters"] + [c[0] for c in cols[1:]]
    csv_head = ["row", "stored_parameters"] + [c[2] for c in cols[1:]]
    md = ["## Table 2: Storage: parameters kept by each stand-in for the SGLD samples", "",
          "| " + " | ".join(head) + " |", "| --- | " + " | ".join("---:" for _ in head[1:]) + " |"]
    csv_rows = []
    for m in models:
        if m.method not in ("sgld", "mog", "apd"):
            continue
        label = m.name(with_arch)
        if m.method == "apd":
            label += " (generator %s)" % format(m.generator, ",")
        rest = cells[m.index][1:]
        md.append("| %s | %s | %s |" % (label, format(m.stored, ","),
                                        " | ".join(fmt_cell(c, False) for c in rest)))
        csv_rows.append([m.label, m.stored] + ["" if c[0] is None else "%.4f" % (100 * c[0]) for c in rest])
    md += ["", "SGLD: its kept samples x weights; MoG-K: K (weight + mean + variance vector); APD: the generator's "
           "parameters + the shift and scale of the standardisation (2 x weights)."]
    text_sto = "\n".join(md) + "\n"
    print(text_sto)
    with open(os.path.join(out, "apd_storage.md"), "w", encoding="utf-8") as fh:
        fh.write(text_sto)
    with open(os.path.join(out, "apd_storage.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(csv_head)
        w.writerows(csv_rows)

    curves = [m for m in models if m.method == "apd" and m.curve() is not None and len(m.curve()[0])]
    if curves:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        archs = sorted({m.arch for m in curves}, key=lambda a: (len(a), a))
        fig, axes = plt.subplots(1, len(archs), figsize=(6.5 * len(archs), 4.5), squeeze=False)
        for ax, arch in zip(axes[0], archs):
            for m in [m for m in curves if m.arch == arch]:
                its, acc_curve = m.curve()
                ax.plot(its, acc_curve, marker="o", markersize=3, linestyle="--" if m.online else "-",
                        label=m.name(False))
            teachers = [m for m in models if m.method == "sgld" and m.arch == arch and m.val_acc is not None]
            for t in teachers:
                ax.axhline(100 * t.val_acc[-1], color="gray", linestyle=":", linewidth=1.2,
                           label="SGLD teacher (last val_acc)")
            ax.set_xlabel("generator iterations")
            ax.set_ylabel("val accuracy of generated weights (%)")
            ax.set_title("%s: accuracy of generated parameters" % arch)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        path = os.path.join(out, "apd_gan.png")
        fig.savefig(path, dpi=120)
        print("wrote %s" % path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
