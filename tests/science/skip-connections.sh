#!/bin/sh
# skip-connections.sh -- Li et al. (2018): without skip connections a deep network's
# loss surface turns chaotic and non-convex; with them it stays smooth and nearly
# convex. For each run of skip-connections.ini (resnet, skips on and off) a
# filter-normalized 2-D landscape, 41 x 41 on [-1, 1]^2, on the run's 1,000 training
# samples, stored with the run (basin landscape --init RUN --db). Measure, fixed in
# advance: the mean over the central region |x|, |y| <= 0.5 (21 x 21 points) of
# |lambda_min / lambda_max| of the 2x2 Hessian of the surface by central differences
# on the grid (h = 0.05). Check: larger without skips. Also reported: the share of
# central points with lambda_min < 0 (negative curvature).
. "$(dirname "$0")/lib.sh"
run_experiment skip-connections
N=${LANDSCAPE_N:-41}   # grid points per axis (41: the check as stated)

runs=$(q "SELECT r.id || ' ' || w.skip FROM runs r JOIN runs_wide w ON w.run = r.id
          JOIN experiment_runs e ON e.run = r.id WHERE e.experiment = '$EXP' AND r.status = 'COMPLETED'
          ORDER BY w.skip")
check "$EXP" "two completed runs (skip on, off)" test "$(echo "$runs" | grep -c .)" -eq 2
# grid RUN: the number of its N x N [-1, 1]^2 random filter-normalized grid
grid() {
    q "SELECT grid FROM landscape_grids WHERE run = '$1' AND nx = $N AND ny = $N AND x0 = -1 AND x1 = 1
       AND y0 = -1 AND y1 = 1 AND axes = 'random' AND normalization = 'filter' AND ignore_biasbn = 1
       ORDER BY grid DESC LIMIT 1"
}
# curvature RUN GRID: "mean |lmin/lmax| over the centre, share of lmin < 0, points"
curvature() {
    q "SELECT i, j, loss FROM landscape_points WHERE run = '$1' AND grid = $2" | awk -F'|' -v n="$N" '
        { f[$1, $2] = $3 }
        END { h = 2 / (n - 1); lo = int((n - 1) / 4 + 0.5); hi = n - 1 - lo; s = 0; m = 0; neg = 0
            for (i = lo; i <= hi; i++) for (j = lo; j <= hi; j++) {
                fxx = (f[i, j + 1] - 2 * f[i, j] + f[i, j - 1]) / (h * h)
                fyy = (f[i + 1, j] - 2 * f[i, j] + f[i - 1, j]) / (h * h)
                fxy = (f[i + 1, j + 1] - f[i + 1, j - 1] - f[i - 1, j + 1] + f[i - 1, j - 1]) / (4 * h * h)
                c = (fxx + fyy) / 2; d = sqrt((fxx - fyy) ^ 2 / 4 + fxy ^ 2)
                lmax = c + d; lmin = c - d
                if (lmax == 0) continue
                s += (lmin / lmax < 0 ? -lmin / lmax : lmin / lmax); m++; neg += lmin < 0 }
            printf "%.6g %.4g %d\n", s / m, neg / m, m }'
}
echo "$runs" | while read -r id skip; do
    g=$(grid "$id")
    if [ -z "$g" ]; then
        t0=$(date +%s)
        if "$B" landscape --db "$DB" --init "$id" --x -1:1:$N --y -1:1:$N >"$SCIENCE_DIR/$EXP-$skip.landscape.log" 2>&1; then
            echo "  landscape skip=$skip: $(($(date +%s) - t0)) s"
        else
            echo "FAIL $EXP: basin landscape skip=$skip: $(tail -1 "$SCIENCE_DIR/$EXP-$skip.landscape.log")"
        fi
        g=$(grid "$id")
    fi
    [ -n "$g" ] || continue
    set -- $(curvature "$id" "$g")
    echo "$skip $1 $2 $3" >"$SCIENCE_DIR/$EXP-$skip.curv"
    echo "  skip=$skip: mean |lambda_min/lambda_max| over the centre $1 ($3 points), lambda_min < 0 at $2 of them;" \
        "loss at the centre $(q "SELECT printf('%.4g', loss) FROM landscape_points WHERE run = '$id' AND grid = $g
        AND i = $(((N - 1) / 2)) AND j = $(((N - 1) / 2))"), train_acc $(q "SELECT printf('%.4f', value) FROM metrics
        WHERE run = '$id' AND key = 'train_acc' ORDER BY step DESC LIMIT 1"), test_acc $(q "SELECT printf('%.4f', value)
        FROM metrics WHERE run = '$id' AND key = 'test_acc' ORDER BY step DESC LIMIT 1")"
done > "$SCIENCE_DIR/$EXP.check"
cat "$SCIENCE_DIR/$EXP.check"
fail=$((fail + $(grep -c '^FAIL' "$SCIENCE_DIR/$EXP.check")))
on=$(cut -d' ' -f2 "$SCIENCE_DIR/$EXP-on.curv" 2>/dev/null)
off=$(cut -d' ' -f2 "$SCIENCE_DIR/$EXP-off.curv" 2>/dev/null)
cond "$EXP" "mean |lambda_min/lambda_max| without skips ${off:-?} > with skips ${on:-?}" \
    "\"${on:-}\" != \"\" && \"${off:-}\" != \"\" && ${off:-0} > ${on:-0}"
for skip in on off; do
    RUNS=$(echo "$runs" | awk -v s=$skip '$2 == s { print $1 }') render "landscape-$skip" landscape --logy
done
finish
