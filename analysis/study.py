#!/usr/bin/env python3
"""study.py - what each open choice of the Zhang & Chen reproduction does, from a cube.

usage: study.py CUBE [--out DIR] [--group BNN] [--baseline GROUP]

Reads only CUBE (RUN_DIR/cube.h5 of sweeps/zhang2020-study.yaml, whose BNN group
puts the paper's open readings on grid axes: reduction, init_rule, kl_weight,
clip_norm, rho_init; docs/zhang2020-reproduction.md). For every BNN model:
T1 = single-sample test accuracy, T2(m) = its mean single-sample accuracy over
the attack sets made with the min-norm stopping margin m (the attack axis).

Prints, as Markdown on stdout, and writes study.md, study.tex and study.csv into
DIR (default: CUBE's directory/analysis):
  Table 1  each axis value's effect: T1 and T2 averaged over every other axis
           (the marginal mean), and the best model with that value; where the
           cube has them, also T3 gain = the largest ensemble's accuracy minus
           the 1-sample ensemble's, averaged over the attack sets, and T4 r =
           the clean test accuracy after SNR pruning at rate r
  Table 2  the configurations, best T1 first
  Table 3  per margin: the best BNN's T2, the best baseline's, and the margin
           between them (the paper's headline: 15.4 points)

A model without results (task pending or failed) is left out of the means and
counted in the notes. Needs h5py and numpy only. Exit status: 0 written,
1 unreadable cube or no BNN results, 2 usage.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bnscube import fmt_number, open_cube, parse_model_label, parse_set_label  # noqa: E402
from tables import Table, cell, to_latex, to_markdown  # noqa: E402


def extra_scores(cube, i):
    """[T3 gain, T4 per rate] of model i (extra_columns' order), NaN where missing."""
    out = []
    ens = cube.var("ensemble_accuracy")
    if ens is not None and cube.n_ensemble.size >= 2:
        lo, hi = int(np.argmin(cube.n_ensemble)), int(np.argmax(cube.n_ensemble))
        gains = [ens[i, j, hi] - ens[i, j, lo] for j in cube.attack_sets()]
        out.append(float(np.mean(gains)) if gains and all(np.isfinite(gains)) else math.nan)
    pr, test = cube.var("pruned_accuracy"), cube.set_index("test")
    if pr is not None and test is not None:
        out += [float(pr[i, test, k]) for k in range(len(cube.rates))]
    return out


def extra_columns(cube):
    """The headers of extra_scores' values: (markdown, tex, csv)."""
    cols = []
    if cube.var("ensemble_accuracy") is not None and cube.n_ensemble.size >= 2:
        n = "%g-%g" % (max(cube.n_ensemble), min(cube.n_ensemble))
        cols.append(("T3 gain N=%s" % n, "T3 gain $N=%s$" % n, "t3_gain"))
    if cube.var("pruned_accuracy") is not None and cube.set_index("test") is not None:
        cols += [("T4 %g%%" % (100 * r), "T4 %g\\%%" % (100 * r), "t4_rate_%g" % r) for r in cube.rates]
    return cols


def model_scores(cube, i, margins, sets_by_margin):
    """(T1, {margin: T2}) of model i, NaN where missing."""
    acc = cube.var("accuracy")
    test = cube.set_index("test")
    t1 = float(acc[i, test]) if acc is not None and test is not None else math.nan
    t2 = {}
    for m in margins:
        vals = [acc[i, j] for j in sets_by_margin[m]]
        t2[m] = float(np.mean(vals)) if vals and all(np.isfinite(vals)) else math.nan
    return t1, t2


def attack_margins(cube):
    """{margin text: [set indices]} over the attack sets ('0' when a set has no margin setting)."""
    out = {}
    for j in cube.attack_sets():
        _, params, _ = parse_set_label(cube.sets[j])
        out.setdefault(params.get("margin", "0"), []).append(j)
    return dict(sorted(out.items(), key=lambda kv: float(kv[0])))


def build(cube, group, baseline):
    sets_by_margin = attack_margins(cube)
    margins = list(sets_by_margin)
    rows = []   # (params, T1, {margin: T2}, [extra_scores])
    missing = 0
    for i, label in enumerate(cube.models):
        g, params = parse_model_label(label)
        if g != group:
            continue
        t1, t2 = model_scores(cube, i, margins, sets_by_margin)
        if not math.isfinite(t1):
            missing += 1
            continue
        rows.append((params, t1, t2, extra_scores(cube, i)))
    base = []
    for i, label in enumerate(cube.models):
        g, params = parse_model_label(label)
        if g == baseline:
            t1, t2 = model_scores(cube, i, margins, sets_by_margin)
            base.append((params, t1, t2, []))
    axes = [k for k in (rows[0][0] if rows else {}) if len({r[0].get(k) for r in rows}) > 1]
    return rows, base, axes, margins, missing


def params_text(params, axes):
    return ", ".join("%s=%s" % (k, fmt_number(params[k])) for k in axes)


def mean_finite(values):
    v = [x for x in values if math.isfinite(x)]
    return cell(float(np.mean(v)) if v else None)


def effect_table(rows, axes, margins, extra):
    t = Table(1, "study-effects", "Effect of each open choice: marginal means over the other axes, in %")
    t.columns = [("T1 test", "T1 test", "t1_mean", False)]
    t.columns += [("T2 m=%s" % m, "T2 $m=%s$" % m, "t2_margin_%s_mean" % m, False) for m in margins]
    t.columns += [("best T1", "best T1", "t1_best", False)]
    t.columns += [(md, tex, csv_name + "_mean", False) for md, tex, csv_name in extra]
    for k in axes:
        values = sorted({r[0][k] for r in rows}, key=lambda v: (math.isnan(_num(v)), _num(v), v))
        for v in values:
            sel = [r for r in rows if r[0][k] == v]
            cells = [cell(float(np.mean([r[1] for r in sel])))]
            cells += [mean_finite([r[2][m] for r in sel]) for m in margins]
            cells.append(cell(max(r[1] for r in sel)))
            cells += [mean_finite([r[3][c] for r in sel]) for c in range(len(extra))]
            t.add_row("%s = %s (%d)" % (k, fmt_number(v), len(sel)), "%s=%s" % (k, v), cells)
    return t


def _num(v):
    try:
        return float(v)
    except ValueError:
        return math.nan


def config_table(rows, axes, margins, extra):
    t = Table(2, "study-configs", "Every BNN configuration, best single-sample test accuracy first, in %")
    t.columns = [("T1 test", "T1 test", "t1", False)]
    t.columns += [("T2 m=%s" % m, "T2 $m=%s$" % m, "t2_margin_%s" % m, False) for m in margins]
    t.columns += [(md, tex, csv_name, False) for md, tex, csv_name in extra]
    for params, t1, t2, more in sorted(rows, key=lambda r: -r[1]):
        t.add_row(params_text(params, axes), params_text(params, axes),
                  [cell(t1)] + [cell(t2[m]) for m in margins] + [cell(v) for v in more])
    return t


def margin_table(rows, base, margins):
    t = Table(3, "study-margin", "Best BNN over best baseline on the attack sets, per stopping margin, in %")
    t.columns = [("best BNN T2", "best BNN T2", "bnn_t2_best", False),
                 ("best baseline T2", "best baseline T2", "baseline_t2_best", False),
                 ("margin (points)", "margin (points)", "difference", False)]
    for m in margins:
        b = [r[2][m] for r in rows if math.isfinite(r[2][m])]
        l2 = [r[2][m] for r in base if math.isfinite(r[2][m])]
        best_b = max(b) if b else math.nan
        best_l = max(l2) if l2 else math.nan
        t.add_row("margin %s" % m, "margin=%s" % m, [cell(best_b), cell(best_l), cell(best_b - best_l)])
    return t


def write_csv_rows(tables, path):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["table", "row", "column", "value"])
        for t in tables:
            for label, _, csv_label, cells, _ in t.rows:
                for (_, _, col, _), c in zip(t.columns, cells):
                    w.writerow([t.slug, csv_label, col, "" if c[0] is None else "%.4f" % (100 * c[0])])
    os.replace(tmp, path)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Effect of each open choice of the Zhang & Chen reproduction "
                                 "(sweeps/zhang2020-study.yaml) from a bnnsweep cube.")
    ap.add_argument("cube", help="RUN_DIR/cube.h5")
    ap.add_argument("--out", help="output directory (default: the cube's directory/analysis)")
    ap.add_argument("--group", default="bnn", help="the BNN group whose grid axes are the choices (default bnn)")
    ap.add_argument("--baseline", default="baseline", help="the baseline group (default baseline)")
    args = ap.parse_args(argv)
    cube = open_cube(args.cube, "study.py")
    if cube is None:
        return 1
    rows, base, axes, margins, missing = build(cube, args.group, args.baseline)
    if not rows:
        print("study.py: %s: no model of group '%s' has a test accuracy" % (args.cube, args.group), file=sys.stderr)
        return 1
    extra = extra_columns(cube)
    tables = [effect_table(rows, axes, margins, extra), config_table(rows, axes, margins, extra),
              margin_table(rows, base, margins)]
    tables[0].notes.append("(n): the number of configurations with that value, averaged over. T2 m: the mean over "
                           "the attack sets made with min-norm stopping margin m.")
    if extra:
        tables[0].notes.append("T3 gain: the largest ensemble's accuracy minus the 1-sample ensemble's, in points, "
                               "averaged over every attack set (all margins). T4 r: clean test accuracy after "
                               "removing the fraction r of the weights with the lowest |mu|/sigma.")
    if missing:
        tables[0].notes.append("%d models of group %s have no results yet (pending or failed): left out." %
                               (missing, args.group))
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cube)), "analysis")
    os.makedirs(out, exist_ok=True)
    md = "\n".join(to_markdown(t) for t in tables)
    sys.stdout.write(md)
    write_text(os.path.join(out, "study.md"), md)
    write_text(os.path.join(out, "study.tex"), "\n".join(to_latex(t, cube.sweep_name) for t in tables))
    write_csv_rows(tables, os.path.join(out, "study.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
