#!/usr/bin/env python3
"""tables.py - the four tables of Zhang & Chen (2020) from a bnnsweep results cube.

usage: tables.py CUBE [--out DIR] [--model LABEL | --all-bnns] [--paper]

Reads only CUBE (RUN_DIR/cube.h5). Prints the tables as Markdown on stdout and
writes each as LaTeX (tN_*.tex, booktabs) and CSV (tN_*.csv) into DIR (default:
CUBE's directory/analysis), plus tables.md (the Markdown printed).

  T1  clean validation / test accuracy; columns: the BNNs (by rho_init), then
      the deterministic baselines (by lambda)
  T2  accuracy on each attack set + Average; same columns
  T3  ensemble accuracy on each attack set + Average; columns: ensemble size N
  T4  SNR-pruned accuracy on clean validation, clean test, each attack set +
      Average; columns: pruning rate

Accuracies are in percent. A BNN's T1/T2 cell is mean +- std over single-sample
runs; a T3 cell is mean +- std over the 100/N runs of an N-sample ensemble.
T3 and T4 are for one BNN: --model LABEL (a model label of the cube, e.g.
"bnn/rho_init=-3", or a rho_init value), by default the BNN whose rho_init is
closest to -3 among those with results; --all-bnns gives one table per BNN.
Missing cells (a task not run, still pending, or failed) read "–"; a table
without data (no attack sets, no ensembles, no pruning) is replaced by a note.
Models never evaluated (attack sources) are left out.

--paper also prints (and writes as paper.md) our T1 and the T2-T4 averages and
headline margins next to Zhang & Chen's published values (issue 16), matched
by rho_init, lambda, N and pruning rate; "–" where the cube has no such model.

Needs h5py and numpy only. Exit status: 0 written, 1 unreadable cube, 2 usage.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bnscube import open_cube, fmt_number, parse_model_label  # noqa: E402

DASH = "–"
TEX_DASH = "--"
MISSING_NOTE = "– : no result in the cube (task not run, still pending, or failed)."
PARTIAL_AVG_NOTE = "† : average over the attack sets with a result only."


class Table:
    """A titled grid of cells (mean, std or None, both fractions; None = missing)."""

    def __init__(self, number, slug, title):
        self.number, self.slug, self.title = number, slug, title
        self.columns = []     # (markdown header, tex header, csv header, show_std)
        self.rows = []        # (markdown label, tex label, csv label, cells, partial)
        self.notes = []
        self.omitted = None   # reason, when the table has no data

    def add_row(self, label, csv_label, cells, partial=False, tex_label=None):
        self.rows.append((label, tex_label if tex_label is not None else tex_escape(label), csv_label, cells, partial))

    def missing(self):
        return any(c is None or c[0] is None or not math.isfinite(c[0]) for r in self.rows for c in r[3])


def tex_escape(s):
    out = []
    for ch in s:
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "ρ":
            out.append(r"$\rho_0$")
        elif ch == "λ":
            out.append(r"$\lambda$")
        elif ch == "–":
            out.append("--")
        elif ch == "~":
            out.append(r"\textasciitilde{}")
        elif ch == "^":
            out.append(r"\textasciicircum{}")
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        else:
            out.append(ch)
    return "".join(out)


def finite(x):
    return x is not None and math.isfinite(x)


def cell(mean, std=None):
    return (float(mean) if finite(mean) else None, float(std) if finite(std) else None)


def fmt_cell(c, show_std, tex=False, partial=False):
    mean, std = c
    if mean is None:
        return TEX_DASH if tex else DASH
    text = "%.2f" % (100 * mean)
    if show_std and std is not None:
        text += (r" $\pm$ %.2f" if tex else " ± %.2f") % (100 * std)
    if partial:
        text += r"$^\dagger$" if tex else "†"
    return text


def average_cells(cells):
    """Mean over the cells with a value (std: mean of their stds); partial when some lack one."""
    have = [c for c in cells if c[0] is not None]
    if not have:
        return (None, None), False
    stds = [c[1] for c in have if c[1] is not None]
    return (float(np.mean([c[0] for c in have])), float(np.mean(stds)) if stds else None), len(have) < len(cells)


# ---------------------------------------------------------------------------
# the four tables

def model_columns(cube, table):
    bnns, bases = cube.model_columns()
    heads = cube.model_headers(bnns) if bnns else []
    theads = cube.model_headers(bnns, tex=True) if bnns else []
    bheads = cube.model_headers(bases) if bases else []
    btheads = cube.model_headers(bases, tex=True) if bases else []
    for i, h, t in zip(bnns, heads, theads):
        table.columns.append(("BNN " + h, "BNN " + t, cube.models[i], True))
    for i, h, t in zip(bases, bheads, btheads):
        table.columns.append(("L2 " + h, "L2 " + t, cube.models[i], False))
    return bnns + bases


def table1(cube):
    t = Table(1, "clean", "Clean accuracy (%)")
    models = model_columns(cube, t)
    acc, std = cube.var("accuracy"), cube.var("accuracy_std")
    if not models or acc is None:
        t.omitted = "the cube has no evaluated models."
        return t
    for label, name in (("validation", "val"), ("test", "test")):
        j = cube.set_index(name)
        cells = [cell(acc[i, j] if j is not None else None, std[i, j] if (j is not None and std is not None) else None)
                 for i in models]
        t.add_row(label, name, cells)
    t.notes.append("BNN: mean ± std over single-sample runs; L2: deterministic baselines.")
    return t


def attack_rows(cube):
    return cube.attack_sets(), cube.set_headers(cube.attack_sets())


def table2(cube):
    t = Table(2, "robustness", "Accuracy on the adversarial sets (%)")
    models = model_columns(cube, t)
    sets, labels = attack_rows(cube)
    acc, std = cube.var("accuracy"), cube.var("accuracy_std")
    if not sets:
        t.omitted = "the cube has no attack sets."
        return t
    if not models or acc is None or not np.isfinite(acc[np.ix_(models, sets)]).any():
        t.omitted = "no model has been evaluated on an attack set yet."
        return t
    columns = [[] for _ in models]
    for j, label in zip(sets, labels):
        cells = [cell(acc[i, j], std[i, j] if std is not None else None) for i in models]
        for k, c in enumerate(cells):
            columns[k].append(c)
        t.add_row(label, cube.sets[j], cells)
    avg = [average_cells(col) for col in columns]
    t.add_row("Average", "Average", [a for a, _ in avg], partial=[p for _, p in avg])
    t.notes.append("Rows: one perturbed copy of the test images per source model. BNN: mean ± std over "
                   "single-sample runs; Average: mean over the sets (± the mean of their stds).")
    return t


def pick_bnns(cube, var, choice, all_bnns):
    """BNN indices for T3/T4 and a sentence saying how they were chosen."""
    bnns, _ = cube.model_columns()
    v = cube.var(var)
    with_data = [i for i in bnns if v is not None and np.isfinite(v[i]).any()]
    if all_bnns:
        return with_data, "each BNN with results in turn"
    if choice is not None:
        for i in range(len(cube.models)):
            if cube.models[i] == choice:
                return [i], "%s (--model)" % choice
        try:
            rho = float(choice)
        except ValueError:
            rho = None
        if rho is not None:
            for i in bnns:
                if cube.model_value(i, "rho_init") == rho:
                    return [i], "%s (--model)" % cube.models[i]
        return [], "--model %s matches no BNN of the cube" % choice
    if not with_data:
        return [], ""
    rhos = [cube.model_value(i, "rho_init") for i in with_data]
    if any(math.isfinite(r) for r in rhos):
        best = min((abs(r + 3) if math.isfinite(r) else math.inf, k) for k, r in enumerate(rhos))[1]
        return [with_data[best]], "%s: the BNN with rho_init closest to -3" % cube.models[with_data[best]]
    return [with_data[0]], "%s: the first BNN with results" % cube.models[with_data[0]]


def table3(cube, choice, all_bnns):
    ens, ens_std = cube.var("ensemble_accuracy"), cube.var("ensemble_accuracy_std")
    sets, labels = attack_rows(cube)
    t = Table(3, "ensembles", "Ensemble accuracy on the adversarial sets (%)")
    if ens is None or not cube.n_ensemble.size or not np.isfinite(ens).any():
        t.omitted = "the cube has no ensemble results."
        return [t]
    chosen, why = pick_bnns(cube, "ensemble_accuracy", choice, all_bnns)
    if not chosen:
        t.omitted = why or "no BNN has ensemble results."
        return [t]
    tables = []
    for i in chosen:
        t = Table(3, "ensembles", "Ensemble accuracy on the adversarial sets (%), " + cube.models[i])
        if len(chosen) > 1:
            t.slug = "ensembles_" + safe_name(cube.models[i])
        for n in cube.n_ensemble:
            t.columns.append(("N=%s" % fmt_number(n), "$N=%s$" % fmt_number(n), "N=%s" % fmt_number(n), True))
        # clean sets only when the ensembles evaluation included them
        for name, label in (("val", "clean validation"), ("test", "clean test")):
            j = cube.set_index(name)
            if j is not None and np.isfinite(ens[i, j]).any():
                t.add_row(label, name, [cell(ens[i, j, k], ens_std[i, j, k]) for k in range(len(cube.n_ensemble))])
        columns = [[] for _ in cube.n_ensemble]
        for j, label in zip(sets, labels):
            cells = [cell(ens[i, j, k], ens_std[i, j, k] if ens_std is not None else None)
                     for k in range(len(cube.n_ensemble))]
            for k, c in enumerate(cells):
                columns[k].append(c)
            t.add_row(label, cube.sets[j], cells)
        if sets:
            avg = [average_cells(col) for col in columns]
            t.add_row("Average", "Average", [a for a, _ in avg], partial=[p for _, p in avg])
        t.notes.append("Model: %s. Cells: mean ± std over the runs of an N-sample ensemble "
                       "(one run: std 0)." % why)
        tables.append(t)
    return tables


def table4(cube, choice, all_bnns):
    pr = cube.var("pruned_accuracy")
    sets, labels = attack_rows(cube)
    t = Table(4, "pruning", "Accuracy after SNR pruning (%)")
    if pr is None or not cube.rates.size or not np.isfinite(pr).any():
        t.omitted = "the cube has no pruning results."
        return [t]
    chosen, why = pick_bnns(cube, "pruned_accuracy", choice, all_bnns)
    if not chosen:
        t.omitted = why or "no BNN has pruning results."
        return [t]
    tables = []
    for i in chosen:
        t = Table(4, "pruning", "Accuracy after SNR pruning (%), " + cube.models[i])
        if len(chosen) > 1:
            t.slug = "pruning_" + safe_name(cube.models[i])
        for r in cube.rates:
            pct = fmt_number(100 * r)
            t.columns.append(("%s%%" % pct, r"%s\%%" % pct, "rate=%s" % fmt_number(r), False))
        nr = len(cube.rates)
        for name, label in (("val", "clean validation"), ("test", "clean test")):
            j = cube.set_index(name)
            t.add_row(label, name, [cell(pr[i, j, k] if j is not None else None) for k in range(nr)])
        columns = [[] for _ in range(nr)]
        for j, label in zip(sets, labels):
            cells = [cell(pr[i, j, k]) for k in range(nr)]
            for k, c in enumerate(cells):
                columns[k].append(c)
            t.add_row(label, cube.sets[j], cells)
        if sets:
            avg = [average_cells(col) for col in columns]
            t.add_row("Average", "Average", [a for a, _ in avg], partial=[p for _, p in avg])
        t.notes.append("Model: %s. Columns: fraction of weights removed (lowest |mu|/sigma); "
                       "cells: accuracy of one ensemble of the pruned posterior; Average: over the attack sets."
                       % why)
        tables.append(t)
    return tables


# ---------------------------------------------------------------------------
# the paper's published values (Zhang & Chen 2020, as quoted in issue 16)

PAPER_RHOS = [-30, -10, -4, -3, -2.5, -2, -1.5]
PAPER_LAMBDAS = [0, 1e-4, 1e-2, 1]
PAPER = {
    "t1_bnn_test": [97.51, 97.46, 97.37, 97.12, 96.63, 96.07, 94.58],
    "t1_bnn_val": [97.51, 97.28, 97.43, 97.29, 96.73, 96.25, 94.93],
    "t1_l2_test": [97.57, 97.64, 97.94, 90.91],
    "t1_l2_val": [97.57, 97.62, 97.80, 91.44],
    "t2_bnn": [81.01, 80.62, 83.04, 83.22, 80.61, 78.19, 71.90],
    "t2_l2": [66.42, 64.27, 67.78, 61.99],
    "t3": {1: 83.21, 5: 87.18, 10: 87.86, 25: 88.14, 100: 88.28},
    "t4_test": {0.25: 97.35, 0.5: 97.49, 0.75: 95.59, 0.9: 76.62, 0.95: 53.19, 0.98: 31.98},
    "t4_avg": {0.25: 84.26, 0.5: 84.23, 0.75: 76.59, 0.9: 54.39, 0.95: 39.82, 0.98: 26.75},
}


def pct(x):
    return DASH if x is None or not math.isfinite(x) else "%.2f" % (100 * x)


def paper_comparison(cube, choice):
    """Markdown lines: ours next to the paper's, keyed by the paper's grid values."""
    bnns, bases = cube.model_columns()
    acc = cube.var("accuracy")
    sets = cube.attack_sets()

    def by_value(models, key, value):
        for i in models:
            if math.isclose(cube.model_value(i, key), value, rel_tol=1e-9, abs_tol=1e-12):
                return i
        return None

    def acc_of(i, name):
        j = cube.set_index(name)
        return None if i is None or j is None or acc is None else float(acc[i, j])

    def attack_avg(i):
        if i is None or acc is None or not sets:
            return None
        v = [float(acc[i, j]) for j in sets if math.isfinite(acc[i, j])]
        return float(np.mean(v)) if v else None

    out = ["## Against the paper (Zhang & Chen 2020)", "",
           "Ours / paper, accuracy in %%. T2-T4: averages over the attack sets the cube has "
           "(%d; the paper: 12)." % len(sets), ""]
    rb = [by_value(bnns, "rho_init", r) for r in PAPER_RHOS]
    lb = [by_value(bases, "l2_lambda", v) for v in PAPER_LAMBDAS]
    out.append("| | " + " | ".join("BNN %g" % r for r in PAPER_RHOS) + " | " +
               " | ".join("L2 %g" % v for v in PAPER_LAMBDAS) + " |")
    out.append("|---" * (1 + len(PAPER_RHOS) + len(PAPER_LAMBDAS)) + "|")
    for name, label in (("val", "T1 validation"), ("test", "T1 test")):
        cells = ["%s / %.2f" % (pct(acc_of(i, name)), p) for i, p in zip(rb, PAPER["t1_bnn_" + name])]
        cells += ["%s / %.2f" % (pct(acc_of(i, name)), p) for i, p in zip(lb, PAPER["t1_l2_" + name])]
        out.append("| %s | %s |" % (label, " | ".join(cells)))
    t2b = [attack_avg(i) for i in rb]
    t2l = [attack_avg(i) for i in lb]
    cells = ["%s / %.2f" % (pct(a), p) for a, p in zip(t2b, PAPER["t2_bnn"])]
    cells += ["%s / %.2f" % (pct(a), p) for a, p in zip(t2l, PAPER["t2_l2"])]
    out.append("| T2 average | %s |" % " | ".join(cells))
    out.append("")
    ours_b = [a for a in t2b if a is not None]
    ours_l = [a for a in t2l if a is not None]
    margin = 100 * (max(ours_b) - max(ours_l)) if ours_b and ours_l else None
    paper_margin = max(PAPER["t2_bnn"]) - max(PAPER["t2_l2"])
    best = PAPER_RHOS[int(np.argmax([a if a is not None else -1 for a in t2b]))] if ours_b else None
    out.append("- T2 margin, best BNN average minus best baseline average: %s points (paper %.1f)"
               % (DASH if margin is None else "%.1f" % margin, paper_margin))
    out.append("- T2 best rho_init: %s (paper -3)" % (DASH if best is None else "%g" % best))

    chosen, why = pick_bnns(cube, "ensemble_accuracy", choice, False)
    ens = cube.var("ensemble_accuracy")
    if chosen and ens is not None and sets:
        i = chosen[0]
        cells = []
        for k, n in enumerate(cube.n_ensemble):
            v = [float(ens[i, j, k]) for j in sets if math.isfinite(ens[i, j, k])]
            p = PAPER["t3"].get(int(n))
            cells.append("N=%s: %s / %s" % (fmt_number(n), pct(np.mean(v)) if v else DASH,
                                            DASH if p is None else "%.2f" % p))
        out.append("- T3 averages (%s): %s" % (cube.models[i], "; ".join(cells)))
    chosen, why = pick_bnns(cube, "pruned_accuracy", choice, False)
    pr = cube.var("pruned_accuracy")
    if chosen and pr is not None and cube.rates.size:
        i = chosen[0]
        jt = cube.set_index("test")
        for key, label in (("t4_test", "clean test"), ("t4_avg", "attack average")):
            cells = []
            for k, r in enumerate(cube.rates):
                if key == "t4_test":
                    v = float(pr[i, jt, k]) if jt is not None else None
                else:
                    vs = [float(pr[i, j, k]) for j in sets if math.isfinite(pr[i, j, k])]
                    v = float(np.mean(vs)) if vs else None
                p = PAPER[key].get(round(float(r), 4))
                cells.append("%s%%: %s / %s" % (fmt_number(100 * r), pct(v), DASH if p is None else "%.2f" % p))
            out.append("- T4 %s (%s): %s" % (label, cube.models[i], "; ".join(cells)))
    dist = cube.var("attack_mean_distortion")
    if dist is not None and sets:
        d = [float(dist[j]) for j in sets if math.isfinite(dist[j])]
        if d:
            out.append("- mean distortion of the sets: %.3f - %.3f (paper < 0.10)" % (min(d), max(d)))
    out.append("")
    return out


def safe_name(label):
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in label).strip("_")


# ---------------------------------------------------------------------------
# output

def row_partial(partial, k):
    return partial[k] if isinstance(partial, list) else bool(partial)


def to_markdown(t):
    head = "## Table %d: %s" % (t.number, t.title)
    if t.omitted:
        return "%s\n\n*Omitted: %s*\n" % (head, t.omitted)
    lines = [head, ""]
    lines.append("| | " + " | ".join(c[0] for c in t.columns) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in t.columns) + " |")
    any_partial = False
    for label, _, _, cells, partial in t.rows:
        texts = []
        for k, (c, col) in enumerate(zip(cells, t.columns)):
            p = row_partial(partial, k) and c[0] is not None
            any_partial |= p
            texts.append(fmt_cell(c, col[3], partial=p))
        lines.append("| %s | %s |" % (label, " | ".join(texts)))
    notes = list(t.notes)
    if t.missing():
        notes.append(MISSING_NOTE)
    if any_partial:
        notes.append(PARTIAL_AVG_NOTE)
    for n in notes:
        lines += ["", n]
    return "\n".join(lines) + "\n"


def to_latex(t, sweep):
    if t.omitted:
        return "%% Table %d (%s) omitted: %s\n" % (t.number, tex_escape(t.title), t.omitted)
    out = [r"% bnnsweep: Table " + str(t.number) + " from sweep " + sweep + r" (needs \usepackage{booktabs})",
           r"\begin{table}[t]", r"\centering", r"\small",
           r"\caption{%s}" % tex_escape(t.title),
           r"\begin{tabular}{l%s}" % ("r" * len(t.columns)), r"\toprule",
           " & " + " & ".join(c[1] for c in t.columns) + r" \\", r"\midrule"]
    any_partial = False
    for label, tex_label, csv_label, cells, partial in t.rows:
        if csv_label == "Average":
            out.append(r"\midrule")
        texts = []
        for k, (c, col) in enumerate(zip(cells, t.columns)):
            p = row_partial(partial, k) and c[0] is not None
            any_partial |= p
            texts.append(fmt_cell(c, col[3], tex=True, partial=p))
        out.append("%s & %s \\\\" % (tex_label, " & ".join(texts)))
    out += [r"\bottomrule", r"\end{tabular}"]
    notes = [tex_escape(n).replace("±", r"$\pm$") for n in t.notes]
    if t.missing():
        notes.append(r"--: no result in the cube (task not run, still pending, or failed).")
    if any_partial:
        notes.append(r"$^\dagger$: average over the attack sets with a result only.")
    if notes:
        out.append(r"\par\smallskip{\footnotesize " + r" \\ ".join(notes) + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def write_csv(t, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        header = ["row"]
        for col in t.columns:
            header.append(col[2])
            if col[3]:
                header.append(col[2] + " std")
        w.writerow(header)
        for _, _, csv_label, cells, _ in t.rows:
            row = [csv_label]
            for c, col in zip(cells, t.columns):
                row.append("" if c[0] is None else "%.4f" % (100 * c[0]))
                if col[3]:
                    row.append("" if c[1] is None else "%.4f" % (100 * c[1]))
            w.writerow(row)


def main(argv=None):
    ap = argparse.ArgumentParser(description="The four Zhang & Chen (2020) tables from a bnnsweep cube: "
                                 "Markdown on stdout, LaTeX and CSV files in --out.")
    ap.add_argument("cube", help="RUN_DIR/cube.h5")
    ap.add_argument("--out", help="output directory (default: the cube's directory/analysis)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--model", help="the BNN of tables 3 and 4: a model label or a rho_init value "
                   "(default: rho_init closest to -3)")
    g.add_argument("--all-bnns", action="store_true", help="tables 3 and 4 for every BNN in turn")
    ap.add_argument("--paper", action="store_true", help="also print T1 and the T2-T4 averages next to the "
                    "paper's values (paper.md)")
    args = ap.parse_args(argv)
    cube = open_cube(args.cube, "tables.py")
    if cube is None:
        return 1
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)

    tables = [table1(cube), table2(cube)] + table3(cube, args.model, args.all_bnns) + \
        table4(cube, args.model, args.all_bnns)
    n_tasks = len(cube.task_status)
    n_done = sum(1 for s in cube.task_status if s == "done")
    md = ["# %s" % (cube.sweep_name or os.path.basename(args.cube)), "",
          "Cube `%s`: %d of %d tasks done. Accuracies in %%." % (args.cube, n_done, n_tasks), ""]
    written = []
    for t in tables:
        md.append(to_markdown(t))
        base = os.path.join(out, "t%d_%s" % (t.number, t.slug))
        with open(base + ".tex", "w", encoding="utf-8") as f:
            f.write(to_latex(t, cube.sweep_name))
        written.append(base + ".tex")
        if not t.omitted:
            write_csv(t, base + ".csv")
            written.append(base + ".csv")
    if args.paper:
        paper = "\n".join(paper_comparison(cube, args.model))
        md.append(paper)
        with open(os.path.join(out, "paper.md"), "w", encoding="utf-8") as f:
            f.write(paper)
        written.append(os.path.join(out, "paper.md"))
    text = "\n".join(md)
    sys.stdout.write(text)
    with open(os.path.join(out, "tables.md"), "w", encoding="utf-8") as f:
        f.write(text)
    written.append(os.path.join(out, "tables.md"))
    print("\ntables.py: wrote %s into %s" % (" ".join(os.path.basename(p) for p in written), out),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
