"""test_compare_outputs.py SCRATCH_DIR: the bit-for-bit comparer of
tests/compare/compare_binaries.sh finds what it must and forgives only
bookkeeping: one float bit, a -0.0, a missing dataset or attribute, a
changed JSON number and a changed report line are differences; timings, build
identity, HDF5 references and the two sides' own paths are not."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def write_side(d, tweak=None):
    os.makedirs(d, exist_ok=True)
    with h5py.File(os.path.join(d, "model.h5"), "w") as f:
        f.attrs["format"] = "bnnsweep-model"
        f.attrs["git_commit"] = os.path.basename(d)          # build identity: ignored
        w = f.create_dataset("layers/0/weight", data=np.arange(12, dtype=np.float32).reshape(3, 4))
        w.attrs["unit"] = "none"
        f.create_dataset("training/epoch_seconds", data=np.array([0.1 if "old" in d else 0.2]))  # timing: ignored
        f.create_dataset("acc", data=np.array([0.5, np.nan]))
        f.attrs["model_path"] = os.path.join(d, "m.h5")        # the side's own path: masked
        if tweak:
            tweak(f)
    with open(os.path.join(d, "eval.json"), "w") as f:
        json.dump({"model": os.path.join(d, "m.h5"), "acc_mean": 0.123456}, f)
    with open(os.path.join(d, "report.txt"), "w") as f:
        f.write("epoch 1 loss 0.5 1.23s (+0.10s val)\n" if "old" in d else "epoch 1 loss 0.5 9.87s (+0.20s val)\n")


def run(old, new):
    return subprocess.run([sys.executable, os.path.join(HERE, "compare_outputs.py"), old, new],
                          capture_output=True, text=True)


def flip_bit(f):
    a = f["layers/0/weight"][()]
    a.view(np.uint32)[1, 2] ^= 1
    f["layers/0/weight"][...] = a


def negative_zero(f):
    a = f["layers/0/weight"][()]
    a[0, 0] = -0.0
    f["layers/0/weight"][...] = a


def main(scratch):
    shutil.rmtree(scratch, ignore_errors=True)
    old = os.path.join(scratch, "old")
    write_side(old)
    cases = {
        "same": (None, 0),
        "one float bit": (flip_bit, 1),
        "-0.0 for 0.0": (negative_zero, 1),
        "a dataset missing": (lambda f: f.__delitem__("acc"), 1),
        "an attribute missing": (lambda f: f["layers/0/weight"].attrs.__delitem__("unit"), 1),
        "NaN for a number": (lambda f: f["acc"].__setitem__(0, np.nan), 1),
        "a new dataset only": (lambda f: f.create_dataset("extra", data=[1.0]), 0),
    }
    failed = 0
    for name, (tweak, want) in cases.items():
        new = os.path.join(scratch, "new-" + name.replace(" ", "_"))
        write_side(new, tweak)
        got = run(old, new).returncode
        if got != want:
            print(f"FAIL {name}: exit {got}, expected {want}")
            failed += 1
    # a JSON number and a report line
    new = os.path.join(scratch, "new-json")
    write_side(new)
    with open(os.path.join(new, "eval.json"), "w") as f:
        json.dump({"model": os.path.join(new, "m.h5"), "acc_mean": 0.123466}, f)
    if run(old, new).returncode != 1:
        print("FAIL changed JSON number not found")
        failed += 1
    new = os.path.join(scratch, "new-text")
    write_side(new)
    with open(os.path.join(new, "report.txt"), "w") as f:
        f.write("epoch 1 loss 0.6 9.87s (+0.20s val)\n")
    if run(old, new).returncode != 1:
        print("FAIL changed report line not found")
        failed += 1
    total = len(cases) + 2
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
