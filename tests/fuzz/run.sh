#!/bin/sh
# run.sh -- run libFuzzer targets one after another, each for SECONDS, on one core.
#
#   sh tests/fuzz/run.sh SECONDS NAME...      (make fuzz, make fuzz-ci)
#
# Target NAME is build/fuzz/tests/fuzz/fuzz_NAME; its seeds are tests/fuzz/corpus/NAME
# (read, never written). New inputs go to build/fuzz/corpus/NAME, a crash, leak or
# timeout's input to build/fuzz/artifacts/NAME-*, each target's log to
# build/fuzz/NAME.log. Prints one "PASS fuzz_NAME: N executions in S s" or FAIL line
# per target and exits 1 when any target found something.
set -u
secs=$1
shift
cd "$(dirname "$0")/../.." || exit 3
# scratch files on tmpfs: SQLite's fsyncs would otherwise dominate fuzz_merge
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && TMPDIR=/dev/shm && export TMPDIR
# ASan's quarantine of freed memory (256 MB by default) made SQLite's many small
# allocations page-fault: 8 MB still catches a use after a recent free, and fuzz_merge
# runs 1.4x faster. A caller's ASAN_OPTIONS wins.
: "${ASAN_OPTIONS:=quarantine_size_mb=8:thread_local_quarantine_size_kb=64}"
export ASAN_OPTIONS
fail=0
for t in "$@"; do
    bin=build/fuzz/tests/fuzz/fuzz_$t
    mkdir -p "build/fuzz/corpus/$t" build/fuzz/artifacts
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or a blow-up
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/artifacts/$t-" \
        "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$t.log")
    if [ $rc -eq 0 ]; then
        echo "PASS fuzz_$t: ${runs:-?} executions in $secs s"
    else
        fail=1
        echo "FAIL fuzz_$t: exit $rc after ${runs:-?} executions; see build/fuzz/$t.log:"
        grep -E 'ERROR|SUMMARY|Test unit written' "build/fuzz/$t.log" | head -5
    fi
done
exit $fail
