#!/bin/sh
# submit.sh -- run an experiment file as a Slurm array of N shards, then merge them.
#
#   sh experiments/slurm/submit.sh experiments/example.ini 4 [OUT.db]
#
# Prints the two job ids. The merge runs only if every shard succeeded (afterok); if
# one failed, fix and resubmit that task (or rerun the whole array: completed runs are
# skipped), then run merge.sbatch by hand.
set -eu
FILE=${1:?usage: submit.sh FILE.ini N [OUT.db]}
N=${2:?usage: submit.sh FILE.ini N [OUT.db]}
OUT=${3:-results/basin.db}
HERE=$(dirname "$0")
mkdir -p results
JOB=$(sbatch --parsable --array=0-$((N - 1)) "$HERE/array.sbatch" "$FILE")
JOB=${JOB%%;*}
MERGE=$(sbatch --parsable --dependency=afterok:"$JOB" "$HERE/merge.sbatch" "$JOB" "$OUT")
echo "array job $JOB ($N shards), merge job $MERGE -> $OUT"
