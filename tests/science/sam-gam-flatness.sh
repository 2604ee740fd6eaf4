#!/bin/sh
# sam-gam-flatness.sh -- Foret et al. (2021), Zhang et al. (2023): SAM and GAM end in
# flatter minima than SGD. Check, fixed in advance: on every seed, the final
# lambda_max of SAM and of GAM (non-adaptive) is below SGD's. Reported beside it:
# ASAM and adaptive GAM, the Hutchinson trace, GAM's first-order flatness, train loss
# and test accuracy (means over seeds), and that SGD with adaptive=true equals SGD.
. "$(dirname "$0")/lib.sh"
run_experiment sam-gam-flatness

# final value of KEY per (optim, adaptive, seed)
final() {
    q "SELECT w.optim, w.adaptive, w.seed, m.value FROM metrics_latest m
       JOIN runs_wide w ON w.run = m.run JOIN experiment_runs e ON e.run = m.run
       WHERE e.experiment = '$EXP' AND m.key = '$1' AND w.status = 'COMPLETED'"
}
final lambda_max >"$SCIENCE_DIR/$EXP.lmax"
seeds=$(q "SELECT DISTINCT w.seed FROM runs_wide w JOIN experiment_runs e ON e.run = w.run
           WHERE e.experiment = '$EXP' ORDER BY 1")
check "$EXP" "18 runs COMPLETED" test "$(q "SELECT count(*) FROM runs r JOIN experiment_runs e
    ON e.run = r.id WHERE e.experiment = '$EXP' AND r.status = 'COMPLETED'")" -eq 18
for s in $seeds; do
    l() { awk -F'|' -v o="$1" -v a="$2" -v s="$s" '$1 == o && $2 == a && $3 == s { print $4 }' "$SCIENCE_DIR/$EXP.lmax"; }
    sgd=$(l sgd false) sam=$(l sam false) gam=$(l gam false) asam=$(l sam true) agam=$(l gam true)
    echo "  seed $s: final lambda_max SGD $sgd, SAM $sam, GAM $gam (ASAM $asam, adaptive GAM $agam)"
    cond "$EXP" "seed $s: SAM ends flatter than SGD (lambda_max $sam < $sgd)" "\"$sam\" != \"\" && $sam < $sgd"
    cond "$EXP" "seed $s: GAM ends flatter than SGD (lambda_max $gam < $sgd)" "\"$gam\" != \"\" && $gam < $sgd"
done
echo "  means over seeds at the end (optimizer, adaptive):"
for k in lambda_max trace sharp_flatness train_loss test_acc; do
    q "SELECT '    $k', w.optim, w.adaptive, printf('%.4g', avg(m.value)), count(*) FROM metrics_latest m
       JOIN runs_wide w ON w.run = m.run JOIN experiment_runs e ON e.run = m.run
       WHERE e.experiment = '$EXP' AND m.key = '$k' GROUP BY w.optim, w.adaptive
       ORDER BY w.optim, w.adaptive" | tr '|' ' '
done
same=$(q "SELECT count(*) FROM metrics a JOIN runs_wide wa ON wa.run = a.run
          JOIN runs_wide wb ON wb.optim = 'sgd' AND wb.seed = wa.seed AND wb.adaptive = 'true'
          JOIN metrics b ON b.run = wb.run AND b.key = a.key AND b.step = a.step
          WHERE wa.experiment = '$EXP' AND wa.optim = 'sgd' AND wa.adaptive = 'false'
          AND a.key = 'batch_loss' AND a.value != b.value")
check "$EXP" "control: SGD with adaptive=true has SGD's batch losses ($same differ)" test "$same" -eq 0
render sharpness sharpness
render lambda-max compare --metric lambda_max
render test-acc compare --metric test_acc
finish
