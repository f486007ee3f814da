#!/usr/bin/env bash
# profile-step.sh MODE ARCH [S] [BNNSWEEP] - where one training step's time goes.
#
# Runs `bnnsweep bench --modes MODE --arch ARCH --samples S` under
# `perf record --call-graph dwarf` and keeps only the samples of the timed
# training steps: a sample's frame just below cmd_bench (time_apd_iteration
# for apd) is the step's (the method's train_step, bns_train_step where it is
# not a tail call, the optimizer); the GEMM bound timed beside them, the
# synthetic data, the prediction and attack throughput lines and set-up are
# dropped by name. Prints the
# step's time by leaf function and by kind of work (GEMM kernels, OpenBLAS's
# packing copies, Philox, the Gaussian transform, libm/libmvec, memory moves,
# the method's own passes, the kernel's page faults), in % of the step.
# docs/performance.md ("Where each unmet bench row's time goes") has the
# measured tables. Needs perf (Debian: linux-perf) and python3.
#
#   src/scripts/profile-step.sh bbb FC-1200-1200-10 1
#   src/scripts/profile-step.sh apd FC-100-10          # S ignored; --apd-arch
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
mode="$1"; arch="$2"; samples="${3:-1}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${4:-$here/build/bnnsweep}"
command -v perf >/dev/null || { echo "profile-step.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
[[ -x "$bin" ]] || { echo "profile-step.sh: $bin: not an executable (build first, or pass BNNSWEEP)" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

if [[ "$mode" == apd ]]; then
  args=(--modes apd --apd-arch "$arch" --apd-iterations 2)
else
  # a short fraction: the profile needs a few thousand samples, not a whole epoch
  frac=1; [[ "$arch" == *1200* ]] && frac=0.1
  args=(--modes "$mode" --arch "$arch" --samples "$samples" --fraction "$frac")
fi
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 perf record -q -e cpu-clock -F 1999 --call-graph dwarf,16384 \
  -o "$tmp/perf.data" -- "$bin" bench "${args[@]}" --threads 1 >"$tmp/bench.txt" 2>&1 \
  || { cat "$tmp/bench.txt" >&2; exit 1; }
grep -E "^\| (arch|FC)|iteration" "$tmp/bench.txt" | head -n 6 || true
perf script -i "$tmp/perf.data" -F ip,sym --no-inline 2>/dev/null >"$tmp/stacks.txt"
python3 - "$tmp/stacks.txt" "$mode $arch S=$samples" <<'PY'
import re, sys, collections
leaf = collections.Counter(); kinds = collections.Counter(); total = 0
def kind(s):
    if re.search(r"sgemm_kernel|sgemm_small_kernel|sgemm_beta", s): return "GEMM kernels (OpenBLAS)"
    if re.search(r"sgemm_.*copy", s): return "GEMM packing copies (OpenBLAS)"
    if "philox" in s: return "Philox (uniform bits)"
    if re.search(r"normal_group|bns_stream_normal|box_muller", s): return "Gaussian transform (Box-Muller glue)"
    if re.search(r"_ZGV|log1pf|expf|logf|sinf|cosf|sqrtf|__ieee754|tanhf", s): return "libm / libmvec (log, exp, sin, cos)"
    if re.search(r"mem(set|cpy|move)", s): return "memset / memcpy"
    if s.startswith("[k]"): return "kernel (page faults, timer)"
    return "the method's own passes (bnnsweep code)"
# frames just below the bench driver that are not the timed steps
NOT_STEP = re.compile(r"^(bns_predict_probs|bns_attack_input_grad|bns_stream_normal|sgemm_gflops|"
                      r"time_gemm_bound|time_apd_gemm_bound|bns_gemm|bns_model_create|bns_model_free|"
                      r"bns_optimizer_init|bns_optimizer_free|.*_trainer_(create|free)|.*trainer_create|"
                      r".*malloc.*|.*calloc.*|.*free.*|asm_exc_page_fault|\[k\].*|cmd_bench)$")
DRIVERS = ("cmd_bench", "time_apd_iteration")
def flush(stack):
    global total
    if not stack: return
    i = next((i for i, f in enumerate(stack) if f in DRIVERS), None)
    if i is None or i == 0 or NOT_STEP.match(stack[i - 1]): return
    total += 1
    leaf[stack[0]] += 1
    kinds[kind(stack[0])] += 1
stack = []
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    if not line:
        flush(stack); stack = []; continue
    parts = line.split(None, 1)
    sym = parts[1] if len(parts) > 1 else "?"
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    if sym.startswith("[unknown]") and not stack: sym = "[k] kernel/unknown"
    stack.append(sym)
flush(stack)
if total == 0:
    sys.exit("profile-step.sh: no samples in the timed steps (perf could not unwind the stacks?)")
print(f"{sys.argv[2]}: {total} samples in the timed training steps")
print("by kind of work:")
for k, n in kinds.most_common(): print(f"  {100 * n / total:5.1f}%  {k}")
print("by leaf function (>= 1%):")
for s, n in leaf.most_common():
    if 100 * n / total < 1: break
    print(f"  {100 * n / total:5.1f}%  {s}")
PY
