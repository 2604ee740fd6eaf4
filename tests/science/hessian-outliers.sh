#!/bin/sh
# hessian-outliers.sh -- Sagun et al. (2017, 2018), Papyan (2019, 2020): the Hessian of
# a trained classifier is a bulk near zero plus about C outliers (C classes); Gur-Ari
# et al. (2018): after a short early phase the gradient lies mostly in the top-C
# eigenspace. Checks, fixed in advance (C = 10): the number of outliers
# k = argmax over k <= 29 of lambda_k / lambda_{k+1} (1-based, the largest gap among
# the top 30 eigenvalues) at the last step is in [C-2, C+1] = [8, 11]; the median
# grad_overlap (share of the full-batch gradient's squared norm in the top-C
# eigenspace) over the last quarter of the steps exceeds 0.5.
. "$(dirname "$0")/lib.sh"
run_experiment hessian-outliers
C=10

id=$(q "SELECT r.id FROM runs r JOIN experiment_runs e ON e.run = r.id WHERE e.experiment = '$EXP' LIMIT 1")
total=$(q "SELECT total_steps FROM runs WHERE id = '$id'")
[ "${total:-0}" -gt 0 ] || total=$(q "SELECT max(step) FROM metrics WHERE run = '$id'")
# gap STEP: "k ratio" of the largest lambda_k / lambda_{k+1}, k <= 29 (a non-positive
# lambda_{k+1} after a positive lambda_k counts as an infinite gap)
gap() {
    q "SELECT value FROM hessian_eigs WHERE run = '$id' AND step = $1 AND method = 'lanczos' ORDER BY k" |
        awk '{ l[NR] = $1 } END { best = 0; bk = 0
            for (k = 1; k < NR && k <= 29; k++) {
                r = l[k + 1] > 0 ? l[k] / l[k + 1] : (l[k] > 0 ? 1e300 : 0)
                if (r > best) { best = r; bk = k } }
            printf "%d %.4g %d\n", bk, best, NR }'
}
echo "  eigenvalue gaps over training (step: k, lambda_k/lambda_k+1, lambda_1, overlap):"
for s in $(q "SELECT DISTINCT step FROM hessian_eigs WHERE run = '$id' ORDER BY step"); do
    echo "    step $s: $(gap "$s" | cut -d' ' -f1-2), lambda_1 $(q "SELECT printf('%.4g', value) FROM hessian_eigs
        WHERE run = '$id' AND step = $s AND k = 0 AND method = 'lanczos'"), overlap $(q "SELECT printf('%.3f', value)
        FROM metrics WHERE run = '$id' AND key = 'grad_overlap' AND step = $s")"
done
last=$(q "SELECT max(step) FROM hessian_eigs WHERE run = '$id'")
set -- $(gap "$last")
k=$1 ratio=$2 neig=$3
echo "  top 30 at step $last: $(q "SELECT printf('%.4g', value) FROM hessian_eigs WHERE run = '$id' AND step = $last
    AND method = 'lanczos' ORDER BY k" | tr '\n' ' ')"
check "$EXP" "30 eigenvalues at the last step ($neig)" test "$neig" -eq 30
cond "$EXP" "outliers k = $k (gap lambda_k/lambda_k+1 = $ratio) in [$((C - 2)), $((C + 1))]" \
    "$k >= $C - 2 && $k <= $C + 1"
from=$(awk "BEGIN { print int(0.75 * $total) }")
med=$(q "SELECT value FROM metrics WHERE run = '$id' AND key = 'grad_overlap' AND step >= $from ORDER BY value" |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
        else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
cond "$EXP" "median gradient overlap with the top-$C space over steps >= $from: $med > 0.5" \
    "\"$med\" != \"nan\" && $med > 0.5"
echo "  final train_acc $(q "SELECT printf('%.4f', value) FROM metrics WHERE run = '$id' AND key = 'train_acc'
    ORDER BY step DESC LIMIT 1"), test_acc $(q "SELECT printf('%.4f', value) FROM metrics WHERE run = '$id'
    AND key = 'test_acc' ORDER BY step DESC LIMIT 1")"
render spectrum spectrum
render overlap curves --metric grad_overlap
finish
