#!/usr/bin/env python3
"""test_adversarial.py BNNSWEEP WORKDIR - adversarial detection (eval kind detection) and analysis/adversarial.py.

A tiny sweep with known answers (FC-20-10 nets, 600 training rows, 1 epoch,
the first 100 validation rows attacked):
1. transfer-matrix indexing: two deterministic sources a, b are also
   detectors; a deterministic source attacks with its own weights and its
   attack succeeds where its prediction at x_adv is wrong, so the cell
   (detector a, set made on a) has accuracy exactly 1 - success rate of that
   set, and likewise for b - a transposed or shifted matrix breaks it (the
   off-diagonal cells differ);
2. detection AUROC with a known answer: an eps = 0 FGSM set is its clean rows
   unchanged, so every detector and score gives AUROC exactly 0.5 and the same
   accuracy on the set as on the clean rows;
3. the clean counterpart is the attacked validation rows: each detector's
   clean accuracy equals its accuracy on `val` (robustness for a point
   estimate, a 4-sample ensemble for the BNN, the same stream and samples);
4. analysis/adversarial.py: rows = source x attack, columns = detectors with
   their score, BALD of a point estimate undefined under --score bald, and
   each CSV cell = 100 x the cube value its row and column name;
5. attack rows above the validation rows loaded: the attack fails naming them.
"""
import csv
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "analysis"))
from bnscube import Cube  # noqa: E402
from checks import check, failures, run as run_in  # noqa: E402


def run(cmd, expect_ok=True):
    return run_in(cmd, cwd=ROOT, expect_ok=expect_ok)


ADV = os.path.join(ROOT, "analysis", "adversarial.py")
SWEEP = """name: adv-test
seed: 3
data: {train_limit: 3000, test_limit: 100}
train: {max_epochs: 3, patience: 0, val_samples: 2, lr: 0.05, momentum: 0.9, batch_size: 50}
models:
  a:   {method: deterministic, arch: FC-20-10}
  b:   {method: deterministic, arch: FC-20-10, l2_lambda: 0.01}
  bbb: {method: bbb, arch: FC-20-10, rho_init: -3}
attacks:
  fgsm:  {sources: [a, b, bbb], attack: fgsm, eps: 0.05, source: sample, source_index: 0, clean: val, rows: 100}
  zero:  {sources: [a], attack: fgsm, eps: 0, clean: val, rows: 100}
evaluations:
  detection:  {models: [a, b, bbb], sets: [fgsm, zero], scores: [entropy, vr, bald], samples: 4}
  robustness: {models: [a, b], sets: [val], runs: 1}
  ensembles:  {models: bbb, sets: [val], ensemble: [4], runs: 4}
"""


def md_table(text, title):
    part = text.split(title, 1)[1].split("## ", 1)[0]
    rows = [ln for ln in part.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def main():
    exe, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    sweep = os.path.join(work, "adv.yaml")
    with open(sweep, "w") as f:
        f.write(SWEEP)
    rd = os.path.join(work, "run")
    run([exe, "run", sweep, "--out", rd, "--quiet"])
    c = Cube(os.path.join(rd, "cube.h5"))
    m = {g: c.models.index(g) for g in ("a", "b", "bbb")}
    s = {k: c.sets.index(k) for k in ("fgsm/a", "fgsm/b", "fgsm/bbb", "zero/a")}
    acc, clean = c.var("detection_accuracy"), c.var("detection_clean_accuracy")
    au, succ = c.var("detection_auroc"), c.var("attack_success_rate")

    # 1. the diagonal of the deterministic sources
    for g in ("a", "b"):
        i, j = m[g], s["fgsm/" + g]
        check(abs(acc[i, j] - (1 - succ[j])) < 1e-12,
              "cell (detector %s, set fgsm/%s): accuracy %.4f = 1 - success rate %.4f" % (g, g, acc[i, j], succ[j]))
    check(acc[m["a"], s["fgsm/b"]] != acc[m["a"], s["fgsm/a"]] or acc[m["b"], s["fgsm/a"]] != acc[m["b"], s["fgsm/b"]],
          "off-diagonal cells differ from the diagonal (the check can tell a transposed matrix)")
    check(0.1 < succ[s["fgsm/a"]] < 0.9 and 0.1 < succ[s["fgsm/b"]] < 0.9,
          "eps 0.05 FGSM fools the sources on part of the rows (%.0f%%, %.0f%%): the diagonal is not trivial"
          % (100 * succ[s["fgsm/a"]], 100 * succ[s["fgsm/b"]]))

    # 2. eps = 0: the set is its clean rows
    z = s["zero/a"]
    for g, i in m.items():
        scores = ["entropy", "vr"] + (["bald"] if g == "bbb" else [])
        vals = [au[i, z, c.scores.index(k)] for k in scores]
        check(all(v == 0.5 for v in vals), "eps 0, detector %s: AUROC of %s = %s (exactly 0.5)" % (g, scores, vals))
        check(acc[i, z] == clean[i, z], "eps 0, detector %s: accuracy on the set = on its clean rows" % g)
    check(np.isnan(au[m["a"], s["fgsm/a"], c.scores.index("bald")]), "BALD of a point estimate: not in the cube")

    # 3. the clean counterpart = the attacked validation rows
    val = c.sets.index("val")
    for g in ("a", "b"):
        want = c.var("accuracy")[m[g], val]
        check(all(clean[m[g], s[k]] == want for k in s if not np.isnan(clean[m[g], s[k]])),
              "detector %s: clean accuracy on every set = its accuracy on val (%.4f)" % (g, want))
    ens = c.var("ensemble_accuracy")[m["bbb"], val, list(c.n_ensemble).index(4)]
    check(clean[m["bbb"], s["fgsm/a"]] == ens, "BNN: clean accuracy = its 4-sample ensemble on val (%.4f)" % ens)

    # 4. the tables
    out = os.path.join(work, "table")
    md = run([sys.executable, ADV, os.path.join(rd, "cube.h5"), "--out", out]).stdout
    t1 = md_table(md, "## Table 1")
    check(t1[0][1:] == ["SGD (a) (entropy)", "SGD (b) (entropy)", "BBB (BALD)"],
          "Table 1 columns: detectors with their score: %s" % t1[0][1:])
    labels = [r[0] for r in t1[2:]]
    check(labels == ["SGD (a), FGSM", "SGD (a), zero", "SGD (b), FGSM", "BBB, FGSM"],
          "Table 1 rows: source x attack, sources in method order: %s" % labels)
    with open(os.path.join(out, "adversarial-auroc.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    agree = checked = 0
    for r in rows[1:]:
        j = c.sets.index(r[0])
        for col, text in zip(rows[0][1:], r[1:]):
            name, score = col.rsplit(" ", 1)
            group = "bbb" if name == "BBB" else name.split("(")[1].rstrip(")")
            agree += abs(float(text) - 100 * au[m[group], j, c.scores.index(score)]) < 1e-3
            checked += 1
    check(checked == 12 and agree == checked, "CSV: %d of %d cells hold the cube value they name" % (agree, checked))
    with open(os.path.join(out, "adversarial-accuracy.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    check(rows[1][0] == "clean" and len(rows) == 6, "accuracy CSV: a clean row and one per set")
    md2 = run([sys.executable, ADV, os.path.join(rd, "cube.h5"), "--out", out + "2", "--score", "bald"]).stdout
    t2 = md_table(md2, "## Table 1")
    check(all(r[1] == "-" and r[2] == "-" for r in t2[2:]) and all(r[3] not in ("-", "–") for r in t2[2:]),
          "--score bald: point estimates '-', the BNN a number")

    # 5. more attack rows than loaded
    rd3 = os.path.join(work, "toomany")
    p = run([exe, "run", sweep, "--out", rd3, "--quiet", "--set", "attacks.zero.rows=150",
             "--set", "evaluations={d: {kind: detection, models: a, sets: zero}}"], expect_ok=False)
    failed = [open(os.path.join(rd3, "tasks", n)).read() for n in os.listdir(os.path.join(rd3, "tasks"))
              if n.endswith(".failed")]
    check(p.returncode != 0 and len(failed) == 1 and "only 100 rows" in failed[0],
          "rows 150 > 100 loaded: the attack fails naming it (%s)" % (failed[0].strip()[:120] if failed else p.stderr[-200:]))
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
