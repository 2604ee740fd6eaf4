#!/bin/sh
# run_unit.sh -- run each unit-test program, print its PASS/FAIL lines, and close with
# one "N passed, N failed" line over all of them. Exit 1 if any program failed.
total_p=0; total_f=0; bad=""
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
    p=$(printf '%s\n' "$out" | grep -c '^PASS ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $t exited $rc"; fi
    total_p=$((total_p + p)); total_f=$((total_f + f))
    [ $rc -ne 0 ] && bad="$bad $t"
done
echo "unit: $total_p passed, $total_f failed"
[ -z "$bad" ]
