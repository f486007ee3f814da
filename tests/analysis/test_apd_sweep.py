#!/usr/bin/env python3
"""test_apd_sweep.py BNNSWEEP WORKDIR - sweeps/apd.yaml at CI size and analysis/apd_tables.py.

Runs sweeps/apd.yaml itself with --set overrides that shrink it (500 training
rows, 200 test rows, FC-8-10 and FC-6-6-10 for fcNN1 and fcNN2, a few SGLD
steps, GAN iterations and EM steps, K in {1, 5}; notMNIST / Omniglot from
../shared/data when present) and checks: every task done; each apd / mog
model distils the sgld model of its arch (its teacher setting names that
task); the accuracy table has one row per model and arch (9 x 2) and every
Bayesian cell is a percentage, SGD's BALD cells "–"; the storage table's
parameter counts are the closed forms (SGLD: samples x W; MoG-K: K (2W + 1);
APD: generator + 2W) and its CSV matches the cube; apd_gan.png is written.
"""
import csv
import os
import shutil
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


TABLES = os.path.join(ROOT, "analysis", "apd_tables.py")
SWEEP = os.path.join(ROOT, "sweeps", "apd.yaml")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
GROUPS = ["sgd", "mcdrop", "sgld", "apd", "apd_online", "mog"]
ARCHS = {"FC-8-10": 784 * 8 + 8 + 8 * 10 + 10, "FC-6-6-10": 784 * 6 + 6 + 6 * 6 + 6 + 6 * 10 + 10}


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def overrides():
    out = ["data.train_limit=500", "data.test_limit=200", "train.max_epochs=1", "train.val_samples=2"]
    out += ["models.%s.arch=[%s]" % (g, ", ".join(ARCHS)) for g in GROUPS]
    out += ["models.sgld.max_epochs=2", "models.sgld.batch_size=20", "models.sgld.sgld_burn_in=5",
            "models.sgld.sgld_thin=2", "models.sgld.sgld_samples=10"]
    small_gan = ["apd_batch=8", "apd_hidden=8", "apd_hidden_layers=1", "apd_critic_steps=2", "teacher_samples=10"]
    out += ["models.apd.%s" % s for s in small_gan + ["batch_size=100", "max_epochs=2"]]
    out += ["models.apd_online.%s" % s for s in small_gan + ["batch_size=20", "max_epochs=2", "apd_sgld_burn_in=5",
                                                            "apd_sgld_thin=2"]]
    out += ["models.mog.teacher_samples=10", "models.mog.mog_iterations=3", "models.mog.mog_components=[1, 5]"]
    out += ["evaluations.robustness.runs=2", "evaluations.ensembles.ensemble=[1, 10]", "evaluations.ensembles.runs=10",
            "evaluations.ood.samples=5", "evaluations.ood.rows=100"]
    names = ["gaussian", "uniform"]
    nm, om = os.path.join(SHARED, "notmnist"), os.path.join(SHARED, "omniglot", "images_background_small1.zip")
    if os.path.exists(nm) and os.path.exists(om):
        out += ["data.notmnist=" + nm, "data.omniglot=" + om]
        names = ["notmnist", "omniglot"] + names
    else:
        print("note: %s absent: notMNIST and Omniglot left out" % SHARED)
    out.append("evaluations.ood.ood=[%s]" % ", ".join(names))
    return [a for o in out for a in ("--set", o)], names


def md_rows(md, title):
    """the body rows of the Markdown table under `title`"""
    block = md.split(title, 1)[1].split("## ", 1)[0]
    rows = [ln for ln in block.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]


def is_pct(s):
    try:
        return 0.0 <= float(s) <= 100.0
    except ValueError:
        return False


def main():
    exe, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    args, oods = overrides()
    rd = os.path.join(work, "run")
    run([exe, "run", SWEEP, "--out", rd, "--quiet"] + args)
    cube = Cube(os.path.join(rd, "cube.h5"))
    check(all(s == "done" for s in cube.task_status), "every task done")

    # each student's teacher: the sgld task of its arch
    files = {}
    for name in os.listdir(os.path.join(rd, "tasks")):
        if name.startswith("train-") and name.endswith(".h5"):
            with h5py.File(os.path.join(rd, "tasks", name), "r") as f:
                cfg = f["config"].attrs
                files[name[6:-3]] = {k: text(cfg[k]) for k in ("method", "arch", "teacher") if k in cfg}
    students = [v for v in files.values() if v["method"] in ("apd", "mog") and v.get("teacher")]
    check(len(students) == (3 + 2) * 2, "%d offline students (3 apd + 2 mog per arch)" % len(students))
    check(all(s["teacher"].startswith("task:") and files[s["teacher"][5:]]["method"] == "sgld" and
              files[s["teacher"][5:]]["arch"] == s["arch"] for s in students),
          "each distils the sgld model of its arch")

    out = os.path.join(work, "analysis")
    md = run([sys.executable, TABLES, rd, "--out", out]).stdout
    acc = md_rows(md, "Clean test accuracy")
    check(len(acc) == 9 * 2, "accuracy table: 9 models x 2 archs (%d rows)" % len(acc))
    for r in acc:
        n_ood = len(oods)
        if r[0].startswith("SGD"):
            check(is_pct(r[1].split(" ")[0]) and r[-n_ood:] == ["–"] * n_ood, "%s: accuracy, BALD '–'" % r[0])
        else:
            check(all(is_pct(c.split(" ")[0]) for c in r[1:]), "%s: every cell a percentage" % r[0])
    storage = md_rows(md, "Storage")
    check(len(storage) == 7 * 2, "storage table: sgld, 3 apd, online apd, 2 mog x 2 archs (%d rows)" % len(storage))
    for r in storage:
        arch = r[0].split(", ")[1].split(" ")[0]
        w, count = ARCHS[arch], int(r[1].replace(",", ""))
        if r[0].startswith("SGLD"):
            want = 10 * w
        elif r[0].startswith("MoG-"):
            k = int(r[0][4:].split(",")[0])
            want = k * (2 * w + 1)
        else:  # APD: a generator 20-8-W and the standardisation
            want = (20 * 8 + 8 + 8 * w + w) + 2 * w
            check(("generator %s" % format(20 * 8 + 8 + 8 * w + w, ",")) in r[0], "%s: generator size" % r[0])
        check(count == want, "%s: %d stored parameters (closed form %d)" % (r[0], count, want))
    # the CSV: each accuracy cell is 100 x the cube's value
    ens = cube.var("ensemble_accuracy")
    j, test = list(cube.n_ensemble).index(10), cube.set_index("test")
    with open(os.path.join(out, "apd_storage.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        i = cube.models.index(row["row"])
        check(abs(float(row["ensemble10_acc"]) - 100 * ens[i, test, j]) < 1e-3, "%s: CSV = cube" % row["row"])
    check(os.path.getsize(os.path.join(out, "apd_gan.png")) > 10000, "apd_gan.png written")
    if failures:
        raise SystemExit("%d checks failed" % len(failures))
    print("all checks passed")


if __name__ == "__main__":
    main()
