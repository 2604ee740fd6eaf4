#!/bin/sh
# run.sh -- every phenomenon check tests/science/*.sh (all but lib.sh, tiny.sh, this),
# one after the other; `make test-science`. Prints each check's lines and closes with
# "N passed, M failed" counting checks (scripts). Arguments: names to run only those
# (run.sh edge-of-stability mezo).
cd "$(dirname "$0")" || exit 3
passed=0
failed=0
names=""
for f in *.sh; do
    n=${f%.sh}
    case $n in lib|run|tiny) continue ;; esac
    if [ $# -gt 0 ]; then
        keep=0
        for a in "$@"; do [ "$a" = "$n" ] && keep=1; done
        [ $keep = 1 ] || continue
    fi
    echo "== $n"
    t0=$(date +%s)
    if sh "./$f"; then
        passed=$((passed + 1))
        echo "== $n: ok ($(($(date +%s) - t0)) s)"
    else
        failed=$((failed + 1))
        names="$names $n"
        echo "== $n: FAILED ($(($(date +%s) - t0)) s)"
    fi
done
[ -n "$names" ] && echo "failed:$names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
