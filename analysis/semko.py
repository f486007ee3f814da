#!/usr/bin/env python3
"""semko.py - the figures of Semko 2023 and Li & Gal 2017 (METHODS.md s.12).

usage: semko.py fgsm CUBE [--out DIR] [--dpi N] [--transfer-from GROUP]
       semko.py ood RUN_DIR [--bnnsweep BIN] [--index SET=I,...] [--samples 100]
                    [--test-limit 1000] [--notmnist PATH] [--omniglot ZIP] [--out DIR] [--dpi N]
       semko.py ligal RUN_DIR [--bnnsweep BIN] [--samples 10] [--examples 0,1] [--out DIR] [--dpi N]

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

  ligal  for a run of sweeps/ligal.yaml: every model's own FGSM sets (eps,
         Li & Gal's eta) and targeted sets (steps), plus the clean test set
         (eta 0, step 0), through `bnnsweep eval --sample-probs` with
         --samples weight samples; writes
           ligal_fgsm.png      accuracy, predictive entropy and BALD of the
                               --samples ensemble against eta, one line per model
           ligal_targeted.png  target success rate (the ensemble predicts the
                               target, over images whose label is not the
                               target), entropy and BALD against the iteration
           ligal_strip.png     the images --examples along the targeted
                               trajectory (steps 0, 10, ...), one row per
                               model and image, with the ensemble's p(target)
           ligal.csv           model, attack, x (eta or step), accuracy,
                               target_success, p_target, entropy, bald

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


def set_files(cube_path, run_dir):
    """{set label: RUN_DIR/tasks/attack-KEY.h5} from the cube's task names attack/LABEL."""
    import h5py
    with h5py.File(cube_path, "r") as f:
        names = [bnscube._text(x) for x in f["task_name"][()]]
        keys = [bnscube._text(x) for x in f["task_key"][()]]
    return {n[len("attack/"):]: os.path.join(run_dir, "tasks", "attack-%s.h5" % k)
            for n, k in zip(names, keys) if n.startswith("attack/")}


def eval_probs(args, model_path, set_arg, rows, work):
    """per-sample probs [S, rows, C], labels and images of one set (bnnsweep eval --sample-probs)."""
    import subprocess
    import h5py
    out = os.path.join(work, "probs.h5")
    cmd = [args.bnnsweep, "eval", "--model", model_path, "--set", set_arg, "--test-limit", str(rows), "--runs", "1",
           "--ensemble", "1", "--ood", "none", "--ood-samples", str(args.samples), "--quiet", "--sample-probs", out]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise OSError("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    with h5py.File(out, "r") as f:
        return f["in/probs"][()], f["in/labels"][()], f["in/images"][()]


def uncertainty(probs):
    """(p_bar, entropy of p_bar, BALD) per row, METHODS.md s.6."""
    pbar = probs.mean(axis=0)
    h = -(pbar * np.log(np.maximum(pbar, 1e-30))).sum(axis=1)
    hs = -(probs * np.log(np.maximum(probs, 1e-30))).sum(axis=2).mean(axis=0)
    return pbar, h, np.maximum(h - hs, 0.0)


def cmd_ligal(args):
    import h5py
    cube_path = os.path.join(args.run_dir, "cube.h5")
    cube = bnscube.Cube(cube_path)
    out = args.out or os.path.join(args.run_dir, "analysis")
    os.makedirs(out, exist_ok=True)
    files = set_files(cube_path, args.run_dir)
    examples = [int(v) for v in args.examples.split(",") if v.strip()]
    curves = {}  # model label -> {"fgsm": [(eta, stats)], "targeted": [(step, stats, images)]}
    rows_csv = []
    for label in cube.models:
        path = model_file(cube_path, args.run_dir, label)
        if not path or not os.path.exists(path):
            continue
        own = []
        for set_label, f in files.items():
            name, params, source = bnscube.parse_set_label(set_label)
            if source != label or not os.path.exists(f):
                continue
            if name == "fgsm" and "eps" in params:
                own.append(("fgsm", bnscube.to_float(params["eps"]), f))
            elif name == "targeted" and "steps" in params:
                own.append(("targeted", bnscube.to_float(params["steps"]), f))
        if not own:
            continue
        with h5py.File(own[0][2], "r") as f:
            rows = int(f.attrs["n"][0])
        targets = None
        for kind, x, f in own:
            if kind == "targeted":
                with h5py.File(f, "r") as h:
                    targets = h["target"][()]
                break
        cur = {"fgsm": [], "targeted": []}
        clean = eval_probs(args, path, "test", rows, out)
        todo = [("clean", 0.0, None)] + sorted(own, key=lambda t: (t[0], t[1]))
        for kind, x, f in todo:
            probs, labels, images = clean if f is None else eval_probs(args, path, f, rows, out)
            pbar, h, bald = uncertainty(probs)
            pred = pbar.argmax(axis=1)
            st = {"accuracy": float((pred == labels).mean()), "entropy": float(h.mean()), "bald": float(bald.mean())}
            if targets is not None:
                keep = labels != targets
                st["target_success"] = float((pred[keep] == targets[keep]).mean()) if keep.any() else math.nan
                st["p_target"] = float(pbar[np.arange(len(targets)), targets].mean())
                st["p_target_rows"] = pbar[np.arange(len(targets)), targets]
            # the clean set is step 0, and eta 0 unless an eps-0 FGSM set (the same images) exists
            has_eta0 = any(k == "fgsm" and v == 0 for k, v, _ in own)
            kinds = (("targeted",) if has_eta0 else ("fgsm", "targeted")) if kind == "clean" else (kind,)
            for k in kinds:
                cur[k].append((x, st, images))
                rows_csv.append([label, k, x, st["accuracy"], st.get("target_success", math.nan),
                                 st.get("p_target", math.nan), st["entropy"], st["bald"]])
        curves[label] = cur
    os.remove(os.path.join(out, "probs.h5")) if os.path.exists(os.path.join(out, "probs.h5")) else None
    if not curves:
        print("semko.py: %s has no FGSM or targeted sets with their models" % args.run_dir, file=sys.stderr)
        return 1
    write_csv(os.path.join(out, "ligal.csv"),
              ["model", "attack", "x", "accuracy", "target_success", "p_target", "entropy", "bald"], rows_csv)

    def display(label):
        g, params = bnscube.parse_model_label(label)
        if "alpha" in params:
            return "dropout, alpha = %s" % params["alpha"]
        return {"det": "deterministic"}.get(g, NAMES.get(g, label))

    for kind, xlabel, first in (("fgsm", "FGSM eta ([0, 1] pixel scale)", "accuracy"),
                                ("targeted", "iteration (targeted FGSM, eta 0.01 per step)", "target_success")):
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        drawn = 0
        for label, cur in curves.items():
            pts = sorted(cur[kind], key=lambda t: t[0])
            if len(pts) < 2:
                continue
            xs = [p[0] for p in pts]
            for ax, key in zip(axes, (first, "entropy", "bald")):
                ax.plot(xs, [p[1].get(key, math.nan) for p in pts], "o-", ms=3, label=display(label))
            drawn += 1
        if not drawn:
            plt.close(fig)
            print("semko.py: no %s sets: %s skipped" % (kind, "ligal_%s.png" % kind))
            continue
        names = {"accuracy": "accuracy", "target_success": "target success rate",
                 "entropy": "predictive entropy (nats)", "bald": "BALD (nats)"}
        for ax, key in zip(axes, (first, "entropy", "bald")):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(names[key])
            ax.grid(alpha=0.3)
        axes[0].set_ylim(-0.02, 1.02)
        axes[0].legend(fontsize=8)
        fig.suptitle("Li & Gal 2017: %s against white-box %s (%d-sample ensembles)" %
                     ("accuracy and uncertainty" if kind == "fgsm" else "target success and uncertainty",
                      "FGSM" if kind == "fgsm" else "iterative targeted FGSM", args.samples))
        fig.tight_layout()
        save_fig(fig, os.path.join(out, "ligal_%s.png" % kind), args.dpi)

    strips = [(label, sorted(cur["targeted"], key=lambda t: t[0])) for label, cur in curves.items()
              if len(cur["targeted"]) > 1]
    if strips and examples:
        n_cols = max(len(p) for _, p in strips)
        n_rows = len(strips) * len(examples)
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.1 * n_cols, 1.35 * n_rows), squeeze=False)
        r = 0
        for label, pts in strips:
            for e in examples:
                for c in range(n_cols):
                    ax = axes[r, c]
                    ax.set_axis_off()
                    if c >= len(pts) or e >= pts[c][2].shape[0]:
                        continue
                    step, st, images = pts[c]
                    ax.imshow(images[e].reshape(28, 28), cmap="gray", vmin=0, vmax=255)
                    ax.set_title("%d: %.2f" % (step, st["p_target_rows"][e]), fontsize=7)
                axes[r, 0].text(-0.15, 0.5, "%s\nimage %d" % (display(label), e), transform=axes[r, 0].transAxes,
                                ha="right", va="center", fontsize=7)
                r += 1
        fig.suptitle("targeted FGSM trajectories (title: step: ensemble p(target))", fontsize=9, y=0.995)
        fig.subplots_adjust(top=1 - 0.35 / n_rows, hspace=0.35)
        save_fig(fig, os.path.join(out, "ligal_strip.png"), args.dpi)
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
    lg = sub.add_parser("ligal", help="Li & Gal's FGSM / targeted FGSM curves for the models of a run directory")
    lg.add_argument("run_dir")
    lg.add_argument("--bnnsweep", default=os.path.join(HERE, "..", "build", "bnnsweep"))
    lg.add_argument("--samples", type=int, default=10, help="weight samples per prediction (10)")
    lg.add_argument("--examples", default="0,1", help="test images of the trajectory strip")
    for p in (f, o, lg):
        p.add_argument("--out", default=None)
        p.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args(argv)
    try:
        return {"fgsm": cmd_fgsm, "ood": cmd_ood, "ligal": cmd_ligal}[args.cmd](args)
    except (OSError, KeyError) as e:
        print("semko.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
