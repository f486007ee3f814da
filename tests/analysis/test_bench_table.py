#!/usr/bin/env python3
"""test_bench_table.py BNNSWEEP WORK_DIR - `bnnsweep bench --toy` and analysis/bench_table.py.

No timing asserts (the machine is shared): the structure and the arithmetic.
Runs `bench --toy --samples 1,3 --epochs 2 --json` (the regression toy
through the real training loop) and checks the JSON: one row per way (BBB
sequential, BBB vectorized, LRT) and S plus the deterministic net, each a
positive finite time; then bench_table.py on it: the Markdown has Semko's
shape (a row per S, the three ways as columns) and its cells and the
sequential / vectorized ratio are the JSON's numbers, the CSV holds every
row. A known answer for the per-sample slope: a hand-written JSON whose
times are 2 + 3 S ms gives "3.00 (+ 2.00)". Bad input: a JSON without rows
exits 1, and `bench --epochs 0` exits 2.
"""
import csv
import json
import math
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from checks import md_rows  # noqa: E402
from test_semko import ROOT, check, failures, run  # noqa: E402

TABLE = os.path.join(ROOT, "analysis", "bench_table.py")
WAYS = ("BBB sequential", "BBB vectorized", "LRT")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    exe, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    path = os.path.join(work, "bench.json")
    print(run([exe, "bench", "--toy", "--samples", "1,3", "--epochs", "2", "--json", path]))
    bench = json.load(open(path))
    check(bench["benchmark"] == "toy1d" and bench["epoch_rows"] == 1000 and bench["batch"] == 100,
          "the JSON names the toy: 1000 rows, batch 100")
    got = {(r["mode"], r["samples"]): r for r in bench["rows"]}
    want = {(w, s) for w in WAYS for s in (1, 3)} | {("deterministic", 1)}
    check(set(got) == want, "one row per way and S, and the deterministic net: %s" % sorted(got))
    check(all(r["arch"] == "FC-100-100-1" for r in bench["rows"]), "the toy's network FC-100-100-1")
    check(all(math.isfinite(r["epoch_s"]) and r["epoch_s"] > 0 and r["gemm_bound_s"] > 0 for r in bench["rows"]),
          "every time positive and finite")

    out = os.path.join(work, "table")
    printed = run([sys.executable, TABLE, path, "--out", out])
    md = open(os.path.join(out, "bench_table.md")).read()
    check(md in printed, "bench_table.md is what it prints")
    rows = md_rows(md)
    check(rows.get("S") == list(WAYS) + ["sequential / vectorized"], "columns: S, the three ways, the ratio")
    for s in (1, 3):
        cells = rows.get(str(s))
        ok = cells is not None and all(abs(float(cells[k]) - 1e3 * got[(w, s)]["epoch_s"]) <= 0.006
                                       for k, w in enumerate(WAYS))
        check(ok, "S = %d: the cells are the JSON's ms/epoch: %s" % (s, cells))
        ratio = got[(WAYS[0], s)]["epoch_s"] / got[(WAYS[1], s)]["epoch_s"]
        check(cells is not None and abs(float(cells[3]) - ratio) <= 0.006, "S = %d: the ratio %.3f" % (s, ratio))
    check("The deterministic network:" in md, "the deterministic net as a note")
    with open(os.path.join(out, "bench_table.csv")) as f:
        table = list(csv.DictReader(f))
    check(len(table) == len(bench["rows"]) and
          all(abs(float(r["epoch_s"]) - got[(r["mode"], int(r["samples"]))]["epoch_s"]) < 1e-5 for r in table),
          "bench_table.csv holds every row")

    # the slope, a known answer: t = 2 + 3 S ms for every way, S = 1, 2, 4
    fake = dict(bench, rows=[{"arch": "FC-100-100-1", "mode": w, "samples": s, "epoch_s": (2 + 3 * s) / 1e3,
                              "gemm_bound_s": 1e-3} for w in WAYS for s in (1, 2, 4)])
    fake_path = os.path.join(work, "fake.json")
    json.dump(fake, open(fake_path, "w"))
    rows = md_rows(run([sys.executable, TABLE, fake_path, "--out", os.path.join(work, "fake")]))
    check(rows.get("per extra sample (+ intercept)", [None])[:3] == ["3.00 (+ 2.00)"] * 3,
          "slope of 2 + 3 S: %s" % rows.get("per extra sample (+ intercept)"))
    check(rows.get("4", [None] * 4)[3] == "1.00", "equal ways: ratio 1.00")

    # bad input
    json.dump({"rows": []}, open(fake_path, "w"))
    r = subprocess.run([sys.executable, TABLE, fake_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 1 and "no BBB or LRT rows" in r.stderr, "no rows: exit 1 with a message (%d)" % r.returncode)
    r = subprocess.run([exe, "bench", "--toy", "--epochs", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    check(r.returncode == 2 and "--epochs" in r.stderr, "bench --epochs 0: exit 2 (%d)" % r.returncode)
    if failures:
        raise SystemExit("%d check(s) failed" % len(failures))
    print("bench table: all checks passed")


if __name__ == "__main__":
    main()
