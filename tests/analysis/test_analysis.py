#!/usr/bin/env python3
"""test_analysis.py BNNSWEEP WORKDIR - analysis/tables.py and analysis/figures.py end to end.

Makes a real cube with `BNNSWEEP run sweeps/tiny.yaml` (one process, no MPI),
then two partial run directories merged with `BNNSWEEP merge`:
  partial   every pruning result and one robustness result deleted: table 4
            is replaced by its note, missing cells read "–" with the footnote,
            fig3 is skipped
  noattack  the attack set and everything evaluated on it deleted: tables 2
            and 3 are replaced by notes, fig2 and fig4 are skipped
and checks, for each cube, that tables.py prints the four table headings (or
the omission notes), writes .tex for every table and a CSV that parses for
every table it shows, and that figures.py writes valid PNGs for the figures
with data. Run with the Python that has h5py, numpy and matplotlib.
"""
import csv
import os
import shutil
import subprocess
import sys

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
from checks import check, failures, valid_png, run as run_in  # noqa: E402


def run(cmd, ok_codes=(0,)):
    return run_in(cmd, ok_codes=ok_codes).stdout

TABLES = os.path.join(ROOT, "analysis", "tables.py")
FIGURES = os.path.join(ROOT, "analysis", "figures.py")
FIGS = ["fig1_accuracy_vs_rho", "fig2_ensemble_vs_n", "fig3_pruning_vs_rate", "fig4_distortion"]


def eval_kind(path):
    with h5py.File(path, "r") as f:
        k = f.attrs.get("kind", b"")
        s = f.attrs.get("set", b"")
    return (k.decode() if isinstance(k, bytes) else str(k)), (s.decode() if isinstance(s, bytes) else str(s))


def analyse(name, cube, omitted, skipped, expect_dash):
    out = os.path.join(os.path.dirname(cube), "analysis")
    md = run([sys.executable, TABLES, cube])
    for n in range(1, 5):
        check("## Table %d:" % n in md, "%s: Markdown has the Table %d heading" % (name, n))
    for n in range(1, 5):
        block = md.split("## Table %d:" % n, 1)[1].split("## Table", 1)[0]
        if n in omitted:
            check("*Omitted:" in block, "%s: table %d replaced by its note" % (name, n))
        else:
            check("| --- |" in block and "*Omitted:" not in block, "%s: table %d shown" % (name, n))
    check(("–" in md and "no result in the cube" in md) == expect_dash,
          "%s: missing cells %s with the footnote" % (name, "shown as –" if expect_dash else "absent"))
    files = os.listdir(out)
    for n in range(1, 5):
        tex = [f for f in files if f.startswith("t%d_" % n) and f.endswith(".tex")]
        csvs = [f for f in files if f.startswith("t%d_" % n) and f.endswith(".csv")]
        check(len(tex) == 1, "%s: t%d .tex written" % (name, n))
        if n in omitted:
            check(not csvs, "%s: no t%d .csv for an omitted table" % (name, n))
            continue
        check(len(csvs) == 1, "%s: t%d .csv written" % (name, n))
        with open(os.path.join(out, tex[0]), encoding="utf-8") as f:
            t = f.read()
        check(r"\begin{tabular}" in t and r"\end{table}" in t, "%s: t%d .tex is a table" % (name, n))
        with open(os.path.join(out, csvs[0]), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        ok = len(rows) >= 2 and rows[0][0] == "row" and all(len(r) == len(rows[0]) for r in rows)
        for r in rows[1:]:
            for v in r[1:]:
                try:
                    if v:
                        float(v)
                except ValueError:
                    ok = False
        check(ok, "%s: t%d .csv parses (%d rows, numbers or empty cells)" % (name, n, len(rows) - 1))
    figs_out = run([sys.executable, FIGURES, cube])
    for fig in FIGS:
        path = os.path.join(out, fig + ".png")
        if fig in skipped:
            check("skipped " + fig in figs_out and not os.path.exists(path), "%s: %s skipped" % (name, fig))
        else:
            check(valid_png(path, 2000), "%s: %s is a PNG" % (name, fig))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, work = sys.argv[1], os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    full = os.path.join(work, "full")
    run([binary, "run", os.path.join(ROOT, "sweeps", "tiny.yaml"), "--out", full, "--quiet"])
    analyse("full", os.path.join(full, "cube.h5"), omitted=(), skipped=(), expect_dash=True)  # tiny: no val row

    partial = os.path.join(work, "partial")
    shutil.copytree(full, partial, ignore=shutil.ignore_patterns("analysis"))
    tasks = os.path.join(partial, "tasks")
    dropped_robustness = False
    for f in sorted(os.listdir(tasks)):
        if not f.startswith("eval-"):
            continue
        kind, _ = eval_kind(os.path.join(tasks, f))
        if kind == "pruning" or (kind == "robustness" and not dropped_robustness):
            dropped_robustness |= kind == "robustness"
            os.remove(os.path.join(tasks, f))
    os.remove(os.path.join(partial, "cube.h5"))
    run([binary, "merge", partial], ok_codes=(0, 1))   # 1: the cube is partial
    check(os.path.exists(os.path.join(partial, "cube.h5")), "partial: merge wrote the cube")
    analyse("partial", os.path.join(partial, "cube.h5"), omitted=(4,), skipped=("fig3_pruning_vs_rate",),
            expect_dash=True)

    noattack = os.path.join(work, "noattack")
    shutil.copytree(full, noattack, ignore=shutil.ignore_patterns("analysis"))
    tasks = os.path.join(noattack, "tasks")
    for f in sorted(os.listdir(tasks)):
        path = os.path.join(tasks, f)
        if f.startswith("attack-") or (f.startswith("eval-") and eval_kind(path)[1] not in ("test", "val", "")
                                       and eval_kind(path)[0] != "ood"):
            os.remove(path)
    os.remove(os.path.join(noattack, "cube.h5"))
    run([binary, "merge", noattack], ok_codes=(0, 1))
    check(os.path.exists(os.path.join(noattack, "cube.h5")), "noattack: merge wrote the cube")
    analyse("noattack", os.path.join(noattack, "cube.h5"), omitted=(2, 3),
            skipped=("fig2_ensemble_vs_n", "fig4_distortion"), expect_dash=True)

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
