# lib.sh -- sourced by the phenomenon checks tests/science/NAME.sh (run.sh runs them
# all; `make test-science`). Each check runs experiments/NAME.ini at full size into
# its own store, then asserts what the paper found with sqlite3 queries, one
# PASS/FAIL line per assertion, and prints the numbers it judged.
#
#   SCIENCE_DIR  where the stores and figures go (default build/science): basin run
#                skips completed runs, so a second call only re-checks; delete the
#                .db to measure afresh
#   BASIN        the binary (default ./basin at the top of the tree)
#   BASIN_SET    extra `basin run` overrides, e.g. "--set seed=1" (the checks are
#                stated for the file as shipped)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${BASIN:-$ROOT/basin}
SCIENCE_DIR=${SCIENCE_DIR:-$ROOT/build/science}
mkdir -p "$SCIENCE_DIR"
pass=0
fail=0

ok()  { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# check NAME DETAIL CMD...: PASS when CMD succeeds
check() { n=$1 d=$2; shift 2; if "$@"; then ok "$n: $d"; else bad "$n: $d"; fi; }
# awk-evaluated condition: cond "name" "detail" 'a < b' -- numbers substituted by the caller
cond() { n=$1 d=$2; if awk "BEGIN { exit !($3) }"; then ok "$n: $d"; else bad "$n: $d"; fi; }

# q SQL: rows of the current store, fields separated by '|'
q() { sqlite3 -batch -noheader "$DB" "$1"; }

# run_experiment NAME: basin run experiments/NAME.ini into $SCIENCE_DIR/NAME.db (DB),
# timing it; fails the check when basin run fails.
run_experiment() {
    EXP=$1
    DB=$SCIENCE_DIR/$EXP.db
    t0=$(date +%s)
    # shellcheck disable=SC2086
    if "$B" run "$ROOT/experiments/$EXP.ini" --db "$DB" ${BASIN_SET:-} >"$SCIENCE_DIR/$EXP.log" 2>&1; then
        ok "$EXP: basin run ($(($(date +%s) - t0)) s this call; log $SCIENCE_DIR/$EXP.log)"
    else
        bad "$EXP: basin run failed, see $SCIENCE_DIR/$EXP.log"
        tail -5 "$SCIENCE_DIR/$EXP.log"
    fi
    # the runs' own time, first start to last end (also right when runs were skipped)
    echo "  runs took $(q "SELECT printf('%.0f s', max(ended) - min(started)) FROM runs r
        JOIN experiment_runs e ON e.run = r.id WHERE e.experiment = '$EXP'") (first start to last end)"
}

# render NAME KIND [basin plot options]: $SCIENCE_DIR/EXP-NAME.png, a PASS when written;
# with RUNS set (run ids), only those runs
render() {
    nm=$1 k=$2; shift 2
    out=$SCIENCE_DIR/$EXP-$nm.png
    # RUNS (run ids): draw those runs instead of the whole experiment
    # shellcheck disable=SC2086
    if "$B" plot "$k" --db "$DB" ${RUNS:+--run $RUNS} ${RUNS:---experiment "$EXP"} --out "$out" "$@" >/dev/null 2>"$SCIENCE_DIR/$EXP-$nm.err" && [ -s "$out" ]; then
        ok "$EXP: figure $out"
    else
        bad "$EXP: basin plot $k $*: $(tail -1 "$SCIENCE_DIR/$EXP-$nm.err")"
    fi
}

# finish: the tally line; exit status 0 only when nothing failed
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
