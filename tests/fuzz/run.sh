#!/usr/bin/env bash
# run.sh NAME SECONDS [LIBFUZZER OPTIONS...] - fuzz one harness (spec, idx or cifar)
# for SECONDS with libFuzzer + ASan/UBSan, one process, at low priority.
# Builds build-fuzz/ (clang, BNS_FUZZ=ON, BNS_SANITIZE=ON) when needed. The
# working corpus is build-fuzz/fuzz-NAME/corpus, seeded from
# tests/fuzz/corpus/NAME; crashes, timeouts and out-of-memory inputs land in
# build-fuzz/fuzz-NAME/ (copy a fixed one into the seed corpus so ctest
# replays it). Exit status: libFuzzer's (0: nothing found).
set -euo pipefail
name=${1:?usage: run.sh spec|idx|cifar SECONDS [libFuzzer options]}
seconds=${2:?usage: run.sh spec|idx|cifar SECONDS [libFuzzer options]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BNS_FUZZ_BUILD:-$root/build-fuzz}
[[ -d $here/corpus/$name ]] || { echo "run.sh: no harness '$name' (spec, idx, cifar)" >&2; exit 2; }
if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=${CC:-clang} cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBNS_FUZZ=ON -DBNS_SANITIZE=ON \
    -DBNS_PYTHON=/usr/bin/python3 >/dev/null
fi
nice -n 10 cmake --build "$build" -j"${BNS_FUZZ_JOBS:-2}" --target "fuzz_$name" >/dev/null
work=$build/fuzz-$name
mkdir -p "$work/corpus"
cp -n "$here/corpus/$name"/* "$work/corpus/" 2>/dev/null || true
cd "$work"
export TMPDIR=$work
# leaks are errors; an input may take 10 s and 2 GiB at most
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
exec nice -n 10 "$build/tests/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/corpus"
