#!/usr/bin/env python3
"""bench_table.py - Semko (2023)'s training-time table from `bnnsweep bench --json`.

usage: bench_table.py BENCH.json [--out DIR]

Reads the JSON that `bnnsweep bench --json FILE` writes (with --toy: the
regression toy of METHODS.md s.12, FC-100-100-1 on toy1d; without: synthetic
MNIST, one table per --arch). Semko's shape: one row per sample count S,
columns BBB sequential, BBB vectorized and LRT training time per epoch
(ms for the toy, whose epoch is 10 steps; s otherwise), the sequential /
vectorized ratio, and the per-sample cost of each way (the least-squares
slope through (S, time), with its intercept, as Semko reports it). The
deterministic network's epoch, when measured, is a note under the table.

Writes bench_table.md (the tables and notes) and bench_table.csv (arch, mode,
S, epoch seconds, GEMM bound seconds: every measured row) into DIR (default:
BENCH.json's directory) and prints the Markdown. Standard library only. Exit
status: 0 written, 1 unreadable JSON or no BBB/LRT rows, 2 usage.
"""
import argparse
import csv
import json
import os
import sys

WAYS = ("BBB sequential", "BBB vectorized", "LRT")


def fit_line(points):
    """Least-squares slope and intercept through (S, t); None for < 2 distinct S."""
    n = len(points)
    if n < 2:
        return None
    sx = sum(p[0] for p in points)
    sy = sum(p[1] for p in points)
    sxx = sum(p[0] * p[0] for p in points)
    sxy = sum(p[0] * p[1] for p in points)
    var = n * sxx - sx * sx
    if var <= 0:
        return None
    slope = (n * sxy - sx * sy) / var
    return slope, (sy - slope * sx) / n


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def tables(bench):
    """The Markdown of every arch's table."""
    toy = bench.get("benchmark") == "toy1d"
    scale, unit = (1e3, "ms") if toy else (1.0, "s")
    digits = 2 if toy else 3
    rows = bench["rows"]
    out = []
    what = ("regression toy (toy1d: %d points, batch %d, Gaussian likelihood), median over %d epochs"
            % (bench["epoch_rows"], bench["batch"], bench.get("epochs_timed", 0)) if toy else
            "%d synthetic MNIST rows, batch %d, timed on %.0f%% of an epoch"
            % (bench.get("epoch_rows", 50000), bench.get("batch", 128), 100 * bench.get("fraction", 0)))
    archs = []
    for r in rows:
        if r["arch"] not in archs:
            archs.append(r["arch"])
    for arch in archs:
        by = {}
        for r in rows:
            if r["arch"] == arch:
                by[(r["mode"], r["samples"])] = r["epoch_s"] * scale
        samples = sorted({s for (m, s) in by if m in WAYS})
        if not samples:
            continue
        out.append("**%s**, %s/epoch (%s; %d BLAS thread%s, sgemm %.1f GFLOP/s)\n"
                   % (arch, unit, what, bench["threads"], "s" if bench["threads"] > 1 else "",
                      bench["sgemm_gflops"]))
        out.append("| S | %s | sequential / vectorized |" % " | ".join(WAYS))
        out.append("| --- | %s | --- |" % " | ".join("---" for _ in WAYS))
        for s in samples:
            cells = [by.get((w, s)) for w in WAYS]
            ratio = (cells[0] / cells[1]) if cells[0] is not None and cells[1] else None
            out.append("| %d | %s | %s |" % (s, " | ".join("-" if c is None else "%.*f" % (digits, c)
                                                            for c in cells),
                                             "-" if ratio is None else "%.2f" % ratio))
        fits = []
        for w in WAYS:
            f = fit_line([(s, by[(w, s)]) for s in samples if (w, s) in by])
            fits.append("-" if f is None else "%.*f (+ %.*f)" % (digits, f[0], digits, f[1]))
        out.append("| per extra sample (+ intercept) | %s | |" % " | ".join(fits))
        if ("deterministic", 1) in by:
            out.append("\nThe deterministic network: %.*f %s/epoch." % (digits, by[("deterministic", 1)], unit))
        out.append("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench_json")
    ap.add_argument("--out", default=None, help="output directory (default: the JSON's)")
    args = ap.parse_args(argv)
    try:
        with open(args.bench_json) as f:
            bench = json.load(f)
        rows = bench["rows"]
        for r in rows:
            if not all(k in r for k in ("arch", "mode", "samples", "epoch_s", "gemm_bound_s")):
                raise ValueError("a row lacks arch, mode, samples, epoch_s or gemm_bound_s: %r" % (r,))
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("bench_table.py: %s: %s" % (args.bench_json, e), file=sys.stderr)
        return 1
    md = tables(bench)
    if not md:
        print("bench_table.py: %s: no BBB or LRT rows" % args.bench_json, file=sys.stderr)
        return 1
    out = args.out or os.path.dirname(os.path.abspath(args.bench_json))
    os.makedirs(out, exist_ok=True)
    write_atomic(os.path.join(out, "bench_table.md"), md)
    tmp = os.path.join(out, "bench_table.csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "mode", "samples", "epoch_s", "gemm_bound_s"])
        for r in rows:
            w.writerow([r["arch"], r["mode"], r["samples"], "%.6g" % r["epoch_s"], "%.6g" % r["gemm_bound_s"]])
    os.replace(tmp, os.path.join(out, "bench_table.csv"))
    sys.stdout.write(md)
    print("wrote %s/bench_table.md, bench_table.csv" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
