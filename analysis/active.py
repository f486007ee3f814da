#!/usr/bin/env python3
"""active.py - active-learning curves (Wang et al. 2018; METHODS.md s.12) from a bnnsweep cube.

usage: active.py CUBE [--out DIR] [--every K] [--band minmax|std]

Reads only CUBE (RUN_DIR/cube.h5 of a sweep with an active: section, e.g.
sweeps/active-learning.yaml): al_accuracy[al_model, al_score, al_seed,
acquired] (runner.h). Draws test accuracy against the number of acquired
images, one panel per active-learning model (SECTION/GROUP), one line per
acquisition score (the mean over seeds) with a band over the seeds (min..max
by default, or mean +- std), and a dashed line for the group's own model
trained on the whole pool when the cube has its test accuracy (a robustness
evaluation of the group). BALD of a point estimate is not defined: no line.

Writes into DIR (default: CUBE's directory/analysis):
  active.png   the curves
  active.csv   model, method, score, acquired, round, seeds, mean, std, min, max (accuracy, fractions)
  active.md    mean +- std over seeds, in %, every K-th round (default 5) and the last
and prints active.md on stdout. Needs h5py, numpy and matplotlib.
Exit status: 0 written, 1 unreadable cube or no active-learning results, 2 usage.
"""
import argparse
import csv
import math
import os
import sys

METHOD_NAMES = {"deterministic": "SGD", "dropout": "MC dropout", "sgld": "SGLD", "apd": "APD", "bbb": "BBB",
                "lrt": "LRT", "alpha": "alpha", "ris": "RIS", "mog": "MoG"}
SCORE_NAMES = {"entropy": "entropy", "vr": "VR", "bald": "BALD", "random": "random"}
COLORS = {"entropy": "tab:blue", "vr": "tab:orange", "bald": "tab:green", "random": "0.35"}


def text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def load(path):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        if "al_accuracy" not in f:
            raise ValueError(f"{path}: no al_accuracy (a sweep without an active: section?)")
        out = {
            "models": text(f["al_model"][()]), "scores": text(f["al_score"][()]),
            "al_methods": text(f["al_method"][()]) if "al_method" in f else [],
            "seeds": f["al_seed"][()], "acquired": f["acquired"][()], "acc": f["al_accuracy"][()],
            "cube_models": text(f["model"][()]), "methods": text(f["model_method"][()]),
            "sets": text(f["set"][()]), "accuracy": f["accuracy"][()],
            "n_ensemble": f["n_ensemble"][()] if "n_ensemble" in f else [],
            "ensemble_accuracy": f["ensemble_accuracy"][()] if "ensemble_accuracy" in f else None,
        }
    order = np.argsort(out["acquired"], kind="stable")
    out["acquired"] = out["acquired"][order]
    out["acc"] = out["acc"][..., order]
    return out


def group_of(al_model):
    """SECTION/GROUP[/POINT] -> GROUP[/POINT], the cube's model label of the group's own model"""
    return al_model.split("/", 1)[1] if "/" in al_model else al_model


def method_of(d, al_model):
    k = d["models"].index(al_model)
    if k < len(d["al_methods"]) and d["al_methods"][k]:
        return d["al_methods"][k]
    label = group_of(al_model)
    if label in d["cube_models"]:
        return d["methods"][d["cube_models"].index(label)]
    return ""


def reference(d, al_model):
    """test accuracy of the group's model trained on the whole pool (NaN when not evaluated): its
    largest ensemble's (the rounds report an ensemble of the section's samples), else its robustness
    accuracy (a point estimate's)"""
    label = group_of(al_model)
    if label not in d["cube_models"] or "test" not in d["sets"]:
        return math.nan
    m, s = d["cube_models"].index(label), d["sets"].index("test")
    if d["ensemble_accuracy"] is not None:
        for k in sorted(range(len(d["n_ensemble"])), key=lambda k: -d["n_ensemble"][k]):
            v = float(d["ensemble_accuracy"][m, s, k])
            if not math.isnan(v):
                return v
    return float(d["accuracy"][m, s])


def title(d, al_model):
    method = method_of(d, al_model)
    name = METHOD_NAMES.get(method, method)
    return f"{name} ({al_model})" if name else al_model


def summaries(d):
    """(model, score) -> arrays mean, std, min, max, count over seeds, per acquired"""
    import numpy as np
    out = {}
    for m, model in enumerate(d["models"]):
        for s, score in enumerate(d["scores"]):
            cells = d["acc"][m, s]                       # [seed, acquired]
            if not np.isfinite(cells).any():
                continue                                 # no chain (BALD of a point estimate, or not asked)
            with np.errstate(all="ignore"):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[(model, score)] = {
                        "mean": np.nanmean(cells, axis=0), "std": np.nanstd(cells, axis=0),
                        "min": np.nanmin(cells, axis=0), "max": np.nanmax(cells, axis=0),
                        "n": np.isfinite(cells).sum(axis=0)}
    return out


def write_csv_file(d, sums, path):
    acquire = d["acquired"][1] - d["acquired"][0] if len(d["acquired"]) > 1 else 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "method", "score", "acquired", "round", "seeds", "mean", "std", "min", "max"])
        for (model, score), s in sums.items():
            for i, a in enumerate(d["acquired"]):
                if s["n"][i] == 0:
                    continue
                rnd = int(round(a / acquire)) if acquire else 0
                w.writerow([model, method_of(d, model), score, int(a), rnd, int(s["n"][i])] +
                           [f"{s[k][i]:.6f}" for k in ("mean", "std", "min", "max")])


def markdown(d, sums, every):
    acq = d["acquired"]
    acquire = acq[1] - acq[0] if len(acq) > 1 else 0
    cols = [i for i in range(len(acq)) if i % every == 0]
    if cols[-1] != len(acq) - 1:
        cols.append(len(acq) - 1)
    n_seeds = len(d["seeds"])
    refs = {model: reference(d, model) for model in d["models"]}
    with_ref = any(not math.isnan(v) for v in refs.values())
    lines = [f"Test accuracy (%) after N acquired images ({int(acquire)} a round), mean +- std over "
             f"{n_seeds} seed{'s' if n_seeds != 1 else ''}", "",
             "| model | score | " + " | ".join(f"{int(acq[i])}" for i in cols) + (" | all labelled |" if with_ref else " |"),
             "|---|---|" + "---:|" * (len(cols) + with_ref)]
    for model in d["models"]:
        ref = refs[model]
        tail = (" | " + ("" if math.isnan(ref) else f"{100 * ref:.1f}")) if with_ref else ""
        for score in d["scores"]:
            name = f"{title(d, model)} | {SCORE_NAMES.get(score, score)}"
            s = sums.get((model, score))
            if s is None:
                if score == "bald" and method_of(d, model) == "deterministic":
                    lines.append(f"| {name} | " + " | ".join("-" for _ in cols) + tail + " |")
                continue
            cells = [f"{100 * s['mean'][i]:.1f} +- {100 * s['std'][i]:.1f}" if s["n"][i] else "–" for i in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + tail + " |")
    lines += ["", "\"-\": BALD is not defined for a point estimate; \"–\": not in the cube (not run, or failed)" +
              ("; \"all labelled\": the group's own model trained on the whole pool." if with_ref else ".")]
    return "\n".join(lines) + "\n"


def plot(d, sums, band, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = d["models"]
    ncol = min(len(models), 2)
    nrow = (len(models) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.8 * nrow), squeeze=False, sharey=True)
    x = d["acquired"]
    for k, model in enumerate(models):
        ax = axes[k // ncol][k % ncol]
        for score in d["scores"]:
            s = sums.get((model, score))
            if s is None:
                continue
            c = COLORS.get(score)
            lo, hi = (s["min"], s["max"]) if band == "minmax" else (s["mean"] - s["std"], s["mean"] + s["std"])
            ax.plot(x, 100 * s["mean"], color=c, lw=1.6, label=SCORE_NAMES.get(score, score),
                    ls="--" if score == "random" else "-")
            ax.fill_between(x, 100 * lo, 100 * hi, color=c, alpha=0.15, lw=0)
        ref = reference(d, model)
        if not math.isnan(ref):
            ax.axhline(100 * ref, color="k", ls=":", lw=1, label="all pool labelled")
        ax.set_title(title(d, model), fontsize=10)
        ax.set_xlabel("acquired images")
        ax.grid(alpha=0.3)
        if k % ncol == 0:
            ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize=8, loc="best")
    for k in range(len(models), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    n = len(d["seeds"])
    fig.suptitle(f"Active learning: mean over {n} seed{'s' if n != 1 else ''}, band = "
                 f"{'min..max' if band == 'minmax' else 'mean +- std'} over seeds", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cube")
    ap.add_argument("--out", default=None)
    ap.add_argument("--every", type=int, default=5, help="table columns: every K-th round (and the last)")
    ap.add_argument("--band", choices=["minmax", "std"], default="minmax")
    args = ap.parse_args(argv)
    if args.every < 1:
        ap.error("--every must be at least 1")
    try:
        d = load(args.cube)
    except (OSError, KeyError, ValueError) as e:
        print(f"active.py: {e}", file=sys.stderr)
        return 1
    sums = summaries(d)
    if not sums:
        print(f"active.py: {args.cube}: no active-learning results yet", file=sys.stderr)
        return 1
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    write_csv_file(d, sums, os.path.join(out, "active.csv"))
    md = markdown(d, sums, args.every)
    with open(os.path.join(out, "active.md"), "w") as f:
        f.write(md)
    plot(d, sums, args.band, os.path.join(out, "active.png"))
    print(md, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
