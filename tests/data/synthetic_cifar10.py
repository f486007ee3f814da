#!/usr/bin/env python3
"""Write synthetic CIFAR-10 binary batch files (data_batch_1..5.bin, test_batch.bin).

The format is the real one (src/data/cifar10.c): records of 1 label byte (0..9)
and 3072 pixel bytes (R, G, B planes of 32x32). Labels and pixels are uniform
random bytes from a fixed seed: for timing and smoke runs of the CIFAR-10
experiments where the real files are not available (README, "The CIFAR-10
ResNet-20 experiment"). Nothing can be learnt from them.

usage: synthetic_cifar10.py DIR [RECORDS_PER_FILE]   (default 256)
"""
import os
import sys

import numpy as np


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out, per_file = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 256
    if per_file < 1:
        sys.exit("RECORDS_PER_FILE must be positive")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(10)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = rng.integers(0, 256, size=(per_file, 1 + 3072), dtype=np.uint8)
        rec[:, 0] = rng.integers(0, 10, size=per_file, dtype=np.uint8)
        tmp = os.path.join(out, name + ".tmp")
        rec.tofile(tmp)
        os.replace(tmp, os.path.join(out, name))


if __name__ == "__main__":
    main()
