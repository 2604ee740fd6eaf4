#!/bin/sh
# test_valgrind.sh -- representative basin commands under valgrind (make valgrind):
# init/eval with gradient, JVP and HVP, training on a synthetic set and on a CSV file,
# a Hessian probe, an experiment run into a store (workers traced), the query and
# merge commands, and a few bad inputs (error paths free what they allocated).
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
vg "bad: CSV with NaN" 1 eval --data csv:"$HERE/bad/csv_nan.csv" --model logreg
vg "bad: truncated .npy" 1 eval --model rosenbrock --init "$HERE/bad/npy_truncated.npy"
vg "bad: experiment file syntax" 1 run "$HERE/bad/ini_duplicate_key.ini" --dry-run
vg "bad: IDX truncated" 1 eval --data idx:"$HERE/bad/idx_truncated" --hidden 4

echo "$np passed, $nf failed"
[ "$nf" -eq 0 ]
