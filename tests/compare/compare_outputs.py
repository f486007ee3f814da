"""compare_outputs.py [--skip PREFIX] OLD_DIR NEW_DIR: every output of tests/compare_binaries.sh
is the same in both directories.

- HDF5 files (cubes, posteriors, models, attack sets, per-task files), matched
  by relative path: every dataset and attribute of the old file exists in the
  new one with the same shape, type kind and bytes (NaN = NaN). Bookkeeping
  is skipped: timings, hosts, ranks, build identity (git commit, version),
  the model-file hash an attack set records (the model file holds the build's
  git commit) and the format version. Datasets and attributes only the new
  file has are listed, not failed: a format may grow.
- JSON files: the same keys, and every number of the old file equal to the
  new one rounded to the old one's printed decimals.
- Text outputs (*.txt, the train and eval reports): equal line by line after
  timings are masked; train's test-accuracy line is reported, not compared
  (its spread is the sample std since the one evaluation pipeline).
Exit status 0 when everything matches, 1 otherwise.
"""
import json
import os
import re
import sys

import h5py
import numpy as np

BOOKKEEPING = {
    "wall_seconds", "rank", "host", "status", "error", "seconds", "epoch_seconds", "val_seconds",
    "train_seconds_per_epoch",  # a timing (the mean of epoch_seconds), not a result
    "git_commit", "bnnsweep_version", "model_git_commit", "model_hash", "start_time", "end_time",
    "format_version", "mpi_size",
    "DIMENSION_LIST", "REFERENCE_LIST",  # HDF5 object references (addresses), not content
}
# the two output directories' own paths (inside model_path attributes, JSON "model")
SIDES = []


def unside(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, str):
        for d in SIDES:
            v = v.replace(d, "<dir>")
    return v
TIMING = re.compile(r"\d+\.\d+s\b|\(\+\d+\.\d+s val\)|\d+\.\d+s/epoch|in \d+\.\d+ s")

problems = []
notes = []


def same_array(a, b):
    if isinstance(a, (bytes, str)) or isinstance(b, (bytes, str)):
        return unside(a) == unside(b)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
    return np.array_equal(a, b)


def compare_attrs(where, old, new):
    for k, v in old.attrs.items():
        if k in BOOKKEEPING:
            continue
        if k not in new.attrs:
            problems.append(f"{where}: attribute {k} missing in new")
        elif not same_array(v, new.attrs[k]):
            problems.append(f"{where}: attribute {k}: {v!r} != {new.attrs[k]!r}")
    extra = sorted(set(new.attrs) - set(old.attrs))
    if extra:
        notes.append(f"{where}: new attributes {extra}")


def compare_h5(rel, old_path, new_path):
    with h5py.File(old_path, "r") as fo, h5py.File(new_path, "r") as fn:
        compare_attrs(rel + ":/", fo, fn)
        names = []
        fo.visit(names.append)
        for name in names:
            leaf = name.rsplit("/", 1)[-1]
            if leaf in BOOKKEEPING:
                continue
            if name not in fn:
                problems.append(f"{rel}:/{name} missing in new")
                continue
            o, n = fo[name], fn[name]
            compare_attrs(f"{rel}:/{name}", o, n)
            if isinstance(o, h5py.Dataset):
                if not isinstance(n, h5py.Dataset) or not same_array(o[()], n[()]):
                    problems.append(f"{rel}:/{name} differs")
        new_names = []
        fn.visit(new_names.append)
        extra = sorted(set(new_names) - set(names))
        if extra:
            notes.append(f"{rel}: new objects {extra[:8]}{' ...' if len(extra) > 8 else ''}")


def decimals(text_number):
    return len(text_number.split(".")[1]) if "." in text_number and "e" not in text_number.lower() else None


def compare_json_values(where, old, new, old_text_numbers):
    if isinstance(old, dict):
        if not isinstance(new, dict):
            problems.append(f"{where}: not an object in new")
            return
        for k, v in old.items():
            if k not in new:
                problems.append(f"{where}.{k} missing in new")
            else:
                compare_json_values(f"{where}.{k}", v, new[k], old_text_numbers)
    elif isinstance(old, list):
        if not isinstance(new, list) or len(old) != len(new):
            problems.append(f"{where}: list length differs")
            return
        for i, (a, b) in enumerate(zip(old, new)):
            compare_json_values(f"{where}[{i}]", a, b, old_text_numbers)
    elif isinstance(old, (int, float)) and not isinstance(old, bool):
        if not isinstance(new, (int, float)):
            problems.append(f"{where}: {old!r} vs {new!r}")
            return
        places = old_text_numbers.get(repr(old), 6)
        if isinstance(old, int) and isinstance(new, int):
            ok = old == new
        else:
            ok = round(float(new), places) == round(float(old), places)
        if not ok:
            problems.append(f"{where}: {old!r} vs {new!r}")
    elif unside(old) != unside(new):
        problems.append(f"{where}: {old!r} vs {new!r}")


def compare_json(rel, old_path, new_path):
    text = open(old_path).read()
    numbers = {}
    for tok in re.findall(r"-?\d+\.\d+(?:[eE][-+]?\d+)?", text):
        d = decimals(tok)
        if d is not None:
            numbers[repr(float(tok))] = d
    compare_json_values(rel, json.loads(text), json.load(open(new_path)), numbers)


def compare_text(rel, old_path, new_path):
    old = [TIMING.sub("T", unside(l)) for l in open(old_path).read().splitlines()]
    new = [TIMING.sub("T", unside(l)) for l in open(new_path).read().splitlines()]
    skip = re.compile(r"^test accuracy|^wrote |^saved |^model .*: ")
    old_k = [l for l in old if not skip.match(l)]
    new_k = [l for l in new if not skip.match(l)]
    if old_k != new_k:
        for i, (a, b) in enumerate(zip(old_k, new_k)):
            if a != b:
                problems.append(f"{rel}: line {i + 1} differs:\n  old: {a}\n  new: {b}")
                break
        else:
            problems.append(f"{rel}: {len(old_k)} vs {len(new_k)} lines")
    for a, b in zip([l for l in old if l.startswith("test accuracy")], [l for l in new if l.startswith("test accuracy")]):
        if a != b:
            notes.append(f"{rel}: test report\n  old: {a}\n  new: {b}")


def main(old_dir, new_dir, skip=()):
    SIDES.extend([os.path.abspath(old_dir), os.path.abspath(new_dir)])
    for d in (old_dir, new_dir):  # a side copied from elsewhere names where it ran
        if os.path.exists(os.path.join(d, ".path")):
            SIDES.append(open(os.path.join(d, ".path")).read().strip())
    SIDES.sort(key=len, reverse=True)
    counts = {"h5": 0, "json": 0, "txt": 0}
    for root, _, files in os.walk(old_dir):
        for name in sorted(files):
            old_path = os.path.join(root, name)
            rel = os.path.relpath(old_path, old_dir)
            if any(rel.startswith(p) for p in skip):
                continue
            new_path = os.path.join(new_dir, rel)
            kind = name.rsplit(".", 1)[-1]
            if kind not in counts:
                continue
            if not os.path.exists(new_path):
                problems.append(f"{rel} missing in new")
                continue
            counts[kind] += 1
            {"h5": compare_h5, "json": compare_json, "txt": compare_text}[kind](rel, old_path, new_path)
    for n in notes:
        print("note:", n)
    for p in problems:
        print("DIFFERENT:", p)
    print(f"compared {counts['h5']} HDF5 files, {counts['json']} JSON files, {counts['txt']} text outputs: "
          f"{'identical' if not problems else str(len(problems)) + ' differences'}")
    return 1 if problems else 0


if __name__ == "__main__":
    args, skips = sys.argv[1:], []
    while args[:1] == ["--skip"] and len(args) > 1:
        skips.append(args[1])
        args = args[2:]
    if len(args) != 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1], skips))
