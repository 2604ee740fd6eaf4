#!/bin/sh
# test_valgrind.sh -- representative basin commands under valgrind (make valgrind):
# init/eval with gradient, JVP and HVP, training on a synthetic set and on a CSV file,
# a Hessian probe, an experiment run into a store (workers traced), SIGINT during a
# run's step-0 probe and its resume, the query and merge commands, and a few bad inputs
# (error paths free what they allocated).
# Each must exit with its usual status and valgrind must find no invalid access, no
# uninitialised use and no leak ("definitely" or "indirectly" lost).
#
#   sh tests/test_valgrind.sh ./basin
#
# One "PASS name" or "FAIL name: detail" line per command, then "N passed, M failed".
# Some minutes on 2 cores.
set -u

B=${1:-./basin}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
np=0 nf=0
pass() { np=$((np + 1)); echo "PASS $*"; }
fail() { nf=$((nf + 1)); echo "FAIL $*"; }
if [ ! -x "$B" ] || ! command -v valgrind >/dev/null 2>&1; then
    fail "setup: need an executable $B and valgrind"
    echo "$np passed, $nf failed"
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/basin-valgrind.XXXXXX") || exit 3
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
cd "$T" || exit 3
BASIN_THREADS=1 OPENBLAS_NUM_THREADS=1 LC_ALL=C
export BASIN_THREADS OPENBLAS_NUM_THREADS LC_ALL

# vg NAME RC ARGS...: basin ARGS under valgrind exits RC with a clean valgrind log.
n=0
vg() {
    name=$1 want=$2
    shift 2
    n=$((n + 1))
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --trace-children=yes --log-file="vg$n.%p.log" "$B" "$@" >out 2>&1
    rc=$?
    if [ $rc -eq 99 ] || [ -n "$(cat vg$n.*.log)" ]; then
        fail "$name: valgrind: $(grep -m 3 -E '==[0-9]+== [A-Z]' vg$n.*.log | tr '\n' ' ')"
    elif [ $rc -ne "$want" ]; then
        fail "$name: exit $rc, want $want: $(head -c 200 out | tr '\n' ' ')"
    else
        pass "$name"
    fi
}

printf '[experiment]\nname = vg\nseed = {1, 2}\n[data]\ndata = blobs\nsamples = 64\n[model]\nhidden = 4\n[train]\nbatch = 16\nsteps = 6\neval-every = 3\ncheckpoint-every = 2\n[probes]\nhessian-every = 3\nhessian-top = 2\nprobe-samples = 32\n' >vg.ini
printf 'label,a,b\n0,1,2\n1,2,1\n0,1.5,2.5\n1,3,0\n' >d.csv

vg "init" 0 init --data blobs --hidden 4 --seed 1 --out A.npy
vg "eval: gradient, JVP, HVP" 0 eval --data blobs --hidden 4 --init A.npy --grad-out G.npy \
    --jvp-in G.npy --hvp-in G.npy --hvp-out HV.npy
vg "train: blobs, sgd momentum" 0 train --data blobs --hidden 4 --optim sgd --lr 0.1 --momentum 0.9 \
    --batch 16 --steps 5 --quiet --save T.npy
vg "train: csv, adam, standardized" 0 train --data csv:d.csv --model logreg --optim adam --lr 0.01 \
    --scale standardize --steps 3 --quiet
vg "hessian: lanczos top 2, trace" 0 hessian --data blobs --hidden 4 --init T.npy --top 2 --trace
vg "run: 2 runs with probes into a store" 0 run vg.ini --db vg.db --jobs 1
vg "runs" 0 runs --db vg.db
vg "export" 0 export --db vg.db --experiment vg --table metrics
vg "merge" 0 merge m.db vg.db
# SIGINT while a run is at step 0, its step-0 probe running (a few seconds under
# valgrind): the resume checkpoint it leaves holds no uninitialised bytes (the data
# order is drawn by step 1), the rerun resumes from it without a "checkpoint unusable"
# warning, and the rows are those of an uninterrupted run (under valgrind too: OpenBLAS
# picks other kernels there, so only valgrind runs compare bit for bit)
printf '[experiment]\nname = vgint\nseed = 1\n[data]\ndata = blobs\nsamples = 1024\n[model]\nhidden = 32\n[train]\nbatch = 32\nsteps = 6\neval-every = 3\ncheckpoint-every = 2\n[probes]\nhessian-every = 100\nhessian-top = 6\n' >int.ini
# int_rows DB: its metric rows without the wall-time column, sorted
int_rows() { "$B" export --db "$1" --experiment vgint --table metrics | cut -d, -f1-5 | sort; }
vg "run: uninterrupted, a slow step-0 probe" 0 run int.ini --db int-ref.db
n=$((n + 1))   # --malloc-fill: an order saved unfilled is out of range, not zeros
valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --malloc-fill=0xa5 --trace-children=yes --log-file="vg$n.%p.log" "$B" run int.ini --db int.db >int1.out 2>&1 &
pid=$!
i=0   # the run claimed (RUNNING): from here to step 1 it sets up and probes step 0
while [ $i -lt 600 ] && ! "$B" runs --db int.db --status RUNNING 2>/dev/null | grep -q RUNNING; do
    sleep 0.1
    i=$((i + 1))
done
kill -INT $pid
wait $pid
rc=$?
if [ -n "$(cat vg$n.*.log)" ]; then
    fail "run: SIGINT at step 0: valgrind: $(grep -m 3 -E '==[0-9]+== [A-Z]' vg$n.*.log | tr '\n' ' ')"
elif [ $rc -ne 130 ] || ! grep -q "INTERRUPTED.*at step 0" int1.out; then
    fail "run: SIGINT at step 0: exit $rc, want 130 and INTERRUPTED at step 0: $(tail -c 200 int1.out | tr '\n' ' ')"
else
    pass "run: SIGINT at step 0, the probe running: the checkpoint fully initialised"
fi
vg "run: the rerun of the interrupted run" 0 run int.ini --db int.db
if grep -q "checkpoint unusable" out; then
    fail "run: the rerun resumes from the step-0 checkpoint: $(grep "checkpoint unusable" out | head -c 200)"
elif int_rows int.db >int.rows; int_rows int-ref.db >int-ref.rows; ! cmp -s int.rows int-ref.rows; then
    fail "run: the resumed run's rows are the uninterrupted run's: $(diff int-ref.rows int.rows | head -3 | tr '\n' ' ')"
else
    pass "run: the rerun resumes from the step-0 checkpoint, with the uninterrupted run's rows"
fi
vg "bad: CSV with NaN" 1 eval --data csv:"$HERE/bad/csv_nan.csv" --model logreg
vg "bad: truncated .npy" 1 eval --model rosenbrock --init "$HERE/bad/npy_truncated.npy"
vg "bad: experiment file syntax" 1 run "$HERE/bad/ini_duplicate_key.ini" --dry-run
vg "bad: IDX truncated" 1 eval --data idx:"$HERE/bad/idx_truncated" --hidden 4

echo "$np passed, $nf failed"
[ "$nf" -eq 0 ]
