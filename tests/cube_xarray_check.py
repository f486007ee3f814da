#!/usr/bin/env python3
"""cube_xarray_check.py - does the sample cube (test_cube --sample PATH) read as netCDF?

Always checks the raw HDF5 with h5py (dimension scales, _Netcdf4Dimid, NaN
fill); then, if xarray and h5netcdf are importable, opens it with
xarray.open_dataset(engine="h5netcdf") and checks named dimensions, string and
numeric coordinates, shapes and NaN cells. Prints "skipped xarray" otherwise.
Exit status 0 = all checks passed.
"""
import math
import sys

import h5py
import numpy as np

MODELS = ["mlp-det", "mlp-bbb", "mlp-lrt"]
SETS = ["clean", "fgsm-0.1", "pgd-0.1", "ood-fashion"]
ENSEMBLES = [1.0, 2.0, 5.0, 10.0, 20.0]
N_TASK = 6


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def check_h5py(path):
    with h5py.File(path, "r") as f:
        for i, name in enumerate(["model", "set", "n_ensemble", "task"]):
            ds = f[name]
            check(h5py.h5ds.is_scale(ds.id), f"/{name} is a dimension scale")
            check(int(ds.attrs["_Netcdf4Dimid"]) == i, f"/{name} _Netcdf4Dimid == {i}")
        check(text(f["task"].attrs["NAME"]).startswith("This is a netCDF dimension but not a netCDF variable."),
              "/task NAME marks a dimension without a variable")
        check([text(s) for s in f["model"][()]] == MODELS, "/model labels")
        check(list(f["n_ensemble"][()]) == ENSEMBLES, "/n_ensemble values")
        acc = f["ensemble_accuracy"]
        check(acc.shape == (3, 4, 5), "ensemble_accuracy shape")
        check([d[0].name for d in acc.dims] == ["/model", "/set", "/n_ensemble"], "ensemble_accuracy dims attached")
        check(int(np.isnan(acc[()]).sum()) == 4 * (5 + 2 * 2), "ensemble_accuracy NaN count")
        check(text(f.attrs["format"]) == "bnnsweep-cube", "format attribute")
    print("h5py: ok")


def check_xarray(path):
    try:
        import xarray as xr
        import h5netcdf  # noqa: F401  (xarray's engine)
    except ImportError:
        print("skipped xarray")
        return
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        print(ds)
        check(dict(ds.sizes) == {"model": 3, "set": 4, "n_ensemble": 5, "task": N_TASK}, "dimension sizes")
        check(list(ds.coords) == ["model", "set", "n_ensemble"], "coordinates (task has none)")
        check(list(ds["model"].values) == MODELS, "model labels")
        check(list(ds["set"].values) == SETS, "set labels")
        check(list(ds["n_ensemble"].values) == ENSEMBLES, "n_ensemble values")
        ens = ds["ensemble_accuracy"]
        check(ens.dims == ("model", "set", "n_ensemble"), "ensemble_accuracy dims")
        check(ens.attrs.get("units") == "1", "ensemble_accuracy units")
        sel = ens.sel(model="mlp-lrt", set="pgd-0.1", n_ensemble=5.0)
        check(float(sel) == 0.5 + 2 * 0.125 + 2 * 0.0078125 + 2 / 1024, "labelled selection")
        check(math.isnan(float(ens.sel(model="mlp-bbb", set="clean", n_ensemble=1.0))), "unset cell is NaN")
        check(int(ens.isnull().sum()) == 4 * (5 + 2 * 2), "NaN count")
        check(ds["accuracy"].dims == ("model", "set"), "accuracy dims")
        check(bool(ds["accuracy_std"].sel(set="ood-fashion").isnull().all()), "accuracy_std missing column")
        check(ds["status"].dims == ("task",), "status over task")
        check(list(ds["status"].values) == ["done"] * 4 + ["failed", ""], "status values")
        check(ds["error"].values[4].endswith("epoch 3 \u00b5"), "UTF-8 error text")
        check(math.isnan(float(ds["wall_seconds"][5])), "wall_seconds of unreported task is NaN")
        check(ds.attrs["format"] == "bnnsweep-cube", "format attribute")
        check(int(ds.attrs["mpi_size"]) == 4, "mpi_size attribute")
        check(ds.attrs["end_time"] == "2024-01-01T01:00:00Z", "end_time attribute")
    print("xarray: ok")


def main():
    if len(sys.argv) != 2:
        print("usage: cube_xarray_check.py CUBE.h5")
        return 2
    check_h5py(sys.argv[1])
    check_xarray(sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
