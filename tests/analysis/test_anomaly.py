#!/usr/bin/env python3
"""test_anomaly.py BNNSWEEP WORKDIR - sweeps/anomaly-quick.yaml and analysis/anomaly.py end to end.

1. Runs sweeps/anomaly-quick.yaml (one process; notMNIST / Omniglot from
   ../shared/data when present, else left out of the ood list) and checks that
   every OOD task scored exactly 200 MNIST test rows against exactly 200 OOD
   rows (the balanced `rows` setting), then the table of analysis/anomaly.py:
   15 model x metric columns, two rows (VR, BALD) per OOD set in the paper's
   order, the CIFAR-10 grayscale row saying it is not available offline, BALD
   of the point estimate (SGD) "-" in Markdown, LaTeX and CSV, every other
   cell a percentage, and each CSV cell = 100 x the cube's value it names.
2. The same sweep with data.cifar10 = a synthetic test_batch.bin (250
   records): the CIFAR-10 grayscale rows carry numbers.
3. rows above data.test_limit: the OOD tasks fail with a message naming it.
"""
import csv
import os
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "analysis"))
from bnscube import Cube  # noqa: E402
from checks import check, failures, run as run_in  # noqa: E402


def run(cmd, expect_ok=True):
    return run_in(cmd, cwd=ROOT, expect_ok=expect_ok)


ANOMALY = os.path.join(ROOT, "analysis", "anomaly.py")
SWEEP = os.path.join(ROOT, "sweeps", "anomaly-quick.yaml")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
MODELS = ["SGD", "MC dropout", "SGLD", "BBB", "LRT"]


def sets(*pairs):
    return [a for p in pairs for a in ("--set", p)]


def file_sets():
    """the OOD sets of the quick sweep available here, and --set arguments for their paths"""
    args, names = [], ["gaussian", "uniform", "fashion"]
    nm, om = os.path.join(SHARED, "notmnist"), os.path.join(SHARED, "omniglot", "images_background_small1.zip")
    if os.path.exists(nm) and os.path.exists(om):
        args = sets("data.notmnist=" + nm, "data.omniglot=" + om)
        names = ["notmnist", "omniglot"] + names
    else:
        print("note: %s absent: notMNIST and Omniglot left out" % SHARED)
    return names, args


def md_table(text):
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def is_pct(s):
    try:
        return 0.0 <= float(s) <= 100.0
    except ValueError:
        return False


def ood_eval_files(run_dir):
    out = []
    for name in sorted(os.listdir(os.path.join(run_dir, "tasks"))):
        if name.startswith("eval-") and name.endswith(".h5"):
            with h5py.File(os.path.join(run_dir, "tasks", name), "r") as f:
                kind = f.attrs["kind"]
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if kind == "ood":
                    out.append({k: f.attrs[k] for k in ("n_rows", "ood_rows", "ood_set")})
    return out


def write_cifar(path, n):
    rng = np.random.default_rng(3)
    rec = np.zeros((n, 3073), dtype=np.uint8)
    rec[:, 0] = np.arange(n) % 10
    rec[:, 1:] = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(rec.tobytes())


def main():
    exe, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    names, path_args = file_sets()
    ood_list = "evaluations.ood.ood=[%s]" % ", ".join(names)

    # 1. the quick sweep and its table
    rd = os.path.join(work, "quick")
    run([exe, "run", SWEEP, "--out", rd, "--quiet"] + path_args + sets(ood_list))
    evals = ood_eval_files(rd)
    check(len(evals) == 5 * len(names), "%d OOD tasks (5 models x %d sets)" % (len(evals), len(names)))
    check(all(e["n_rows"] == 200 and e["ood_rows"] == 200 for e in evals),
          "every OOD task: 200 MNIST + 200 OOD rows (balanced)")
    out = os.path.join(work, "table")
    md = run([sys.executable, ANOMALY, os.path.join(rd, "cube.h5"), "--out", out]).stdout
    grid = md_table(md)
    head, body = grid[0], grid[2:]
    want_cols = ["%s %s" % (m, k) for m in MODELS for k in ("AUROC", "PR+", "PR-")]
    check(head[1:] == want_cols, "columns: model x (AUROC, PR+, PR-): %s" % head[1:4])
    label = {"notmnist": "notMNIST", "omniglot": "Omniglot", "gaussian": "Gaussian", "uniform": "Uniform",
             "fashion": "Fashion-MNIST"}
    order = [k for k in ("notmnist", "omniglot", "cifar10", "gaussian", "uniform", "fashion") if k in names + ["cifar10"]]
    want_rows = []
    for k in order:
        want_rows += ["CIFAR-10 grayscale: not available offline"] if k == "cifar10" else \
            ["%s, VR" % label[k], "%s, BALD" % label[k]]
    got_rows = [r[0] for r in body]
    check(len(got_rows) == len(want_rows) and all(g.startswith(w) for g, w in zip(got_rows, want_rows)),
          "rows: OOD set x score in the paper's order, CIFAR-10 not available offline: %s" % got_rows)
    for r in body:
        sgd, others = r[1:4], r[4:]
        if "not available offline" in r[0]:
            continue
        if r[0].endswith("BALD"):
            check(sgd == ["-", "-", "-"], "%s: SGD cells are '-'" % r[0])
        else:
            check(all(is_pct(c) for c in sgd), "%s: SGD cells are percentages" % r[0])
        check(all(is_pct(c) for c in others), "%s: every Bayesian model's cell is a percentage" % r[0])
    tex = open(os.path.join(out, "anomaly.tex"), encoding="utf-8").read()
    tex_rows = [ln for ln in tex.splitlines() if ln.endswith("\\\\") and "&" in ln][1:]
    check(len(tex_rows) == len(body), "LaTeX: %d rows" % len(tex_rows))
    check(all(ln.split(" & ")[1:4] == ["-", "-", "-"] for ln in tex_rows if "BALD" in ln.split(" & ")[0]),
          "LaTeX: BALD of SGD is '-'")
    with open(os.path.join(out, "anomaly.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    check(len(rows) == 1 + len(body) and len(rows[0]) == 16, "CSV: header + %d rows, 16 columns" % len(body))
    cube = Cube(os.path.join(rd, "cube.h5"))
    var = {"AUROC": "auroc", "AUPR-in": "aupr_in", "AUPR-out": "aupr_out"}
    method_of = {"SGD": "deterministic", "MC dropout": "dropout", "SGLD": "sgld", "BBB": "bbb", "LRT": "lrt"}
    by_label = {v: k for k, v in label.items()}
    agree = checked = 0
    for r in rows[1:]:
        if "not available" in r[0]:
            continue
        set_label, score = r[0].rsplit(" ", 1)
        o, s = cube.oods.index(by_label[set_label]), cube.scores.index(score.lower())
        for col, text in zip(rows[0][1:], r[1:]):
            model, metric = col.rsplit(" ", 1)
            i = cube.model_methods.index(method_of[model])
            if model == "SGD" and score == "BALD":
                agree += text == "-"
            else:
                agree += abs(float(text) - 100 * cube.var(var[metric])[i, o, s]) < 1e-3
            checked += 1
    check(agree == checked, "CSV: %d of %d cells hold the cube value their row and column name" % (agree, checked))

    # 2. CIFAR-10 grayscale from a synthetic batch file
    cifar = os.path.join(work, "test_batch.bin")
    write_cifar(cifar, 250)
    rd2 = os.path.join(work, "cifar")
    run([exe, "run", SWEEP, "--out", rd2, "--quiet"] +
        sets("data.cifar10=" + cifar, "evaluations.ood.ood=[cifar10]", "evaluations.ood.models=[sgd, bbb]"))
    md2 = run([sys.executable, ANOMALY, os.path.join(rd2, "cube.h5"), "--out", os.path.join(work, "t2")]).stdout
    body2 = md_table(md2)[2:]
    check([r[0] for r in body2] == ["CIFAR-10 grayscale, VR", "CIFAR-10 grayscale, BALD"],
          "CIFAR-10 grayscale rows from the batch file: %s" % [r[0] for r in body2])
    check(all(is_pct(c) for c in body2[0][1:]) and all(is_pct(c) for c in body2[1][4:]),
          "CIFAR-10 grayscale cells are percentages")

    # 3. more rows than the in-distribution set has: a clear failure
    rd3 = os.path.join(work, "toomany")
    p = run([exe, "run", SWEEP, "--out", rd3, "--quiet"] +
            sets("evaluations.ood.ood=[gaussian]", "evaluations.ood.models=[sgd]", "evaluations.ood.rows=300"),
            expect_ok=False)
    failed = [open(os.path.join(rd3, "tasks", n)).read() for n in os.listdir(os.path.join(rd3, "tasks"))
              if n.endswith(".failed")]
    check(p.returncode != 0 and len(failed) == 1 and "only 200 rows" in failed[0],
          "rows 300 > test_limit 200: the OOD task fails naming it (%s)" % (failed[0].strip()[:120] if failed else p.stderr[-200:]))
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
