#!/bin/sh
# submit.sh -- run an experiment file as a Slurm array of N shards, then merge them.
#
#   sh experiments/slurm/submit.sh experiments/example.ini 4 [OUT.db]
#
# Prints the two job ids. The merge runs only if every shard succeeded (afterok). If a
# task failed, the merge job stays pending (DependencyNeverSatisfied): fix the cause,
# requeue the task under its job id, which keeps its shard database (completed runs
# are skipped, interrupted ones resumed), and merge by hand:
#   scontrol requeue JOB_TASK      (a requeued task waits ~2 min; scontrol update
#                                  jobid=JOB_TASK StartTime=now starts it at once)
#   scancel MERGEJOB; sbatch experiments/slurm/merge.sbatch JOB [OUT.db]
# Not sbatch --array=TASK array.sbatch: a new job's single task is shard 0 of 1 (every
# run, into a new database that merge.sbatch JOB does not read).
# tests/test_slurm.sh (make test-slurm) runs all of this on a single-node Slurm.
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
