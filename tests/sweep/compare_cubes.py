"""compare_cubes.py A.h5 B.h5 [...]: the result variables of bnnsweep cubes
are bit-identical (NaN where NaN), and each opens with xarray when it is
installed. Per-task bookkeeping (wall time, rank, host) is allowed to differ."""
import sys

import h5py
import numpy as np

BOOKKEEPING = {"wall_seconds", "rank", "host", "status", "error", "task_name", "task_key", "task_kind",
               "train_seconds_per_epoch"}


def result_vars(path):
    out = {}
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] in (b"bnnsweep-cube", "bnnsweep-cube"), path
        for name, obj in f.items():
            if isinstance(obj, h5py.Dataset) and name not in BOOKKEEPING and obj.dtype.kind == "f":
                out[name] = obj[()]
    return out


def main(paths):
    first = result_vars(paths[0])
    if not first or "accuracy" not in first:
        sys.exit(f"{paths[0]}: no result variables")
    finite = sum(int(np.isfinite(v).sum()) for v in first.values())
    if finite == 0:
        sys.exit(f"{paths[0]}: every result is NaN")
    for other in paths[1:]:
        vars_other = result_vars(other)
        if set(vars_other) != set(first):
            sys.exit(f"{other}: variables {sorted(vars_other)} differ from {sorted(first)}")
        for name, a in first.items():
            b = vars_other[name]
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                sys.exit(f"{other}: variable {name} differs from {paths[0]}:\n{a}\n{b}")
    try:
        import xarray as xr
    except ImportError:
        print("skipped xarray (not installed)")
    else:
        for p in paths:
            ds = xr.open_dataset(p, engine="h5netcdf")
            assert "model" in ds.dims and "set" in ds.dims, ds
            assert ds.accuracy.dims == ("model", "set"), ds.accuracy.dims
            ds.close()
    print(f"{len(paths)} cubes agree on {len(first)} result variables ({finite} finite values)")


if __name__ == "__main__":
    main(sys.argv[1:])
