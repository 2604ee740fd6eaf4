#!/bin/sh
# neural-collapse.sh -- Papyan, Han & Donoho (2020): in the terminal phase of training
# (after zero training error) the last-layer features collapse to their class means:
# NC1 = Tr(Sw Sb^+)/C keeps falling by orders of magnitude while NC2-NC4 approach 0.
# Check, fixed in advance, on the balanced run: NC1 at the end is at least 10 times
# smaller than NC1 at the first epoch with zero training error (nc_error = 0 on the
# whole training set). The imbalanced run (imbalance = 10) is reported, not checked.
. "$(dirname "$0")/lib.sh"
run_experiment neural-collapse

runs=$(q "SELECT r.id || ' ' || w.imbalance || ' ' || (w.imbalance = 1) || ' ' || r.status FROM runs r
          JOIN runs_wide w ON w.run = r.id JOIN experiment_runs e ON e.run = r.id
          WHERE e.experiment = '$EXP' ORDER BY w.imbalance")
check "$EXP" "a balanced and an imbalanced run" test "$(echo "$runs" | grep -c .)" -eq 2
# at RUN STEP KEY: the metric's value, 4 significant digits
at() { q "SELECT printf('%.4g', value) FROM metrics WHERE run = '$1' AND key = '$3' AND step = $2"; }
echo "$runs" | while read -r id imb balanced status; do
    z=$(q "SELECT min(step) FROM metrics WHERE run = '$id' AND key = 'nc_error' AND value = 0")
    last=$(q "SELECT max(step) FROM metrics WHERE run = '$id' AND key = 'nc1'")
    n=$(q "SELECT count(*) FROM metrics WHERE run = '$id' AND key = 'nc1'")
    ep=$(q "SELECT printf('%.1f', epoch) FROM metrics WHERE run = '$id' AND key = 'nc1' AND step = ${z:-0}")
    echo "  imbalance=$imb ($status): zero training error first at step ${z:-never} (epoch ${ep:-}), last step $last; NC measured $n times"
    for k in nc1 nc2_equinorm_means nc2_equiangular_means nc2_equinorm_weights nc2_equiangular_weights nc3 nc4 nc_margin; do
        echo "    $k: step 0 $(at "$id" 0 $k), zero error $( [ -n "$z" ] && at "$id" "$z" $k), end $(at "$id" "$last" $k)"
    done
    echo "    test_acc at the end: $(q "SELECT printf('%.4f', value) FROM metrics WHERE run = '$id' AND key = 'test_acc' ORDER BY step DESC LIMIT 1")"
    if [ "$balanced" = 1 ]; then
        if [ -z "$z" ]; then
            echo "FAIL $EXP: balanced run never reached zero training error"
        else
            a=$(q "SELECT value FROM metrics WHERE run = '$id' AND key = 'nc1' AND step = $z")
            b=$(q "SELECT value FROM metrics WHERE run = '$id' AND key = 'nc1' AND step = $last")
            r=$(awk "BEGIN { printf \"%.3g\", $a / $b }")
            if awk "BEGIN { exit !($a >= 10 * $b) }"; then s=PASS; else s=FAIL; fi
            echo "$s $EXP: NC1 falls ${r}x after zero training error (step $z: $a, step $last: $b; want >= 10x)"
        fi
    fi
done > "$SCIENCE_DIR/$EXP.check"
cat "$SCIENCE_DIR/$EXP.check"
pass=$((pass + $(grep -c '^PASS' "$SCIENCE_DIR/$EXP.check")))
fail=$((fail + $(grep -c '^FAIL' "$SCIENCE_DIR/$EXP.check")))
render collapse collapse
render nc1 curves --metric nc1 --logy --x epoch
finish
