#!/bin/sh
# test_slurm.sh -- experiments/slurm/ on a real single-node Slurm (make test-slurm):
#   starts a private munged, slurmctld and slurmd (Debian's munge and slurm-wlm,
#   installed by scripts/deps.sh slurm) on localhost from a temporary slurm.conf,
#   submits an 8-run experiment as a 4-task array with experiments/slurm/submit.sh (the
#   merge job chained afterok) and checks:
#   - every array task and the merge job COMPLETED, the merge after the last task
#   - each shard database holds exactly its shard's runs (basin run --dry-run --shard)
#   - the merged database: integrity_check ok, every run of --dry-run COMPLETED once
#   - merge.sbatch again adds nothing (no row of any table twice)
#   - metric rows (all columns but wall time) and final theta equal to a plain
#     `basin run` of the same file without Slurm
#   - a requeued finished task reuses its shard database: its runs are skipped
#   - a failed task: the merge job never starts; scontrol requeue of the task and
#     merge.sbatch by hand (submit.sh's recovery) give the whole store
#   - preemption (scontrol requeue of a running task: SIGTERM, then --requeue): the run
#     INTERRUPTED at a checkpoint, the rerun resumes from it to an uninterrupted run's
#     metric rows and theta
#
#   sh tests/test_slurm.sh ./basin        SLURM_TEST_PORT=16817 SLURM_TEST_TIMEOUT=300
#
# Everything lives in a temporary directory: slurm.conf, the munge key and socket
# (munged runs with its own key and socket, so a system munged is left alone), state,
# spool, logs and the jobs' working directory. The daemons run as root (SlurmUser=root),
# without cgroups (proctrack/linuxproc, task/none), on the first two free ports from
# SLURM_TEST_PORT on.
# The trap stops the daemons it started and removes the directory. One "PASS name" or
# "FAIL name: detail" line per check, then "N passed, M failed". About a minute.
set -u

B=${1:-./basin}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
REPO=$(cd "$(dirname "$0")/.." && pwd)
SLURMDIR=$REPO/experiments/slurm
PORT=${SLURM_TEST_PORT:-16817}
TIMEOUT=${SLURM_TEST_TIMEOUT:-300}
np=0 nf=0
pass() { np=$((np + 1)); echo "PASS $*"; }
fail() { nf=$((nf + 1)); echo "FAIL $*"; }
check() { n_=$1 d_=$2; shift 2; if "$@"; then pass "$n_"; else fail "$n_: $d_"; fi; }
finish() { echo "$np passed, $nf failed"; [ "$nf" -eq 0 ]; exit $?; }

if ! sh "$REPO/scripts/deps.sh" slurm; then
    fail "setup: the Debian packages slurm-wlm and munge are missing (see above)"
    finish
fi
if [ "$(id -u)" -ne 0 ]; then
    fail "setup: needs root (slurmd runs jobs as their user; SlurmUser=root)"
    finish
fi
if [ ! -x "$B" ] || ! command -v sqlite3 >/dev/null 2>&1; then
    fail "setup: need an executable $B and the sqlite3 shell"
    finish
fi

# a clean client environment: nothing of an enclosing Slurm job or the user's defaults
for v in $(env | sed -n 's/^\(\(SLURM\|SBATCH\|SQUEUE\|SINFO\|SCONTROL\)_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/basin-slurm.XXXXXX") || exit 3
chmod 755 "$T"           # munged wants its socket's directories searchable by all
SLURM_CONF=$T/slurm.conf LC_ALL=C
export SLURM_CONF LC_ALL
MUNGED="" CTLD="" SLURMD=""
cleanup() {
    if [ -n "$CTLD" ] && kill -0 "$CTLD" 2>/dev/null; then
        scancel -u root 2>/dev/null
        i=0; while [ -n "$(squeue -h 2>/dev/null)" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    fi
    for p in $SLURMD $CTLD $MUNGED; do
        kill -TERM "$p" 2>/dev/null
        i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
# logs: what a failure prints
logs() {
    echo "---- squeue"; squeue 2>&1
    echo "---- sinfo"; sinfo 2>&1
    for f in "$T"/log/*.log "$T"/log/jobcomp.txt "$T"/w/results/slurm-*.out; do
        [ -f "$f" ] || continue
        echo "---- ${f#"$T"/} (last 15 lines)"; tail -n 15 "$f"
    done
}

# ---- munged, slurmctld, slurmd -------------------------------------------------------
mkdir -p "$T/munge" "$T/sock" "$T/spool/ctld" "$T/spool/d" "$T/log" "$T/w"
chmod 700 "$T/munge"
# a key of our own (the system's /etc/munge/munge.key is neither needed nor touched)
if [ ! -f "$T/munge/munge.key" ]; then
    dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$T/munge/munge.key"
fi
SOCK=$T/sock/munge.socket
# --force: munged refuses to run as root otherwise
munged -F --force -S "$SOCK" --key-file="$T/munge/munge.key" --log-file="$T/log/munged.log" \
    --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munged.seed" >"$T/log/munged.out" 2>&1 &
MUNGED=$!
i=0; until munge -n -S "$SOCK" 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1 || [ $i -ge 50 ]; do
    sleep 0.2; i=$((i + 1))
done
ok=0; munge -n -S "$SOCK" 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1 && ok=1
check "munge: munged on a private socket encodes and decodes" "$(tail -n 3 "$T/log/munged.log" "$T/log/munged.out" 2>&1 | tr '\n' ' ')" test $ok = 1
[ $ok = 1 ] || finish

# two free ports from SLURM_TEST_PORT on (a Slurm of the machine, or another run of this
# test, may hold some)
free() { ! command -v ss >/dev/null 2>&1 || [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
i=0; while [ $i -lt 50 ] && ! { free "$PORT" && free $((PORT + 1)); }; do PORT=$((PORT + 2)); i=$((i + 1)); done
# the node as slurmd sees it: CPUs, boards, sockets, cores, threads, RealMemory
HW=$(slurmd -C 2>/dev/null | sed -n '1s/^NodeName=[^ ]* //p')
case $HW in *CPUs=*RealMemory=*) ;; *) fail "setup: slurmd -C: '$HW'"; finish ;; esac
cat >"$SLURM_CONF" <<EOF
ClusterName=basintest
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$T/spool/ctld
SlurmdSpoolDir=$T/spool/d
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$T/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 $HW State=UNKNOWN
PartitionName=basintest Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
t0=$(date +%s)
slurmctld -D -f "$SLURM_CONF" >"$T/log/slurmctld.out" 2>&1 &
CTLD=$!
i=0; until scontrol ping 2>/dev/null | grep -q 'is UP' || [ $i -ge 100 ]; do sleep 0.2; i=$((i + 1)); done
slurmd -D -f "$SLURM_CONF" -N localhost >"$T/log/slurmd.out" 2>&1 &
SLURMD=$!
i=0; st=""
while [ $i -lt 150 ]; do
    st=$(sinfo -h -N -n localhost -o %t 2>/dev/null)
    [ "$st" = idle ] && break
    sleep 0.2; i=$((i + 1))
done
check "slurm: slurmctld and slurmd up (ports $PORT, $((PORT + 1))), node localhost idle (in $(($(date +%s) - t0)) s)" \
    "node state '$st'" test "$st" = idle
if [ "$st" != idle ]; then logs; finish; fi

# ---- the experiment: 8 runs of 300 steps, a 4-task array, the merge chained afterok -----
cd "$T/w" || exit 3
cat >s.ini <<'EOF2'
[experiment]
name = slurmtest
seed = {1..4}
[data]
data = blobs
samples = 256
test-samples = 64
[model]
hidden = 32,32
[optim]
lr = {0.05, 0.1}
momentum = 0.9
[train]
batch = 64
steps = 300
eval-every = 50
EOF2
N=4
q() { sqlite3 "$1" "$2" 2>&1; }
# ids [--shard i/N]: the 12-character run ids of the file (or of one shard), sorted
ids() { "$B" run s.ini --dry-run "$@" | sed -n 's/^\([0-9a-f]\{12\}\)  .*/\1/p' | sort; }
# dbids DB: the runs a database holds, one line per row (duplicates would show)
dbids() { q "$1" "SELECT substr(id, 1, 12) FROM runs ORDER BY 1"; }
# rows DB: the metric rows without the wall-time column, sorted
rows() { "$B" export --db "$1" --experiment slurmtest --table metrics | tail -n +2 | cut -d, -f1-5 | sort; }
# thetas DB: each run's final snapshot
thetas() { q "$1" "SELECT run, step, hex(theta) FROM checkpoints WHERE kind = 'snapshot' ORDER BY 1, 2"; }
# counts DB: the rows of every table
counts() {
    for t in $(q "$1" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"); do
        echo "$t $(q "$1" "SELECT count(*) FROM \"$t\"")"
    done
}
# jobcomp JOBID [TASK]: the job's (or array task's) record in the job completion log
jobcomp() {
    if [ $# -eq 2 ]; then grep " ArrayJobId=$1 ArrayTaskId=$2 " "$T/log/jobcomp.txt"
    else grep "^JobId=$1 " "$T/log/jobcomp.txt"; fi
}
field() { sed -n "s/.* $1=\([^ ]*\) .*/\1/p"; }
# wait_empty SECONDS: until no job is left in the queue
wait_empty() {
    w_=0
    while [ -n "$(squeue -h 2>/dev/null)" ] && [ $w_ -lt $(($1 * 5)) ]; do sleep 0.2; w_=$((w_ + 1)); done
    [ -z "$(squeue -h 2>/dev/null)" ]
}
ids >all.ids
check "dry-run: 8 runs" "$(wc -l <all.ids)" test "$(wc -l <all.ids)" -eq 8

t0=$(date +%s)
BASIN=$B sh "$SLURMDIR/submit.sh" s.ini $N results/merged.db >submit.out 2>&1
rc=$?
JOB=$(sed -n 's/^array job \([0-9][0-9]*\) .*/\1/p' submit.out)
MERGE=$(sed -n 's/.*merge job \([0-9][0-9]*\) .*/\1/p' submit.out)
check "submit.sh: an array job and a merge job" "exit $rc: $(tr '\n' ' ' <submit.out)" \
    test $rc -eq 0 -a -n "$JOB" -a -n "$MERGE"
if [ -z "$JOB" ] || [ -z "$MERGE" ]; then logs; finish; fi
if wait_empty "$TIMEOUT"; then
    pass "slurm: the array and the merge job left the queue (in $(($(date +%s) - t0)) s)"
else
    fail "slurm: jobs still queued after ${TIMEOUT} s"
    logs; finish
fi

# every task COMPLETED with exit 0, once; the merge too, and not before the last task
bad="" last=0
for i in $(seq 0 $((N - 1))); do
    r=$(jobcomp "$JOB" "$i")
    [ "$(echo "$r" | grep -c .)" = 1 ] || { bad="$bad task $i: $(echo "$r" | grep -c .) records;"; continue; }
    st=$(echo "$r" | field JobState) ec=$(echo "$r" | field ExitCode)
    [ "$st $ec" = "COMPLETED 0:0" ] || bad="$bad task $i: $st $ec;"
    e=$(date -d "$(echo "$r" | field EndTime)" +%s)
    [ "$e" -gt $last ] && last=$e
done
check "slurm: the $N array tasks COMPLETED, exit 0" "$bad" test -z "$bad"
r=$(jobcomp "$MERGE")
ms=$(date -d "$(echo "$r" | field StartTime)" +%s 2>/dev/null || echo 0)
check "slurm: the merge job COMPLETED, exit 0, started after the last task ended (afterok)" \
    "$(echo "$r" | field JobState) $(echo "$r" | field ExitCode), start $ms, last task end $last" \
    test "$(echo "$r" | field JobState) $(echo "$r" | field ExitCode)" = "COMPLETED 0:0" -a "$ms" -ge "$last"

# each shard database: exactly its shard's runs, each COMPLETED once
bad=""
for i in $(seq 0 $((N - 1))); do
    db=results/shards/${JOB}_$i.db
    if [ ! -f "$db" ]; then bad="$bad $db missing;"; continue; fi
    ids --shard "$i/$N" >shard.ids
    dbids "$db" >shard.db.ids
    cmp -s shard.ids shard.db.ids || bad="$bad shard $i holds $(tr '\n' ' ' <shard.db.ids)(want $(tr '\n' ' ' <shard.ids));"
    [ "$(q "$db" "SELECT count(*) FROM runs WHERE status <> 'COMPLETED'")" = 0 ] || bad="$bad shard $i: runs not COMPLETED;"
    [ "$(q "$db" 'PRAGMA integrity_check')" = ok ] || bad="$bad shard $i: integrity_check;"
done
check "shards: each of the $N databases holds exactly its shard's runs, COMPLETED" "$bad" test -z "$bad"

M=results/merged.db
check "merged: integrity_check ok" "$(q $M 'PRAGMA integrity_check')" test "$(q $M 'PRAGMA integrity_check')" = ok
dbids $M >merged.ids
check "merged: every run of --dry-run, each once" "$(diff all.ids merged.ids | tr '\n' ' ')" cmp -s all.ids merged.ids
check "merged: every run COMPLETED" "$(q $M 'SELECT status, count(*) FROM runs GROUP BY 1' | tr '\n' ' ')" \
    test "$(q $M "SELECT count(*) FROM runs WHERE status = 'COMPLETED'")" = 8

# merging again (the same merge.sbatch, through sbatch) adds nothing
counts $M >counts.1
M2=$(BASIN=$B sbatch --parsable "$SLURMDIR/merge.sbatch" "$JOB" $M 2>&1)
wait_empty "$TIMEOUT"
r=$(jobcomp "$M2")
counts $M >counts.2
check "merge again: merge.sbatch COMPLETED, exit 0, merging the $N shards" \
    "job '$M2': $(echo "$r" | field JobState) $(echo "$r" | field ExitCode): $(cat "results/slurm-merge-$M2.out" 2>&1 | tr '\n' ' ')" \
    test "$(echo "$r" | field JobState) $(echo "$r" | field ExitCode)" = "COMPLETED 0:0" -a \
         "$(cat "results/slurm-merge-$M2.out" 2>&1)" = "merged $N databases into $M"
check "merge again: no table gains a row" "$(diff counts.1 counts.2 | tr '\n' ' ')" cmp -s counts.1 counts.2
check "merge again: integrity_check ok" "$(q $M 'PRAGMA integrity_check')" test "$(q $M 'PRAGMA integrity_check')" = ok

# the same file without Slurm, with the threads the shards had (--cpus-per-task=2)
BASIN_THREADS=2 "$B" run s.ini --db plain.db >plain.log 2>&1
rc=$?
check "plain run: exit 0, 8 runs COMPLETED" "exit $rc: $(tail -n 2 plain.log | tr '\n' ' ')" \
    test $rc -eq 0 -a "$(q plain.db "SELECT count(*) FROM runs WHERE status = 'COMPLETED'")" = 8
rows plain.db >plain.rows
rows $M >merged.rows
check "merged: metric rows equal (but wall time) to the plain run's ($(wc -l <plain.rows) rows)" \
    "$(diff plain.rows merged.rows | head -3 | tr '\n' ' ')" test -s plain.rows -a "$(cmp plain.rows merged.rows 2>&1)" = ""
thetas plain.db >plain.theta
thetas $M >merged.theta
check "merged: final theta of every run equal to the plain run's" \
    "$(wc -l <plain.theta) vs $(wc -l <merged.theta) snapshots" test -s plain.theta -a "$(cmp plain.theta merged.theta 2>&1)" = ""

# requeue a finished task (what --requeue does after preemption): the same job id, so
# the same shard database; its runs are skipped, none trained again
db=results/shards/${JOB}_1.db
counts "$db" >rq.1
scontrol requeue "${JOB}_1" >rq.out 2>&1 && scontrol update jobid="${JOB}_1" StartTime=now >>rq.out 2>&1
rc=$?
if [ $rc -eq 0 ] && wait_empty "$TIMEOUT"; then
    out=results/slurm-${JOB}_1.out
    check "requeue: the task's rerun skips its 2 COMPLETED runs" "$(tr '\n' ' ' <"$out")" \
        grep -q '2 runs in this shard, 0 to do, 2 done before' "$out"
    counts "$db" >rq.2
    check "requeue: the shard database is unchanged" "$(diff rq.1 rq.2 | tr '\n' ' ')" cmp -s rq.1 rq.2
    r=$(grep " ArrayJobId=$JOB ArrayTaskId=1 " "$T/log/jobcomp.txt" | tail -n 1)
    check "requeue: the rerun COMPLETED, exit 0" "$r" \
        test "$(echo "$r" | field JobState) $(echo "$r" | field ExitCode)" = "COMPLETED 0:0"
else
    fail "requeue: scontrol requeue ${JOB}_1: exit $rc: $(tr '\n' ' ' <rq.out)"
    logs
fi

# a failed task (BASIN: a wrapper that fails task 2 once): the merge job never starts
# (afterok); the recovery submit.sh describes -- scontrol requeue the task, scancel the
# merge job, sbatch merge.sbatch by hand -- gives the whole store
cat >failing.sh <<EOF2
#!/bin/sh
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 2 ] && [ -f fail.flag ]; then echo "injected failure" >&2; exit 1; fi
exec "$B" "\$@"
EOF2
chmod +x failing.sh
touch fail.flag
BASIN=$T/w/failing.sh sh "$SLURMDIR/submit.sh" s.ini $N results/merged2.db >submit2.out 2>&1
JOB2=$(sed -n 's/^array job \([0-9][0-9]*\) .*/\1/p' submit2.out)
MERGE2=$(sed -n 's/.*merge job \([0-9][0-9]*\) .*/\1/p' submit2.out)
# gone JOBID: the job (every task of an array) has left the queue
gone() { [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; }
i=0; while [ -n "$JOB2" ] && ! gone "$JOB2" && [ $i -lt $((TIMEOUT * 5)) ]; do sleep 0.2; i=$((i + 1)); done
r=$(jobcomp "$JOB2" 2)
# the merge job stays pending; the next scheduler pass names why
i=0; why=""
while [ -n "$MERGE2" ] && [ $i -lt 300 ]; do
    why=$(squeue -h -j "$MERGE2" -o %T/%r 2>/dev/null)
    [ "$why" = PENDING/DependencyNeverSatisfied ] && break
    sleep 0.2; i=$((i + 1))
done
check "failed task: task 2 FAILED (exit 1), the merge job never starts ($why)" \
    "job '$JOB2': $(echo "$r" | field JobState) $(echo "$r" | field ExitCode); merge job '$MERGE2': '$why'" \
    test -n "$JOB2" -a "$(echo "$r" | field JobState) $(echo "$r" | field ExitCode)" = "FAILED 1:0" -a \
         "$why" = PENDING/DependencyNeverSatisfied
rm -f fail.flag
scontrol requeue "${JOB2}_2" >rq2.out 2>&1 && scontrol update jobid="${JOB2}_2" StartTime=now >>rq2.out 2>&1 &&
    scancel "$MERGE2" >>rq2.out 2>&1
rc=$?
i=0; while ! gone "$JOB2" && [ $i -lt $((TIMEOUT * 5)) ]; do sleep 0.2; i=$((i + 1)); done
r=$(jobcomp "$JOB2" 2 | tail -n 1)
check "failed task: requeued, it COMPLETED" "exit $rc: $(tr '\n' ' ' <rq2.out) $(echo "$r" | field JobState)" \
    test $rc -eq 0 -a "$(echo "$r" | field JobState) $(echo "$r" | field ExitCode)" = "COMPLETED 0:0"
BASIN=$B sbatch --quiet "$SLURMDIR/merge.sbatch" "$JOB2" results/merged2.db >merge3.out 2>&1
wait_empty "$TIMEOUT"
dbids results/merged2.db >merged2.ids
rows results/merged2.db >merged2.rows
check "failed task: merged by hand, every run once, COMPLETED, the plain run's metric rows" \
    "$(diff all.ids merged2.ids | tr '\n' ' ') $(q results/merged2.db 'SELECT status, count(*) FROM runs GROUP BY 1' | tr '\n' ' ')" \
    test "$(cmp all.ids merged2.ids 2>&1)$(cmp plain.rows merged2.rows 2>&1)" = "" -a \
         "$(q results/merged2.db "SELECT count(*) FROM runs WHERE status = 'COMPLETED'")" = 8

# preemption: scontrol requeue of a running task signals it like preemption does (SIGTERM,
# KillWait, SIGKILL) and requeues it (--requeue): basin checkpoints, marks the run
# INTERRUPTED and exits; the rerun, same job id and database, resumes from the checkpoint
# to the rows and theta of an uninterrupted run. One run of 60,000 steps, a few seconds.
sed -e 's/^name = .*/name = slurmpreempt/' -e 's/^seed = .*/seed = 1/' -e 's/^lr = .*/lr = 0.05/' \
    -e 's/^steps = .*/steps = 60000/' -e 's/^eval-every = .*/eval-every = 5000\ncheckpoint-every = 500/' s.ini >p.ini
BASIN_THREADS=2 "$B" run p.ini --db p-plain.db >p-plain.log 2>&1
PJ=$(BASIN=$B sbatch --parsable --array=0-0 "$SLURMDIR/array.sbatch" p.ini 2>&1)
PDB=results/shards/${PJ}_0.db
# the run's status and the step of its resume checkpoint in the shard database
pst() {
    [ -f "$PDB" ] && sqlite3 "$PDB" "SELECT status || ' ' || (SELECT coalesce(max(step), 0) FROM checkpoints
                                     WHERE run = runs.id AND kind = 'resume') FROM runs" 2>/dev/null
}
i=0
while [ $i -lt $((TIMEOUT * 5)) ]; do
    case $(pst) in "RUNNING "[1-9][0-9][0-9][0-9]*) break ;; "COMPLETED "*) break ;; esac
    sleep 0.2; i=$((i + 1))
done
before=$(pst)
scontrol requeue "${PJ}_0" >prq.out 2>&1
i=0; while [ "$(squeue -h -j "$PJ" -o %T 2>/dev/null)" != PENDING ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
mid=$(pst)
check "preempt: requeued while RUNNING (at '$before'): the run INTERRUPTED at a checkpoint" \
    "job '$PJ', at requeue '$before', after '$mid': $(tr '\n' ' ' <prq.out)" \
    test "${before%% *} ${mid%% *}" = "RUNNING INTERRUPTED"
scontrol update jobid="${PJ}_0" StartTime=now >>prq.out 2>&1
i=0; while ! gone "$PJ" && [ $i -lt $((TIMEOUT * 5)) ]; do sleep 0.2; i=$((i + 1)); done
out=results/slurm-${PJ}_0.out
check "preempt: the rerun resumes from the checkpoint (step ${mid#* })" "$(tr '\n' ' ' <"$out")" \
    grep -q "^resume [0-9a-f]\{12\} .* from step ${mid#* }\$" "$out"
"$B" export --db p-plain.db --experiment slurmpreempt --table metrics | tail -n +2 | cut -d, -f1-5 | sort >p-plain.rows
"$B" export --db "$PDB" --experiment slurmpreempt --table metrics | tail -n +2 | cut -d, -f1-5 | sort >p-shard.rows
check "preempt: COMPLETED, no resume checkpoint left, metric rows and final theta equal an uninterrupted run's" \
    "$(pst); $(diff p-plain.rows p-shard.rows | head -3 | tr '\n' ' ')" \
    test "$(pst)" = "COMPLETED 0" -a -s p-plain.rows -a "$(cmp p-plain.rows p-shard.rows 2>&1)" = "" -a \
         "$(thetas p-plain.db)" = "$(thetas "$PDB")"

[ "$nf" -eq 0 ] || logs
finish
