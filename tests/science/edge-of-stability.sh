#!/bin/sh
# edge-of-stability.sh -- Cohen et al. (2021): under full-batch gradient descent the
# top Hessian eigenvalue rises (progressive sharpening) until it reaches 2/eta, then
# hovers at it. Check, fixed in advance: for each step size, the median of lambda_max
# over the last quarter of the steps is within 10% of 2/eta.
. "$(dirname "$0")/lib.sh"
run_experiment edge-of-stability

runs=$(q "SELECT r.id || ' ' || w.lr || ' ' || r.total_steps || ' ' || r.status FROM runs r
          JOIN runs_wide w ON w.run = r.id JOIN experiment_runs e ON e.run = r.id
          WHERE e.experiment = '$EXP' ORDER BY w.lr DESC")
check "$EXP" "three step sizes" test "$(echo "$runs" | grep -c .)" -eq 3
echo "$runs" | while read -r id lr total status; do
    thr=$(awk "BEGIN { printf \"%.6g\", 2 / $lr }")
    from=$(awk "BEGIN { print int(0.75 * $total) }")
    med=$(q "SELECT value FROM metrics WHERE run = '$id' AND key = 'lambda_max' AND step >= $from
             ORDER BY value" | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
             else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    first=$(q "SELECT printf('%.4g', value) FROM metrics WHERE run = '$id' AND key = 'lambda_max' ORDER BY step LIMIT 1")
    peak=$(q "SELECT printf('%.4g', max(value)) FROM metrics WHERE run = '$id' AND key = 'lambda_max'")
    loss=$(q "SELECT printf('%.4g', value) FROM metrics WHERE run = '$id' AND key = 'train_loss' ORDER BY step DESC LIMIT 1")
    echo "  lr=$lr 2/lr=$thr: lambda_max at step 0 $first, max $peak, last-quarter (steps >= $from) median $med; final train loss $loss ($status)"
    cond "$EXP" "lr=$lr: last-quarter median lambda_max $med within 10% of 2/lr = $thr" \
        "\"$med\" != \"nan\" && $med >= 0.9 * $thr && $med <= 1.1 * $thr"
done > "$SCIENCE_DIR/$EXP.check"
cat "$SCIENCE_DIR/$EXP.check"
pass=$((pass + $(grep -c '^PASS' "$SCIENCE_DIR/$EXP.check")))
fail=$((fail + $(grep -c '^FAIL' "$SCIENCE_DIR/$EXP.check")))
render sharpness sharpness
render loss curves --metric train_loss --logy
finish
