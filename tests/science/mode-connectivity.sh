#!/bin/sh
# mode-connectivity.sh -- linear interpolation barriers (basin interpolate on the
# training split, alpha in [0, 1] on 21 points): between two seeds of the same MLP at
# the end, before and after Git Re-Basin weight matching (Ainsworth et al. 2023), and
# between checkpoints of one run (Frankle et al. 2020: linearly connected once past an
# early phase). No pass/fail threshold was set in advance: the numbers are reported;
# the checks only assert that every barrier was measured and is finite.
. "$(dirname "$0")/lib.sh"
run_experiment mode-connectivity

ids=$(q "SELECT r.id FROM runs r JOIN experiment_runs e ON e.run = r.id
         WHERE e.experiment = '$EXP' AND r.status = 'COMPLETED' ORDER BY r.seed")
a=$(echo "$ids" | sed -n 1p)
b=$(echo "$ids" | sed -n 2p)
check "$EXP" "two completed seeds" test -n "$b"
# barrier NAME FROM TO [options]: basin interpolate, its numbers into $SCIENCE_DIR/EXP-NAME.txt
barrier() {
    nm=$1 from=$2 to=$3
    shift 3
    out=$SCIENCE_DIR/$EXP-$nm
    t0=$(date +%s)
    if "$B" interpolate --db "$DB" --from "$from" --to "$to" --alpha 0:1:21 --out "$out.csv" "$@" \
        >"$out.txt" 2>"$out.err" && grep -q '^barrier_loss=[0-9]' "$out.txt"; then
        ok "$EXP: $nm measured ($(($(date +%s) - t0)) s): $(grep -E '^(loss_a|loss_b|barrier_loss|barrier_error|matched_barrier_loss|matched_barrier_error)=' "$out.txt" |
            awk -F= '{ printf "%s%s=%.4g", (NR > 1 ? " " : ""), $1, $2 }')"
    else
        bad "$EXP: $nm: $(tail -1 "$out.err")"
    fi
}
if [ -n "$b" ]; then
    barrier seeds "$a" "$b" --match weights
    barrier ckpt200 "$a@200" "$a"
    barrier ckpt600 "$a@600" "$a"
    CSV="$SCIENCE_DIR/$EXP-seeds.csv $SCIENCE_DIR/$EXP-ckpt200.csv $SCIENCE_DIR/$EXP-ckpt600.csv"
    # shellcheck disable=SC2086
    render interp interp $(for f in $CSV; do printf -- '--csv %s ' "$f"; done)
fi
finish
