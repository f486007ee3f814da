#!/usr/bin/env python3
"""adversarial.py - Wang et al. (2018)'s adversarial-detection transfer table from a bnnsweep cube.

usage: adversarial.py CUBE [--out DIR] [--score auto|entropy|vr|bald]

Reads only CUBE (RUN_DIR/cube.h5, e.g. of sweeps/adv-detection.yaml), whose
`detection` evaluations scored each adversarial set against its clean rows
(the same validation images unperturbed; METHODS.md s.12). Two tables:

  Table 1  detection AUROC in %: rows = source model x attack (the set was
           crafted against one posterior sample of the source: gray-box),
           columns = detecting model (named by method, as analysis/anomaly.py)
  Table 2  accuracy in % of each detecting model (its ensemble's mean
           prediction) on the same sets, and a first row on the clean rows

Score (--score auto, the default): BALD (the mutual information between the
prediction and the weights) for a model whose weight samples differ - the
epistemic part of the uncertainty, what a posterior adds over a point
estimate and the score Wang et al. detect with - and predictive entropy for a
point estimate, whose BALD is 0 for every input (not defined: one weight
sample); the column header names the score used. --score entropy|vr|bald
uses one score for every model ("-" where BALD is not defined).

Prints the tables as Markdown on stdout and writes adversarial.md,
adversarial.tex (booktabs), adversarial-auroc.csv and adversarial-accuracy.csv
into DIR (default: CUBE's directory/analysis), formatted as tables.py. "–"
marks a result missing from the cube (task not run, pending or failed).

Needs h5py and numpy only. Exit status: 0 written, 1 unreadable cube or no
detection results, 2 usage.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from anomaly import METHOD_NAMES, METHOD_ORDER, UNDEFINED, mark_special, mark_special_csv, model_order  # noqa: E402
from bnscube import open_cube, parse_set_label  # noqa: E402
from tables import Table, to_latex, to_markdown, write_csv  # noqa: E402

ATTACK_NAMES = {"fgsm": "FGSM", "pgd": "PGD", "minnorm": "min-norm", "targeted": "targeted FGSM"}
SCORE_NAMES = {"entropy": "entropy", "vr": "VR", "bald": "BALD"}


class SpecialTable(Table):
    """A table whose undefined cells ("-") are not 'missing'."""

    def __init__(self, number, slug, title):
        super().__init__(number, slug, title)
        self.special = {}

    def missing(self):
        return any(c[0] is None and (r, k) not in self.special
                   for r, row in enumerate(self.rows) for k, c in enumerate(row[3]))


def method_of(cube, i):
    return cube.model_methods[i] if i < len(cube.model_methods) else cube.models[i].split("/")[0]


def detection_sets(cube):
    """(set index, source model index or None, attack name, row label) of every adversarial
    set with a detection result, ordered by source method (the paper's order), then attack."""
    v = cube.var("detection_auroc")
    out = []
    for j in cube.attack_sets():
        if v is None or not (v[:, j] == v[:, j]).any():
            continue
        attack, _, source = parse_set_label(cube.sets[j])
        src = cube.models.index(source) if source in cube.models else None
        out.append([j, src, attack])
    names = []
    for j, src, attack in out:
        m = method_of(cube, src) if src is not None else "?"
        names.append(METHOD_NAMES.get(m, m))
    labels = []
    for k, (j, src, attack) in enumerate(out):   # two sources of one method: add their labels
        name = names[k]
        if src is not None and len({r[1] for r, n in zip(out, names) if n == name}) > 1:
            name = "%s (%s)" % (name, cube.models[src])
        labels.append("%s, %s" % (name, ATTACK_NAMES.get(attack, attack)))
    for row, label in zip(out, labels):
        row.append(label)

    def key(row):
        m = method_of(cube, row[1]) if row[1] is not None else ""
        rank = METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER)
        return (rank, row[1] if row[1] is not None else -1, list(ATTACK_NAMES).index(row[2])
                if row[2] in ATTACK_NAMES else len(ATTACK_NAMES), row[0])
    out.sort(key=key)
    return [tuple(r) for r in out]


def score_of(cube, i, choice):
    if choice != "auto":
        return choice
    return "bald" if cube.is_bayesian(i) else "entropy"


def build(cube, choice):
    models, names = model_order(cube, "detection_auroc")
    rows = detection_sets(cube)
    auroc = SpecialTable(1, "adversarial-auroc",
                         "Adversarial detection AUROC (clean vs adversarial validation images), in %: "
                         "rows = source x attack (one posterior sample of the source: gray-box), "
                         "columns = detecting model")
    acc = SpecialTable(2, "adversarial-accuracy", "Accuracy of each detecting model on the sets, in %")
    for i, name in zip(models, names):
        sc = score_of(cube, i, choice)
        auroc.columns.append(("%s (%s)" % (name, SCORE_NAMES[sc]), "%s (%s)" % (name, SCORE_NAMES[sc]),
                              "%s %s" % (name, sc), False))
        acc.columns.append((name, name, name, False))
    v = cube.var("detection_auroc")
    a, ca = cube.var("detection_accuracy"), cube.var("detection_clean_accuracy")

    def num(x):
        x = float(x)
        return x if math.isfinite(x) else None
    if rows:   # the clean rows: the same images for every set of one run (their first rows)
        acc.add_row("clean (the attacked validation rows)", "clean",
                    [(num(ca[i, rows[0][0]]), None) for i in models])
    for j, src, attack, label in rows:
        cells = []
        for i in models:
            sc = score_of(cube, i, choice)
            if sc == "bald" and not cube.is_bayesian(i):
                auroc.special[(len(auroc.rows), len(cells))] = UNDEFINED
                cells.append((None, None))
                continue
            s = cube.scores.index(sc)
            cells.append((num(v[i, j, s]), None))
        auroc.add_row(label, cube.sets[j], cells)
        acc.add_row(label, cube.sets[j], [(num(a[i, j]), None) for i in models])
    if choice == "auto":
        auroc.notes.append("Score: BALD (mutual information, H[p_bar] - mean sample entropy) for models whose "
                           "weight samples differ; predictive entropy H[p_bar] for a point estimate (BALD is 0 "
                           "for every input there). AUROC: adversarial rows positive, more uncertain = "
                           "adversarial (METHODS.md s.6, s.12).")
    else:
        auroc.notes.append("Score: %s for every model (%s: BALD of a point estimate is not defined)."
                           % (SCORE_NAMES[choice], UNDEFINED))
    acc.notes.append("Accuracy of the detecting model's ensemble (mean of its samples' softmax; a point "
                     "estimate's own weights) on each adversarial set; first row: on the clean rows.")
    return auroc, acc, models


def main(argv=None):
    ap = argparse.ArgumentParser(description="Wang et al.'s adversarial-detection transfer table from a "
                                 "bnnsweep cube: Markdown on stdout, LaTeX and CSV in --out.")
    ap.add_argument("cube", help="RUN_DIR/cube.h5")
    ap.add_argument("--out", help="output directory (default: the cube's directory/analysis)")
    ap.add_argument("--score", default="auto", choices=["auto", "entropy", "vr", "bald"],
                    help="auto (default): BALD for Bayesian models, entropy for point estimates")
    args = ap.parse_args(argv)
    cube = open_cube(args.cube, "adversarial.py")
    if cube is None:
        return 1
    if not cube.has_data("detection_auroc"):
        print("adversarial.py: %s: the cube has no detection evaluation" % args.cube, file=sys.stderr)
        return 1
    auroc, acc, _ = build(cube, args.score)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    n_done = sum(1 for s in cube.task_status if s == "done")
    md = "# %s\n\nCube `%s`: %d of %d tasks done.\n\n%s\n%s" % (
        cube.sweep_name or os.path.basename(args.cube), args.cube, n_done, len(cube.task_status),
        mark_special(to_markdown(auroc), auroc, tex=False), to_markdown(acc))
    tex = mark_special(to_latex(auroc, cube.sweep_name), auroc, tex=True) + "\n" + to_latex(acc, cube.sweep_name)
    with open(os.path.join(out, "adversarial.tex"), "w", encoding="utf-8") as f:
        f.write(tex)
    for t in (auroc, acc):
        path = os.path.join(out, t.slug + ".csv")
        write_csv(t, path)
        mark_special_csv(path, t)
    with open(os.path.join(out, "adversarial.md"), "w", encoding="utf-8") as f:
        f.write(md)
    sys.stdout.write(md)
    print("adversarial.py: wrote adversarial.md adversarial.tex adversarial-auroc.csv adversarial-accuracy.csv "
          "into %s" % out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
