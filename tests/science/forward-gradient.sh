#!/bin/sh
# forward-gradient.sh -- Baydin et al. (2022): the forward gradient trains without a
# backward pass, so it needs no stored activations. Check, fixed in advance: every
# forward-grad run's training steps ran no backward pass (backward_runs = 0, the
# core's ad_runs counters) and its peak autodiff workspace is below the backprop
# SGD run's at the same learning rate. Reported: final train loss and test accuracy,
# loss at equal steps and at equal wall time, time per step.
. "$(dirname "$0")/lib.sh"
run_experiment forward-gradient
zo_checks() {   # zo_checks OPTIM: the no-backward and memory checks of OPTIM vs sgd
    o=$1
    rows=$(q "SELECT w.lr, w.optim, max(CASE WHEN m.key = 'backward_runs' THEN m.value END),
                     max(CASE WHEN m.key = 'peak_workspace_bytes' THEN m.value END),
                     max(CASE WHEN m.key = 'train_loss' THEN m.value END),
                     max(CASE WHEN m.key = 'test_acc' THEN m.value END), w.status
              FROM metrics_latest m JOIN runs_wide w ON w.run = m.run
              JOIN experiment_runs e ON e.run = m.run WHERE e.experiment = '$EXP'
              GROUP BY w.run ORDER BY w.lr, w.optim")
    echo "$rows" | awk -F'|' '{ printf "  lr=%s %-12s backward_runs=%s peak_workspace_bytes=%s final train_loss=%.4g test_acc=%.4g (%s)\n", $1, $2, $3, $4, $5, $6, $7 }'
    for lr in $(echo "$rows" | cut -d'|' -f1 | sort -u); do
        zb=$(echo "$rows" | awk -F'|' -v l="$lr" -v o="$o" '$1 == l && $2 == o { print $3 }')
        zm=$(echo "$rows" | awk -F'|' -v l="$lr" -v o="$o" '$1 == l && $2 == o { print $4 }')
        sb=$(echo "$rows" | awk -F'|' -v l="$lr" '$1 == l && $2 == "sgd" { print $3 }')
        sm=$(echo "$rows" | awk -F'|' -v l="$lr" '$1 == l && $2 == "sgd" { print $4 }')
        cond "$EXP" "lr=$lr: $o ran no backward pass ($zb; backprop SGD $sb)" "\"$zb\" != \"\" && $zb == 0 && $sb > 0"
        cond "$EXP" "lr=$lr: $o peak workspace $zm < backprop's $sm bytes" "\"$zm\" != \"\" && $zm < $sm"
    done
    echo "  loss at equal steps and at equal wall time (seconds since the run's first metric):"
    q "WITH t AS (SELECT m.run, m.step, m.value, m.wall - (SELECT min(wall) FROM metrics x WHERE x.run = m.run) AS s
                  FROM metrics m JOIN experiment_runs e ON e.run = m.run
                  WHERE e.experiment = '$EXP' AND m.key = 'train_loss')
       SELECT w.lr, w.optim, max(t.step), printf('%.1f', max(t.s)), printf('%.2f', 1000 * max(t.s) / max(t.step)),
              (SELECT printf('%.4g', value) FROM t t2 WHERE t2.run = t.run ORDER BY t2.step DESC LIMIT 1)
       FROM t JOIN runs_wide w ON w.run = t.run GROUP BY t.run ORDER BY w.lr, w.optim" |
        awk -F'|' '{ printf "    lr=%s %-12s %s steps in %s s (%s ms a step incl. evaluations): train_loss %s\n", $1, $2, $3, $4, $5, $6 }'
}
zo_checks forward-grad
render loss curves --metric train_loss
render test-acc compare --metric test_acc
finish
