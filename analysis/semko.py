#!/usr/bin/env python3
"""semko.py - the figures of Semko 2023 and Li & Gal 2017 (METHODS.md s.12).

usage: semko.py fgsm CUBE [--out DIR] [--dpi N] [--transfer-from GROUP]
       semko.py ood RUN_DIR [--bnnsweep BIN] [--index SET=I,...] [--samples 100]
                    [--test-limit 1000] [--notmnist PATH] [--omniglot ZIP] [--out DIR] [--dpi N]

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

  ood    for each model of RUN_DIR's cube (a finished sweep: sweeps/semko-fgsm.yaml
         has the MLP, MC dropout and BBB), runs `bnnsweep eval --sample-probs`
         on its model file (RUN_DIR/tasks/train-KEY.h5): the softmax of each of
         --samples weight samples for the first --test-limit images of MNIST
         test, Fashion-MNIST test, notMNIST and Omniglot (the last two only
         when their files exist: default ../shared/data beside the checkout;
         a missing one is skipped with a message). Writes:
           semko_ood_images_MODEL.png  per set, the image number --index SET=I
                            (default 0), the histogram of the class predicted
                            by each sample, and the histogram over samples of
                            the softmax score of the overall predicted class
                            (argmax of the mean over samples)
           semko_ood_sets.png  the same over whole sets: per image, the
                            fraction of samples that predict the overall class
                            (agreement) and the std over samples of its score
                            (spread); their distribution per set, one column
                            per stochastic model
           semko_ood.csv    model, set, rows, agreement and spread (mean,
                            median) and the chosen image's overall class,
                            votes for it and mean/std of its score
           sample_probs_MODEL.h5  what bnnsweep eval wrote (format: eval --help)

fgsm reads only the cube; missing cells are left out of the lines. Needs h5py,
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


SET_ORDER = ["in", "fashion", "notmnist", "omniglot"]
SET_NAMES = {"in": "MNIST", "fashion": "Fashion-MNIST", "notmnist": "notMNIST", "omniglot": "Omniglot"}


def model_file(cube_path, run_dir, label):
    """RUN_DIR/tasks/train-KEY.h5 of model `label` (the cube's task_name train/LABEL)."""
    import h5py
    with h5py.File(cube_path, "r") as f:
        names = [bnscube._text(x) for x in f["task_name"][()]]
        keys = [bnscube._text(x) for x in f["task_key"][()]]
    for n, k in zip(names, keys):
        if n == "train/" + label:
            return os.path.join(run_dir, "tasks", "train-%s.h5" % k)
    return None


def sample_stats(probs):
    """probs [S, rows, C] -> overall class [rows], votes for it [rows] (fraction of
    samples whose argmax it is), its score per sample [S, rows]."""
    overall = probs.mean(axis=0).argmax(axis=1)
    votes = (probs.argmax(axis=2) == overall[None, :]).mean(axis=0)
    score = np.take_along_axis(probs, overall[None, :, None], axis=2)[:, :, 0]
    return overall, votes, score


def cmd_ood(args):
    import subprocess
    import h5py
    cube_path = os.path.join(args.run_dir, "cube.h5")
    cube = bnscube.Cube(cube_path)
    out = args.out or os.path.join(args.run_dir, "analysis")
    os.makedirs(out, exist_ok=True)
    shared = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))
    paths = {"notmnist": args.notmnist or os.path.join(shared, "notmnist"),
             "omniglot": args.omniglot or os.path.join(shared, "omniglot", "images_background_small1.zip")}
    ood = ["fashion"]
    for kind in ("notmnist", "omniglot"):
        if os.path.exists(paths[kind]):
            ood.append("%s=%s" % (kind, paths[kind]))
        else:
            print("semko.py: %s not found at %s: skipped (--%s PATH)" % (kind, paths[kind], kind))
    index = {}
    for part in filter(None, args.index.split(",")):
        k, _, v = part.partition("=")
        k = "in" if k == "mnist" else k
        if k not in SET_ORDER or not v.isdigit():
            print("semko.py: --index %s: expected SET=I with SET one of mnist, fashion, notmnist, omniglot" % part,
                  file=sys.stderr)
            return 2
        index[k] = int(v)
    order = list(NAMES)
    models = sorted((i for i in range(len(cube.models)) if cube.model_evaluated(i)),
                    key=lambda i: (order.index(g) if (g := bnscube.parse_model_label(cube.models[i])[0]) in order
                                   else len(order), i))
    rows, summary = [], {}
    for mi in models:
        label = cube.models[mi]
        group = bnscube.parse_model_label(label)[0]
        if group == "dropnet":
            continue  # the MLP with dropout evaluated as a plain net: one sample, nothing to histogram
        path = model_file(cube_path, args.run_dir, label)
        if not path or not os.path.exists(path):
            print("semko.py: no model file for %s in %s: skipped" % (label, args.run_dir))
            continue
        safe = label.replace("/", "_").replace("=", "").replace(",", "_")
        probs_path = os.path.join(out, "sample_probs_%s.h5" % safe)
        cmd = [args.bnnsweep, "eval", "--model", path, "--test-limit", str(args.test_limit), "--runs", "1",
               "--ensemble", "1", "--ood", ",".join(ood), "--ood-samples", str(args.samples), "--quiet",
               "--sample-probs", probs_path]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
            print("semko.py: %s exited %d" % (" ".join(cmd), p.returncode), file=sys.stderr)
            return 1
        data = {}
        with h5py.File(probs_path, "r") as f:
            for g in SET_ORDER:
                if g in f:
                    data[g] = (f[g]["probs"][()], f[g]["images"][()])
        name = NAMES.get(group, label)
        sets = [g for g in SET_ORDER if g in data]
        fig, axes = plt.subplots(len(sets), 3, figsize=(11, 2.4 * len(sets)), squeeze=False,
                                 gridspec_kw={"width_ratios": [1, 2, 2]})
        for r, g in enumerate(sets):
            probs, images = data[g]
            i = min(index.get(g, 0), probs.shape[1] - 1)
            overall, votes, score = sample_stats(probs)
            counts = np.bincount(probs[:, i, :].argmax(axis=1), minlength=probs.shape[2])
            axes[r, 0].imshow(images[i].reshape(28, 28), cmap="gray", vmin=0, vmax=255)
            axes[r, 0].set_axis_off()
            axes[r, 0].set_title("%s #%d" % (SET_NAMES[g], i), fontsize=9)
            axes[r, 1].bar(np.arange(probs.shape[2]), counts, color="C0")
            axes[r, 1].set_xticks(np.arange(probs.shape[2]))
            axes[r, 1].set_ylim(0, probs.shape[0])
            axes[r, 1].set_ylabel("samples", fontsize=9)
            axes[r, 2].hist(score[:, i], bins=np.linspace(0, 1, 21), color="C1")
            axes[r, 2].set_xlim(0, 1)
            axes[r, 2].set_title("score of class %d: mean %.2f, std %.2f" %
                                 (overall[i], score[:, i].mean(), score[:, i].std()), fontsize=9)
            if r == 0:
                axes[r, 1].set_title("predicted class of each of %d samples" % probs.shape[0], fontsize=9)
            if r == len(sets) - 1:
                axes[r, 1].set_xlabel("class")
                axes[r, 2].set_xlabel("softmax score of the overall predicted class")
            rows.append([label, g, probs.shape[1], votes.mean(), np.median(votes), score.std(axis=0).mean(),
                         np.median(score.std(axis=0)), i, overall[i], votes[i], score[:, i].mean(),
                         score[:, i].std()])
        fig.suptitle("%s: %d weight samples per image" % (name, data["in"][0].shape[0]), y=1.0)
        fig.tight_layout()
        save_fig(fig, os.path.join(out, "semko_ood_images_%s.png" % safe), args.dpi)
        if data["in"][0].shape[0] > 1:
            summary[name] = {g: sample_stats(data[g][0]) for g in sets}
    if not rows:
        print("semko.py: no model of %s could be evaluated" % args.run_dir, file=sys.stderr)
        return 1
    write_csv(os.path.join(out, "semko_ood.csv"),
              ["model", "set", "rows", "agreement_mean", "agreement_median", "spread_mean", "spread_median",
               "index", "class", "votes", "score_mean", "score_std"], rows)
    if summary:
        fig, axes = plt.subplots(2, len(summary), figsize=(5 * len(summary), 7), squeeze=False)
        for c, (name, per) in enumerate(summary.items()):
            for g, (overall, votes, score) in per.items():
                axes[0, c].hist(votes, bins=np.linspace(0, 1, 21), histtype="step", density=True, lw=1.5,
                                label="%s (mean %.2f)" % (SET_NAMES[g], votes.mean()))
                sd = score.std(axis=0)
                axes[1, c].hist(sd, bins=np.linspace(0, 0.5, 26), histtype="step", density=True, lw=1.5,
                                label="%s (mean %.3f)" % (SET_NAMES[g], sd.mean()))
            axes[0, c].set_title(name)
            axes[0, c].set_xlabel("fraction of samples predicting the overall class")
            axes[1, c].set_xlabel("std over samples of the overall class's score")
            for ax, loc in zip(axes[:, c], ("upper left", "upper right")):
                ax.set_ylabel("density of images")
                ax.legend(fontsize=8, loc=loc)
                ax.grid(alpha=0.3)
        fig.suptitle("per-image spread over weight samples, whole sets (%d images each)" % args.test_limit)
        fig.tight_layout()
        save_fig(fig, os.path.join(out, "semko_ood_sets.png"), args.dpi)
    else:
        print("semko.py: no stochastic model: semko_ood_sets.png skipped")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fgsm", help="accuracy against FGSM eps from a semko-fgsm cube")
    f.add_argument("cube")
    f.add_argument("--transfer-from", default="mlp", help="group whose sets are the transfer sets (mlp)")
    o = sub.add_parser("ood", help="OOD histograms over weight samples for the models of a run directory")
    o.add_argument("run_dir")
    o.add_argument("--bnnsweep", default=os.path.join(HERE, "..", "build", "bnnsweep"))
    o.add_argument("--index", default="", help="image per set, e.g. mnist=0,fashion=3,notmnist=1,omniglot=2")
    o.add_argument("--samples", type=int, default=100)
    o.add_argument("--test-limit", type=int, default=1000)
    o.add_argument("--notmnist", default=None, help="notMNIST IDX images file or folder")
    o.add_argument("--omniglot", default=None, help="Omniglot zip of PNGs")
    for p in (f, o):
        p.add_argument("--out", default=None)
        p.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args(argv)
    try:
        return {"fgsm": cmd_fgsm, "ood": cmd_ood}[args.cmd](args)
    except (OSError, KeyError) as e:
        print("semko.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
