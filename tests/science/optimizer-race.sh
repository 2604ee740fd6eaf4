#!/bin/sh
# optimizer-race.sh -- the diffGrad paper (Dubey et al. 2019) shows diffGrad's path
# on 2-D test functions against Adam and others. A race has no threshold to assert;
# checked: no run FAILED, every completed run has a full trajectory (the others are
# marked DIVERGED), and each function's best run ends within 1e-3 of the minimum
# value 0. All runs of a function start from its conventional point (the model's). Reported: per function and optimizer, the best final f
# over the learning rates, and which lr gave it.
. "$(dirname "$0")/lib.sh"
run_experiment optimizer-race
check "$EXP" "no run FAILED" test "$(q "SELECT count(*) FROM runs r JOIN experiment_runs e
    ON e.run = r.id WHERE e.experiment = '$EXP' AND r.status NOT IN ('COMPLETED', 'DIVERGED')")" -eq 0
short=$(q "SELECT count(*) FROM runs r JOIN experiment_runs e ON e.run = r.id
           WHERE e.experiment = '$EXP' AND r.status = 'COMPLETED'
           AND (SELECT count(*) FROM trajectories t WHERE t.run = r.id) != r.total_steps")
check "$EXP" "every completed run has one trajectory point per step ($short short)" test "$short" -eq 0
for f in rosenbrock beale himmelblau; do
    best=$(q "SELECT printf('%.3g', min(t.loss)) FROM trajectories t JOIN runs r ON r.id = t.run
              JOIN runs_wide w ON w.run = t.run WHERE w.experiment = '$EXP' AND w.model = '$f'
              AND t.step = r.total_steps AND r.status = 'COMPLETED'")
    cond "$EXP" "$f: best final f $best < 1e-3" "\"$best\" != \"\" && $best < 1e-3"
    echo "  $f: best final f per optimizer over lr (x, y at the end; diverged runs: lr list):"
    q "SELECT w.optim, w.lr, printf('%.3g', t.loss), printf('%.4f', t.x), printf('%.4f', t.y)
       FROM trajectories t JOIN runs r ON r.id = t.run JOIN runs_wide w ON w.run = t.run
       WHERE w.experiment = '$EXP' AND w.model = '$f' AND t.step = r.total_steps
       AND t.loss = (SELECT min(t2.loss) FROM trajectories t2 JOIN runs r2 ON r2.id = t2.run
                     JOIN runs_wide w2 ON w2.run = t2.run WHERE w2.experiment = '$EXP'
                     AND w2.model = '$f' AND w2.optim = w.optim AND t2.step = r2.total_steps)
       GROUP BY w.optim ORDER BY t.loss" |
        awk -F'|' '{ printf "    %-9s lr=%-6s f=%-10s (%s, %s)\n", $1, $2, $3, $4, $5 }'
    div=$(q "SELECT group_concat(w.optim || '@' || w.lr, ' ') FROM runs r JOIN runs_wide w ON w.run = r.id
             WHERE w.experiment = '$EXP' AND w.model = '$f' AND r.status = 'DIVERGED'")
    echo "    DIVERGED: ${div:-none}"
    # the figure: each optimizer's best completed run on f (one path per optimizer)
    RUNS=$(q "SELECT (SELECT t.run FROM trajectories t JOIN runs r ON r.id = t.run
                      JOIN runs_wide w2 ON w2.run = t.run WHERE w2.experiment = '$EXP'
                      AND w2.model = '$f' AND w2.optim = w.optim AND t.step = r.total_steps
                      AND r.status = 'COMPLETED' ORDER BY t.loss LIMIT 1)
              FROM (SELECT DISTINCT optim FROM runs_wide WHERE experiment = '$EXP') w" | tr '\n' ' ')
    render "$f" race --function "$f"
    RUNS=
done
finish
