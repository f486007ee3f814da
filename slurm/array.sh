#!/usr/bin/env bash
# array.sh - a sweep as SLURM job arrays: train, attack, eval (and active) stages,
# each an array of shards, chained with --dependency=afterany, then one merge job.
#
#   bash slurm/array.sh SPEC RUN_DIR [--train N] [--attack N] [--eval N] [--active N] [--set k=v ...] [-- SBATCH_ARGS...]
#
# N = shards (array tasks) per stage (defaults 8, 4, 16, 8, each capped at the
# stage's task count; an active-learning chain stays in one shard). Run it from the checkout on a login node; it prints
# the job ids. A shard that fails some tasks still exits 0 (they are recorded).
# A shard killed by the scheduler (time limit, OOM) does not hold up the rest:
# later stages run what they can (tasks whose inputs are missing print
# "dependency ... is not done"), the merge job writes a partial cube and exits
# 1; submitting the same command again resumes (done tasks are kept).
# `bnnsweep status RUN_DIR` shows what is missing or failed.
set -euo pipefail
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
[ $# -ge 2 ] || { usage >&2; exit 2; }
spec="$1" out="$2"
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${BNNSWEEP:-build/bnnsweep}"
declare -A shards=([train]=8 [attack]=4 [eval]=16 [active]=8)
sets=() sbatch_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --train|--attack|--eval|--active) shards[${1#--}]="$2"; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --) shift; sbatch_args=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "array.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# the plan says how many tasks each stage has (and validates the sweep file)
summary="$("$bin" plan "$spec" --summary "${sets[@]}")"
count() { awk -v k="$1" '$1 == k {print $2}' <<<"$summary"; }
mkdir -p "$out"
dep=()
for stage in train attack eval active; do
  n_tasks="$(count "$stage")"
  [ "${n_tasks:-0}" -gt 0 ] || continue
  n="${shards[$stage]}"
  [ "$n" -le "$n_tasks" ] || n="$n_tasks"
  id="$(sbatch --parsable "${dep[@]}" "${sbatch_args[@]}" --array="0-$((n - 1))" \
        "$here/stage.sbatch" "$stage" "$n" "$spec" "$out" "${sets[@]}")"
  echo "$stage: job $id ($n shards over $n_tasks tasks)"
  # afterany, not afterok: a killed shard (FAILED, TIMEOUT, OUT_OF_MEMORY)
  # would leave afterok's dependants pending forever
  dep=(--dependency="afterany:$id")
done
id="$(sbatch --parsable "${dep[@]}" "${sbatch_args[@]}" "$here/merge.sbatch" "$out")"
echo "merge: job $id -> $out/cube.h5"
