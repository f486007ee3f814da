#!/usr/bin/env python3
"""anomaly.py - Wang et al. (2018)'s anomaly-detection table from a bnnsweep cube.

usage: anomaly.py CUBE [--out DIR]

Reads only CUBE (RUN_DIR/cube.h5, e.g. of sweeps/anomaly.yaml). Rows: OOD set x
score (VR, BALD; METHODS.md s.6), in the paper's order notMNIST, Omniglot,
CIFAR-10 grayscale, Gaussian, uniform, then Fashion-MNIST; columns: each
evaluated model (SGD, MC dropout, SGLD, APD, BBB, LRT: named by method, the
group added when two models share a method) x AUROC, AUPR-in (PR+: MNIST
positive), AUPR-out (PR-: OOD positive), in %.

Prints the table as Markdown on stdout and writes anomaly.tex (booktabs),
anomaly.csv and anomaly.md into DIR (default: CUBE's directory/analysis), with
the formatting of tables.py. "-" marks BALD of a point estimate (not defined:
one weight sample, the mutual information is 0 for every input), "n/a" the
cells of a set not available, "–" a result missing from the cube (task not
run, pending or failed). A set the
cube has no task for is listed with the note "not available offline" when it
is CIFAR-10 grayscale (Wang et al.'s third set: its files are not shipped) and
left out otherwise.

Needs h5py and numpy only. Exit status: 0 written, 1 unreadable cube or no OOD
results, 2 usage.
"""
import argparse
import csv
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bnscube import open_cube, parse_model_label  # noqa: E402
from tables import Table, to_latex, to_markdown, write_csv  # noqa: E402

UNDEFINED = "-"         # BALD of a point estimate
NOT_AVAILABLE = "n/a"   # a set whose files are not available offline
OOD_ORDER = [("notmnist", "notMNIST"), ("omniglot", "Omniglot"), ("cifar10", "CIFAR-10 grayscale"),
             ("gaussian", "Gaussian"), ("uniform", "Uniform"), ("fashion", "Fashion-MNIST")]
OFFLINE = {"cifar10": "not available offline (point data.cifar10 at the CIFAR-10 binary batches)"}
SCORES = [("vr", "VR"), ("bald", "BALD")]
METRICS = [("auroc", "AUROC", "AUROC"), ("aupr_in", "PR+", "AUPR-in"), ("aupr_out", "PR-", "AUPR-out")]
METHOD_NAMES = {"deterministic": "SGD", "dropout": "MC dropout", "sgld": "SGLD", "apd": "APD", "bbb": "BBB",
                "lrt": "LRT", "alpha": "alpha", "ris": "RIS", "mog": "MoG"}
METHOD_ORDER = ["deterministic", "dropout", "sgld", "apd", "bbb", "lrt"]


class AnomalyTable(Table):
    """Table with cells that are not results: BALD of a point estimate ("-")
    and the row of a set that is not available ("n/a"); neither is 'missing'."""

    def __init__(self):
        super().__init__(1, "anomaly", "Anomaly detection (MNIST in-distribution vs OOD), in %")
        self.special = {}   # (row, column) -> the text shown instead of a number

    def missing(self):
        return any(c[0] is None and (r, k) not in self.special
                   for r, row in enumerate(self.rows) for k, c in enumerate(row[3]))


def model_order(cube, var="auroc"):
    """Evaluated models with a result in `var` (OOD AUROC), by method (the paper's order), then as in the cube."""
    auroc = cube.var(var)
    idx = [i for i in range(len(cube.models)) if auroc is not None and auroc.shape[0] > i
           and (auroc[i] == auroc[i]).any()]

    def method(i):
        return cube.model_methods[i] if i < len(cube.model_methods) else parse_model_label(cube.models[i])[0]

    def key(i):
        m = method(i)
        return (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), i)
    idx.sort(key=key)
    names = [METHOD_NAMES.get(method(i), method(i)) for i in idx]
    counts = {n: names.count(n) for n in names}
    for k, i in enumerate(idx):   # two models of one method: add their labels (all of them)
        if counts[names[k]] > 1:
            names[k] = "%s (%s)" % (names[k], cube.models[i])
    return idx, names


def build(cube):
    t = AnomalyTable()
    models, names = model_order(cube)
    for name in names:
        for _, short, long_name in METRICS:
            t.columns.append(("%s %s" % (name, short), "%s %s" % (name, short), "%s %s" % (name, long_name), False))
    for key, label in OOD_ORDER:
        if key not in cube.oods:
            if key in OFFLINE:
                for k in range(len(t.columns)):
                    t.special[(len(t.rows), k)] = NOT_AVAILABLE
                t.add_row("%s: %s" % (label, OFFLINE[key]), "%s (%s)" % (label, OFFLINE[key]),
                          [(None, None)] * len(t.columns))
            continue
        o = cube.oods.index(key)
        for score, slabel in SCORES:
            if score not in cube.scores:
                continue
            s = cube.scores.index(score)
            cells = []
            for i in models:
                point = not cube.is_bayesian(i)
                for var, _, _ in METRICS:
                    if score == "bald" and point:
                        t.special[(len(t.rows), len(cells))] = UNDEFINED
                        cells.append((None, None))
                        continue
                    v = cube.var(var)
                    x = float(v[i, o, s]) if v is not None else float("nan")
                    cells.append((x if math.isfinite(x) else None, None))
            t.add_row("%s, %s" % (label, slabel), "%s %s" % (label, slabel), cells)
    t.notes.append("%s : BALD of a point estimate (SGD) is not defined (one weight sample: 0 for every input)."
                   % UNDEFINED)
    t.notes.append("Scores: VR = 1 - max p_bar, BALD = H[p_bar] - mean sample entropy (METHODS.md s.6); "
                   "PR+ = AUPR with MNIST positive, PR- = AUPR with OOD positive.")
    return t, models


def mark_special(text, t, tex):
    """Put the special cells' texts where tables.py wrote a missing-dash:
    row r of the table is the r-th line starting with its label."""
    labels = [row[1] if tex else row[0] for row in t.rows]
    out, r = [], 0
    for line in text.split("\n"):
        start = ("%s & " if tex else "| %s | ") % labels[r] if r < len(labels) else None
        if start and line.startswith(start):
            end = " \\\\" if tex else " |"
            parts = line[len(start):-len(end)].split(" & " if tex else " | ")
            parts = [t.special.get((r, k), p) for k, p in enumerate(parts)]
            line = start + (" & " if tex else " | ").join(parts) + end
            r += 1
        out.append(line)
    return "\n".join(out)


def mark_special_csv(path, t):
    """The special cells' texts in the CSV (tables.py leaves a missing cell empty)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    for (r, k), text in t.special.items():
        rows[1 + r][1 + k] = text
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Wang et al.'s anomaly-detection table from a bnnsweep cube: "
                                 "Markdown on stdout, LaTeX and CSV in --out.")
    ap.add_argument("cube", help="RUN_DIR/cube.h5")
    ap.add_argument("--out", help="output directory (default: the cube's directory/analysis)")
    args = ap.parse_args(argv)
    cube = open_cube(args.cube, "anomaly.py")
    if cube is None:
        return 1
    if not cube.oods or cube.var("auroc") is None:
        print("anomaly.py: %s: the cube has no OOD evaluation" % args.cube, file=sys.stderr)
        return 1
    t, _ = build(cube)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    n_done = sum(1 for s in cube.task_status if s == "done")
    md = "# %s\n\nCube `%s`: %d of %d tasks done.\n\n%s" % (
        cube.sweep_name or os.path.basename(args.cube), args.cube, n_done, len(cube.task_status),
        mark_special(to_markdown(t), t, tex=False))
    tex = mark_special(to_latex(t, cube.sweep_name), t, tex=True)
    with open(os.path.join(out, "anomaly.tex"), "w", encoding="utf-8") as f:
        f.write(tex)
    write_csv(t, os.path.join(out, "anomaly.csv"))
    mark_special_csv(os.path.join(out, "anomaly.csv"), t)
    with open(os.path.join(out, "anomaly.md"), "w", encoding="utf-8") as f:
        f.write(md)
    sys.stdout.write(md)
    print("anomaly.py: wrote anomaly.md anomaly.tex anomaly.csv into %s" % out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
