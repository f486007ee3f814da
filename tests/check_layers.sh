#!/usr/bin/env bash
# check_layers.sh [ROOT] - no source file includes a header of a higher layer.
#
# Layers, lowest first (README.md, "Layers"); layers of one rank are peers,
# which may not include each other either:
#   core < data, nn < methods < train < eval, attacks < io < sweep < cli
# A header's layer is the directory of the .c that implements it: src/*/NAME.c
# for include/bnnsweep/NAME.h, else the map below; a header local to a
# directory (src/cli/cli.h) belongs to that directory. Every src/LAYER/*.c and
# every header is checked against everything it includes, transitively through
# headers. A header with no layer is an error too, so a new one cannot slip by.
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"

declare -A rank=([core]=0 [data]=1 [nn]=1 [methods]=2 [train]=3 [eval]=4 [attacks]=4 [io]=5 [sweep]=6 [cli]=7)
# headers with no src/*/NAME.c of their own
declare -A implemented_in=([attack]=attacks [backend]=core [version]=core [method]=methods [nn]=nn [eval_pipeline]=eval)

declare -A layer_of   # header path -> layer
status=0
for h in include/bnnsweep/*.h; do
    name=$(basename "$h" .h)
    impl=(src/*/"$name".c)
    if [ -e "${impl[0]}" ]; then
        layer_of[$h]=$(basename "$(dirname "${impl[0]}")")
    elif [ -n "${implemented_in[$name]:-}" ]; then
        layer_of[$h]=${implemented_in[$name]}
    else
        echo "check_layers: $h: no src/*/$name.c and not in the map of tests/check_layers.sh" >&2
        status=1
    fi
done
for h in src/*/*.h; do layer_of[$h]=$(basename "$(dirname "$h")"); done
for l in "${layer_of[@]}"; do
    [ -n "${rank[$l]:-}" ] || { echo "check_layers: unknown layer $l" >&2; exit 1; }
done

# The headers a file names directly, as paths: "bnnsweep/x.h" or a header
# beside the file ("cli.h"); system headers are not ours.
direct_includes() {
    local file=$1 dir inc
    dir=$(dirname "$file")
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file" | while read -r inc; do
        if [[ $inc == bnnsweep/* ]]; then echo "include/$inc"
        elif [ -e "$dir/$inc" ]; then echo "$dir/$inc"
        fi
    done
}

# Every header reached from a file, each once, as "HEADER VIA" (VIA: the
# header through which it came, or "-" when the file names it itself).
closure() {
    local -A seen=()
    local queue=() next h
    for h in $(direct_includes "$1"); do queue+=("$h -"); done
    while [ ${#queue[@]} -gt 0 ]; do
        next=${queue[0]}
        queue=("${queue[@]:1}")
        h=${next%% *}
        [ -n "${seen[$h]:-}" ] && continue
        seen[$h]=1
        echo "$next"
        [ -e "$h" ] || continue
        for inc in $(direct_includes "$h"); do queue+=("$inc $h"); done
    done
}

check() {
    local file=$1 layer=$2 h via hl
    while read -r h via; do
        if [ ! -e "$h" ]; then
            echo "check_layers: $file includes $h, which does not exist" >&2
            status=1
            continue
        fi
        hl=${layer_of[$h]:-}
        [ -n "$hl" ] || continue  # reported above
        [ "$hl" = "$layer" ] && continue
        if [ "${rank[$hl]}" -ge "${rank[$layer]}" ]; then
            local how="includes"
            [ "$via" = "-" ] || how="includes (through $via)"
            echo "check_layers: $file ($layer) $how $h ($hl): $hl is not below $layer" >&2
            status=1
        fi
    done < <(closure "$file")
}

for c in src/*/*.c; do
    layer=$(basename "$(dirname "$c")")
    [ -n "${rank[$layer]:-}" ] || { echo "check_layers: $c: directory $layer is not a layer" >&2; status=1; continue; }
    check "$c" "$layer"
done
for h in "${!layer_of[@]}"; do check "$h" "${layer_of[$h]}"; done

[ $status -eq 0 ] && echo "check_layers: every include goes to the same or a lower layer"
exit $status
