#!/bin/sh
# tiny.sh -- the pipeline check of `make test` (make test-experiments): every shipped
# experiments/*.ini run at a tiny size through `basin run --set` overrides into a
# temporary store, then checked: it runs (exit 0, no FAILED run), records what it
# should (a batch_loss per step; lambda_max, trace, sharpness, NC metrics, workspace
# counters and 2-D trajectories where the file asks for them; the overrides in the
# stored file text), and renders (basin plot). Not the phenomena: tests/science/run.sh.
#
# Overrides, applied when the file has the key: steps = 4 (replacing epochs), seed = 1,
# samples = 256 and test-samples = 128, eval-every, snapshot-every and every probe's
# *-every = 2, probe-samples = 0 (all 256), t-alpha = t-beta3 = 4. A file adds its own with
# comment lines `; tiny: KEY=VALUE`.
# Usage: tiny.sh [BASIN] [FILE.ini...] (default ./basin and every experiments/*.ini).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/basin}
[ $# -gt 0 ] && shift
case $B in /*) ;; *) B=$PWD/$B ;; esac
T=$(mktemp -d /tmp/basin-tiny.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok()  { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
has() { grep -Eq "^[[:space:]]*$1[[:space:]]*=" "$2"; }

files=$*
[ -n "$files" ] || files=$(ls "$ROOT"/experiments/*.ini)
for f in $files; do
    case $f in /*) ;; *) f=$PWD/$f ;; esac
    n=$(basename "$f" .ini)
    db=$T/$n.db
    set --
    for k in steps epochs; do has $k "$f" && set -- "$@" --set steps=4 && break; done
    has seed "$f" && set -- "$@" --set seed=1
    has samples "$f" && set -- "$@" --set samples=256 --set test-samples=128
    probes=0
    for k in eval-every snapshot-every hessian-every trace-every density-every sharpness-every collapse-every; do
        has $k "$f" && set -- "$@" --set $k=2
        case $k in *-every) has $k "$f" && [ $k != eval-every ] && [ $k != snapshot-every ] && probes=1 ;; esac
    done
    [ $probes = 1 ] && set -- "$@" --set probe-samples=0   # all 256: every class present
    for k in t-alpha t-beta3; do has $k "$f" && set -- "$@" --set $k=4; done
    for kv in $(sed -n 's/^[[:space:]]*;[[:space:]]*tiny:[[:space:]]*//p' "$f"); do set -- "$@" --set "$kv"; done
    t0=$(date +%s)
    if (cd "$T" && BASIN_THREADS=${BASIN_THREADS:-2} "$B" run "$f" --db "$db" "$@" >"$T/$n.log" 2>&1); then
        ok "$n: basin run $* ($(($(date +%s) - t0)) s)"
    else
        bad "$n: basin run $* failed:"
        tail -3 "$T/$n.log"
        continue
    fi
    q() { sqlite3 -batch -noheader "$db" "$1"; }
    exp=$(q "SELECT name FROM experiments LIMIT 1")
    nruns=$(q "SELECT count(*) FROM runs")
    failed=$(q "SELECT count(*) FROM runs WHERE status NOT IN ('COMPLETED', 'DIVERGED')")
    [ "$failed" -eq 0 ] && ok "$n: $nruns runs, none FAILED" || bad "$n: $failed of $nruns runs not COMPLETED/DIVERGED"
    short=$(q "SELECT count(*) FROM runs r WHERE r.status = 'COMPLETED' AND (SELECT count(*) FROM metrics m
               WHERE m.run = r.id AND m.key = 'batch_loss') != 4")
    [ "$short" -eq 0 ] && ok "$n: a batch_loss for each of the 4 steps of every run" || bad "$n: $short runs without 4 batch_loss rows"
    q "SELECT text FROM experiments" | grep -q '^; basin run --set steps=4$' \
        && ok "$n: the overrides are in the stored file text" || bad "$n: stored file text lacks the overrides"
    want() {   # want KEY TABLE-OR-METRIC: every completed run has rows of it
        if has "$1" "$f"; then
            miss=$(q "SELECT count(*) FROM runs r WHERE r.status = 'COMPLETED' AND NOT EXISTS ($3)")
            [ "$miss" -eq 0 ] && ok "$n: $2 recorded for every run" || bad "$n: $2 missing in $miss runs"
        fi
    }
    want hessian-every lambda_max "SELECT 1 FROM metrics m WHERE m.run = r.id AND m.key = 'lambda_max'"
    want trace-every trace "SELECT 1 FROM trace t WHERE t.run = r.id"
    want density-every density "SELECT 1 FROM density d WHERE d.run = r.id"
    want sharpness-every sharpness "SELECT 1 FROM sharpness s WHERE s.run = r.id"
    want collapse-every nc1 "SELECT 1 FROM metrics m WHERE m.run = r.id AND m.key = 'nc1'"
    want resources peak_workspace_bytes "SELECT 1 FROM metrics m WHERE m.run = r.id AND m.key = 'peak_workspace_bytes'"
    plot() {   # plot KIND [options]: a non-empty PNG
        k=$1; shift
        if (cd "$T" && "$B" plot "$k" --db "$db" --experiment "$exp" --out "$T/$n-$k.png" "$@" >/dev/null 2>"$T/$n-$k.err") \
            && [ -s "$T/$n-$k.png" ]; then ok "$n: basin plot $k renders"
        else bad "$n: basin plot $k: $(tail -1 "$T/$n-$k.err")"; fi
    }
    if [ "$(q "SELECT count(*) FROM trajectories")" -gt 0 ]; then
        ok "$n: 2-D trajectories recorded"
        plot race --function "$(q "SELECT text FROM params WHERE key = 'model' LIMIT 1")"
    else
        plot curves --metric batch_loss
    fi
    has hessian-every "$f" && plot sharpness
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
