#!/usr/bin/env bash
# setup.sh - everything a fresh Debian 12 machine needs, then an optional job.
#
#   bash src/scripts/setup.sh            install missing packages, build, fetch data
#   bash src/scripts/setup.sh --run      ... then run sweeps/quick.yaml on all local cores and
#                                         print the four tables of Zhang & Chen 2020
#   bash src/scripts/setup.sh --test     ... then build with ASan+UBSan and run the test suite
#
# Packages are installed with apt-get when running as root; otherwise the exact
# apt-get line is printed and the script stops. Builds go to build/ (Release)
# and build-asan/ (sanitizers, for the tests). Data goes to the cache directory
# of fetch-data.sh ($BNNSWEEP_DATA, default ~/.cache/bnnsweep).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"

mode=setup
case "${1:-}" in
  "") ;;
  --run) mode=run ;;
  --test) mode=test ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "setup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

say() { printf '== %s\n' "$*"; }

# ---- 1. Debian packages ----
packages=(build-essential cmake pkg-config git libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev
          hdf5-tools libcmocka-dev zlib1g-dev libpng-dev libminizip-dev librandom123-dev libyaml-dev libjansson-dev npm dataset-fashion-mnist
          python3 python3-h5py python3-numpy python3-matplotlib python3-xarray python3-h5netcdf)
# the test suite also starts a one-node SLURM to test slurm/ for real
[[ "$mode" == test ]] && packages+=(slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  # A machine may carry its own node/npm outside Debian's packages: use it.
  [[ "$p" == npm ]] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup.sh: missing Debian packages; as root run:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

# ---- 2. a Python that sees Debian's h5py/numpy/matplotlib (for analysis/) ----
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import h5py, numpy, matplotlib' 2>/dev/null; then
    python="$(command -v "$candidate")"
    break
  fi
done
[[ -n "$python" ]] || { echo "setup.sh: no python3 with h5py, numpy and matplotlib found" >&2; exit 1; }

# ---- 3. build ----
jobs="$(nproc)"
build() {  # build DIR [cmake options...]
  local dir="$1"; shift
  cmake -S . -B "$dir" -DBNS_PYTHON="$python" "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log" >&2; exit 1; }
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log" >&2; exit 1; }
}
say "building build/ (Release)"
build build -DCMAKE_BUILD_TYPE=Release

# ---- 4. data ----
say "fetching data"
bash src/scripts/fetch-data.sh

# ---- 5. the job ----
case "$mode" in
  setup)
    say "ready: build/bnnsweep --help" ;;
  run)
    ranks="$(nproc)"
    say "running sweeps/quick.yaml on $ranks ranks into results/quick (resumes if interrupted)"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    status=0
    mpirun --oversubscribe -n "$ranks" build/bnnsweep run sweeps/quick.yaml --out results/quick || status=$?
    say "tables (also as LaTeX and CSV in results/quick/analysis/)"
    "$python" analysis/tables.py results/quick/cube.h5
    "$python" analysis/figures.py results/quick/cube.h5 || true
    exit "$status" ;;
  test)
    say "building build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DBNS_SANITIZE=ON
    say "running the test suite under the sanitizers"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    cd build-asan && ctest --output-on-failure -j "$jobs" ;;
esac
