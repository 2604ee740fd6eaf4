#!/bin/sh
# recorded.sh -- the full runs' first steps, recorded and compared (make test-experiments).
# Every run of an experiments/*.ini is deterministic given its seed, so the first
# RECORDED_STEPS batch losses of each run of the file as shipped (full data, full model)
# are fixed numbers. `record` copies them from the stores of the full runs
# ($SCIENCE_DIR/NAME.db of make test-science, results/basin.db of make run for
# quickstart) into tests/science/recorded.tsv; `check` (in make test) runs each recorded
# file as shipped for RECORDED_STEPS steps only, probes, evaluation and snapshots off
# (none of them changes a trajectory: test_runner.sh), [plots] left out, and compares.
#
# Tolerance 1e-10 relative: a rerun here is bit-identical (same seed, same BASIN_THREADS
# = 2), but another CPU's OpenBLAS kernels and core count sum in another order (a few
# ulps). A file whose steps moved by more says its trajectory changed: data, init,
# optimizer or schedule; rerun the full experiment and `record` again, never edit the
# numbers by hand.
#
#   sh tests/science/recorded.sh record [NAME...]   from the full runs' stores
#   sh tests/science/recorded.sh check [BASIN]      compare (exit 1 on a mismatch)
#
# recorded.tsv: name, run index in the file's canonical order (basin run --dry-run),
# step, batch_loss (17 significant digits).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TSV=$ROOT/tests/science/recorded.tsv
K=2   # RECORDED_STEPS: batch_loss at steps 1 (at theta_0) and 2 (after the first update)
mode=${1:-check}
[ $# -gt 0 ] && shift

# ids FILE BASIN [--set ...]: the run ids of FILE in canonical order
ids() { f=$1 b=$2; shift 2; "$b" run "$f" --dry-run "$@" | awk 'NR > 1 && $1 ~ /^[0-9a-f]+$/ { print $1 }'; }
# first DB ID: "step value" of the run's first K batch losses
first() {
    sqlite3 -batch -noheader -separator ' ' "$1" "SELECT step, printf('%.17g', value) FROM metrics
        WHERE run LIKE '$2%' AND key = 'batch_loss' AND step BETWEEN 1 AND $K ORDER BY step"
}

if [ "$mode" = record ]; then
    B=$ROOT/basin
    SCIENCE_DIR=${SCIENCE_DIR:-$ROOT/build/science}
    names=$*
    [ -n "$names" ] || names=$(cd "$ROOT/experiments" && ls ./*.ini | sed 's|^\./||; s|\.ini$||')
    tmp=$(mktemp)
    [ -f "$TSV" ] && cp "$TSV" "$tmp"
    for n in $names; do
        db=$SCIENCE_DIR/$n.db
        [ "$n" = quickstart ] && db=$ROOT/results/basin.db
        if [ ! -f "$db" ]; then echo "skip $n: no store $db (run it at full size first)"; continue; fi
        grep -v "^$n	" "$tmp" >"$tmp.new"; mv "$tmp.new" "$tmp"
        i=0 got=0
        for id in $(ids "$ROOT/experiments/$n.ini" "$B"); do
            first "$db" "$id" | while read -r s v; do printf '%s\t%d\t%d\t%s\n' "$n" $i "$s" "$v"; done >>"$tmp"
            [ -n "$(first "$db" "$id")" ] && got=$((got + 1))
            i=$((i + 1))
        done
        echo "$n: $got of $i runs recorded from $db"
    done
    sort -t '	' -k1,1 -k2,2n -k3,3n "$tmp" >"$TSV"
    rm -f "$tmp"
    exit 0
fi

[ "$mode" = check ] || { echo "usage: recorded.sh record [NAME...] | check [BASIN]" >&2; exit 2; }
B=${1:-$ROOT/basin}
case $B in /*) ;; *) B=$PWD/$B ;; esac
T=$(mktemp -d /tmp/basin-recorded.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
for n in $(cut -f1 "$TSV" | uniq); do
    # the file without its [plots] (no figures of probes that are off; not in run ids)
    f=$T/$n.ini
    awk '/^[[:space:]]*\[/ { skip = ($0 ~ /^[[:space:]]*\[plots\]/) } !skip' \
        "$ROOT/experiments/$n.ini" >"$f"
    set -- --set steps=$K
    for k in eval-every snapshot-every checkpoint-every hessian-every trace-every density-every sharpness-every collapse-every; do
        grep -Eq "^[[:space:]]*$k[[:space:]]*=" "$f" && set -- "$@" --set $k=0
    done
    t0=$(date +%s)
    if ! (cd "$T" && BASIN_THREADS=2 "$B" run "$f" --db "$T/$n.db" "$@" >"$T/$n.log" 2>&1); then
        fail=$((fail + 1)); echo "FAIL $n: basin run $* failed: $(tail -1 "$T/$n.log")"; continue
    fi
    i=0
    for id in $(ids "$f" "$B" "$@"); do first "$T/$n.db" "$id" | sed "s/^/$i /"; i=$((i + 1)); done >"$T/$n.got"
    # worst relative deviation over the recorded rows; a row missing on either side fails
    r=$(awk -v n="$n" 'FNR == NR { got[$1 " " $2] = $3; next }
        $1 == n { want++; k = $2 " " $3; if (!(k in got)) { miss++; next }
                  d = got[k] - $4; d = d < 0 ? -d : d; a = $4 < 0 ? -$4 : $4; if (a > 0) d /= a
                  if (d > worst) worst = d }
        END { printf "%d %d %.3g\n", want, miss, worst }' "$T/$n.got" FS='\t' "$TSV")
    set -- $r
    if [ "$2" -eq 0 ] && awk -v w="$3" 'BEGIN { exit !(w <= 1e-10) }'; then
        pass=$((pass + 1)); echo "PASS $n: $1 recorded batch losses of the full runs reproduced (worst relative deviation $3; $(($(date +%s) - t0)) s)"
    else
        fail=$((fail + 1)); echo "FAIL $n: of $1 recorded batch losses $2 missing, worst relative deviation $3 (> 1e-10): the trajectory changed"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
