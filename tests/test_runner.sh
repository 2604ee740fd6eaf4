#!/bin/sh
# test_runner.sh -- end-to-end tests of experiment files and `basin run` and the query
# commands: parser errors with exact file:line messages (and nothing written), sweeps
# and canonical order, two workers x 20 runs (all rows, integrity_check), kill -9 then
# rerun (bit-identical metrics), SIGTERM (INTERRUPTED, 143, resume), the same file twice
# (identical metric rows but wall time), DIVERGED runs, shards merged twice (no
# duplicates; a database merged into itself refused), runs/show/compare/export, probes
# during training (the training rows identical with and without them; eigenvalue, trace,
# density, sharpness and edge-of-stability rows), probe commands on a run's snapshot
# (--init RUN@STEP, --db), merging whole units (post-hoc Hessians of one run, a COMPLETED
# and an INTERRUPTED copy, two different grids 0); run ids unchanged since they were
# frozen (tests/ids).
#
#   sh tests/test_runner.sh ./basin
#
# POSIX sh and tools; the sqlite3 shell, when installed, adds integrity checks.
# One "PASS name" or "FAIL name: detail" line per check, then "N passed, M failed".
set -u

B=${1:-./basin}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)   # the source tree: experiment files, fixtures
SHARD1=$(cd "$(dirname "$0")" && pwd)/fuzz/corpus/merge/shard.db   # a schema-1 store
if [ ! -x "$B" ]; then
    echo "FAIL setup: $B is not an executable"
    echo "0 passed, 1 failed"
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/basin-runner.XXXXXX") || exit 3
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
cd "$T" || exit 3
BASIN_THREADS=1 LC_ALL=C NO_COLOR=1
export BASIN_THREADS LC_ALL NO_COLOR

np=0 nf=0
pass() { np=$((np + 1)); echo "PASS $*"; }
fail() { nf=$((nf + 1)); echo "FAIL $*"; }
check() { n_=$1 d_=$2; shift 2; if "$@"; then pass "$n_"; else fail "$n_: $d_"; fi; }
said() { head -c 300 all | tr '\n' ' '; }
run() { "$@" >out 2>err; rc=$?; cat out err >all; }
# expect NAME RC 'PAT1|PAT2' COMMAND...: exit status RC, output has every pattern.
expect() {
    n_=$1 w_=$2 p_=$3
    shift 3
    run "$@"
    if [ "$rc" -ne "$w_" ]; then fail "$n_: exit $rc, want $w_: $(said)"; return; fi
    m_=$(printf '%s\n' "$p_" | tr '|' '\n' | while IFS= read -r q_; do
        [ -z "$q_" ] || grep -qF -e "$q_" all || printf "'%s' " "$q_"; done)
    if [ -z "$m_" ]; then pass "$n_"; else fail "$n_: output lacks $m_: $(said)"; fi
}
HAVE_SQLITE=0
command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE=1
# q DB SQL: one value from the sqlite3 shell
q() { sqlite3 "$1" "$2"; }
# metrics DB [RUN]: the metric rows of an experiment without the wall-time column,
# sorted; what must be bit-identical between two runs of one configuration.
metrics() { "$B" export --db "$1" --experiment "${2:-t}" --table metrics | cut -d, -f1-5 | sort; }

# A small experiment: blobs, one MLP, a few runs. $1: extra lines for [optim],
# $2: for [train], $3: for [experiment].
exp_file() {
    cat <<EOF
# test experiment
[experiment]
name = t
${3:-}

[data]
data = blobs
samples = 128
test-samples = 64

[model]
hidden = 8

[optim]
momentum = 0.9
${1:-}

[train]
batch = 32
${2:-}
EOF
}

# ---- 1. parser errors: exact file:line, exit status, nothing written ----------------
perr() {   # perr NAME RC 'MESSAGE' FILE-CONTENT
    printf '%s\n' "$4" >bad.ini
    expect "parse: $1" "$2" "$3" "$B" run bad.ini --db bad.db
    check "parse: $1: no database written" "bad.db exists" test ! -e bad.db
}
perr "unknown section" 2 "bad.ini:3: unknown section [optm]" \
    "[experiment]
name = x
[optm]
lr = 0.1"
perr "unknown key, did you mean" 2 "bad.ini:4: unknown option lrr (did you mean lr?)" \
    "[experiment]
name = x
[optim]
lrr = 0.1"
perr "key in the wrong section" 2 "bad.ini:4: lr belongs in [optim], not [train]" \
    "[experiment]
name = x
[train]
lr = 0.1"
perr "duplicate key" 1 "bad.ini:5: duplicate key 'lr' in [optim] (first set at line 4)" \
    "[experiment]
name = x
[optim]
lr = 0.1
lr = 0.2"
perr "duplicate key, _ and - spellings" 1 "bad.ini:5: duplicate key 'weight-decay' in [optim] (first set at line 4)" \
    "[experiment]
name = x
[optim]
weight_decay = 0.1
weight-decay = 0.2"
perr "bad value" 2 "bad.ini:5: lr: 'fast' is not a number" \
    "[experiment]
name = x
[optim]
momentum = 0.5
lr = fast
[train]
steps = 3"
perr "bad value inside a sweep" 2 "bad.ini:4: lr: 'x' is not a number" \
    "[experiment]
name = x
[optim]
lr = {0.1, x}
[train]
steps = 3"
perr "conflicting epochs and steps" 2 "bad.ini:5: steps conflicts with epochs (line 4)" \
    "[experiment]
name = x
[train]
epochs = 1
steps = 10"
perr "bad range" 2 "bad.ini:3: seed: bad range '{5..1}'" \
    "[experiment]
name = x
seed = {5..1}"
perr "unclosed sweep" 2 "bad.ini:3: seed: a sweep is '{a, b, c}' or '{1..5}', got '{1, 2'" \
    "[experiment]
name = x
seed = {1, 2"
perr "key before a section" 1 "bad.ini:2: key before any [section]" \
    "# comment
name = x"
perr "line without =" 1 "bad.ini:2: expected 'key = value' or '[section]'" \
    "[experiment]
name"
perr "repeated section" 1 "bad.ini:4: section [experiment] repeated (first at line 1)" \
    "[experiment]
name = x
[data]
[experiment]"
perr "flag value" 2 "bad.ini:4: nesterov: 'maybe' is not true or false" \
    "[experiment]
name = x
[optim]
nesterov = maybe"
perr "same configuration twice" 2 "have the same configuration" \
    "[experiment]
name = x
[optim]
lr = {0.1, 0.10}
[train]
steps = 3"
printf '[experiment]\nname = x\n[data]\ndata = {csv:../a.csv, csv:../b.csv}\n[train]\nsteps = 3\n' >rel.ini
expect "parse: list items with '..' are values, not a range" 0 "data=csv:../b.csv" \
    "$B" run rel.ini --dry-run
perr "repeated sweep item" 2 "bad.ini:4: hidden: '8' appears twice in the sweep" \
    "[experiment]
name = x
[model]
hidden = {16; 8; 32; 8}
[train]
steps = 3"
perr "unknown model" 2 "bad.ini:4: model: unknown model 'mpl' (known: logreg, mlp, cnn, resnet," \
    "[experiment]
name = x
[model]
model = mpl
[train]
steps = 3"
perr "unknown optimizer in a sweep" 2 "bad.ini:4: optimizer: unknown 'adma' (known: sgd adam" \
    "[experiment]
name = x
[optim]
optim = {sgd, adma}
[train]
steps = 3"
perr "base that is not an update rule" 2 "bad.ini:5: optimizer: base 'gam' is not an update rule" \
    "[experiment]
name = x
[optim]
optim = sam
base = gam
[train]
steps = 3"
perr "unknown dataset" 2 "bad.ini:4: unknown dataset 'fmnist' (known: fashion-mnist, idx:DIR," \
    "[experiment]
name = x
[data]
data = fmnist
[train]
steps = 3"
perr "missing name" 2 "bad.ini: [experiment] needs a name" \
    "[experiment]
seed = 1
[train]
steps = 3"
perr "output-only option refused" 2 "bad.ini:4: unknown key 'save' in [train]" \
    "[experiment]
name = x
[train]
save = x.npy"
expect "parse: missing file" 1 "nope.ini" "$B" run nope.ini --db bad.db

# ---- 2. sweeps: long lines, lists as values, canonical order, dry run ---------------
vals=$(awk 'BEGIN { for (i = 1; i <= 40; i++) printf "%s0.%03d", (i > 1 ? ", " : ""), i }')
exp_file "lr = {$vals}" "steps = 3" | sed 's/^hidden = 8$/hidden = 8,8/' >long.ini
check "sweep: a line over 200 bytes" "$(wc -c <long.ini) bytes in all" test "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' long.ini)" -gt 200
expect "sweep: 40-value axis, list value kept whole" 0 "experiment t: 40 runs" "$B" run long.ini --dry-run
check "sweep: 40 distinct ids" "$(sed 1d out | cut -c1-12 | sort -u | wc -l)" test "$(sed 1d out | cut -c1-12 | sort -u | wc -l)" -eq 40
exp_file "lr = {0.1, 0.2}" "steps = 3" "seed = {1..3}" >o1.ini
# the same experiment with its lines in another order
{ printf '[train]\nsteps = 3\nbatch = 32\n[optim]\nlr = {0.1, 0.2}\nmomentum = 0.9\n'
  printf '[model]\nhidden = 8\n[data]\ntest-samples = 64\nsamples = 128\ndata = blobs\n'
  printf '[experiment]\nseed = {1..3}\nname = t\n'; } >o2.ini
run "$B" run o1.ini --dry-run; cp out d1
run "$B" run o2.ini --dry-run; cp out d2
check "sweep: canonical order and ids independent of line order" "$(tr '\n' ' ' <d1) vs $(tr '\n' ' ' <d2)" cmp -s d1 d2
check "sweep: seed varies fastest" "$(sed -n 2,3p d1 | tr '\n' ' ')" \
    sh -c "sed -n 2p d1 | grep -q 'lr=0.1 seed=1' && sed -n 3p d1 | grep -q 'lr=0.1 seed=2'"
expect "sweep: --shard 1/2 takes every 2nd run" 0 "shard 1/2: 3" "$B" run o1.ini --dry-run --shard 1/2
check "sweep: shard 1/2 = runs 2, 4, 6" "$(tr '\n' ' ' <out)" \
    sh -c "[ \"\$(sed 1d out)\" = \"\$(sed -n '3p;5p;7p' d1)\" ]"
expect "shard: --shard auto without Slurm" 2 "SLURM_ARRAY_TASK_ID" "$B" run o1.ini --dry-run --shard auto
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=1 \
    expect "shard: --shard auto from SLURM_ARRAY_*" 0 "shard 1/2: 3" "$B" run o1.ini --dry-run --shard auto
# issue 18, finding 17: overflow, stepped and listed arrays, and ids that cannot be mapped
expect "shard: i/N beyond int is refused, not wrapped" 2 "--shard: '0/99999999999' is not i/N" \
    "$B" run o1.ini --dry-run --shard 0/99999999999
expect "shard: a negative index is refused" 2 "is not i/N" "$B" run o1.ini --dry-run --shard -1/2
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=6 \
SLURM_ARRAY_TASK_STEP=2 expect "shard: --array=0-6:2, task 4 is shard 2/4" 0 "shard 2/4: 1" \
    "$B" run o1.ini --dry-run --shard auto
SLURM_ARRAY_TASK_ID=9 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 \
    expect "shard: --array=1,5,9, task 9 is shard 2/3" 0 "shard 2/3: 2" "$B" run o1.ini --dry-run --shard auto
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 \
    expect "shard: --array=1,2,9 cannot be mapped" 2 "are not evenly spaced|give --shard i/N" \
    "$B" run o1.ini --dry-run --shard auto
SLURM_ARRAY_TASK_ID=abc SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=1 \
    expect "shard: SLURM_ARRAY_TASK_ID=abc is refused" 2 "SLURM_ARRAY_TASK_ID='abc' is not a whole number" \
    "$B" run o1.ini --dry-run --shard auto

# run ids are stable (tests/ids/README.md): every shipped experiment file and the
# fixtures of tests/ids give the ids recorded in tests/ids/v1.txt
ids_() { grep -E '^[0-9a-f]{12}  ' | cut -c1-12; }
bad_=""
for f_ in "$ROOT"/experiments/*.ini "$ROOT"/tests/ids/*.ini; do
    rel_=${f_#"$ROOT"/}
    want_=$(awk -v f="# $rel_" '$0 == f { on = 1; next } /^# / { on = 0 } on' "$ROOT/tests/ids/v1.txt" | ids_)
    got_=$("$B" run "$f_" --dry-run 2>&1 | ids_)
    [ -n "$want_" ] || bad_="$bad_ $rel_ (not in v1.txt);"
    [ "$want_" = "$got_" ] || bad_="$bad_ $rel_;"
done
check "ids: every shipped file's and tests/ids' run ids as recorded in tests/ids/v1.txt" "$bad_" test -z "$bad_"

# ---- 3. two workers x 20 runs ----------------------------------------------------------
exp_file "lr = {0.01, 0.02, 0.03, 0.04, 0.05}" "steps = 12
eval-every = 4" "seed = {1..4}" >w.ini
expect "jobs: 2 workers x 20 runs" 0 "20 to do" "$B" run w.ini --db w.db --jobs 2
run "$B" runs --db w.db --status COMPLETED
check "jobs: 20 runs COMPLETED" "$(tail -n 1 out)" grep -q '^20 runs$' out
metrics w.db >w.m
# a header, then per run: 12 batch_loss + 12 lr + 4 evaluations (0, 4, 8, 12) x 4 + 2 x 2 norms at steps 4, 8, 12
check "jobs: every metric row present (20 x 46)" "$(wc -l <w.m) rows" test "$(wc -l <w.m)" -eq $((1 + 20 * (12 + 12 + 16 + 6)))
if [ $HAVE_SQLITE -eq 1 ]; then
    check "jobs: integrity_check ok" "$(q w.db 'PRAGMA integrity_check')" test "$(q w.db 'PRAGMA integrity_check')" = ok
    check "jobs: each run trained by one process" "" test "$(q w.db "SELECT count(DISTINCT owner_pid) FROM runs")" -ge 1
else
    echo "SKIP jobs: integrity_check (no sqlite3 shell)"
fi
expect "rerun: completed runs skipped, saying so" 0 "skip |: COMPLETED|0 to do" "$B" run w.ini --db w.db

# ---- 4. the same file twice: identical metric rows but wall time ---------------------
"$B" run w.ini --db w2.db >/dev/null 2>&1
metrics w2.db >w2.m
check "repro: same file twice, identical metric rows" "$(diff w.m w2.m | head -3 | tr '\n' ' ')" cmp -s w.m w2.m

# ---- 5. kill -9 mid-run, rerun: bit-identical -----------------------------------------
exp_file "lr = 0.02" "steps = 4000
eval-every = 500
checkpoint-every = 100" "seed = 7" | sed 's/^hidden = 8$/hidden = 64,64/' >k.ini
"$B" run k.ini --db full.db >/dev/null 2>&1
"$B" run k.ini --db k.db >/dev/null 2>&1 &
pid=$!
id=$("$B" run k.ini --dry-run | sed -n 2p | cut -c1-12)
i=0
while [ $i -lt 200 ] && ! "$B" show --db k.db "$id" 2>/dev/null | grep -q "resume checkpoints"; do
    sleep 0.05; i=$((i + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
run "$B" runs --db k.db
check "kill -9: run left RUNNING mid-way" "$(said)" grep -q "RUNNING" out
expect "kill -9: rerun takes over the dead owner's run and resumes" 0 "resume $id|COMPLETED" "$B" run k.ini --db k.db
metrics full.db >full.m
metrics k.db >k.m
check "kill -9: final metrics bit-identical to an uninterrupted run" "$(diff full.m k.m | head -3 | tr '\n' ' ')" cmp -s full.m k.m

# ---- 6. SIGTERM: INTERRUPTED, 143, resume ----------------------------------------------
"$B" run k.ini --db term.db >/dev/null 2>term.err &
pid=$!
i=0
while [ $i -lt 200 ] && ! "$B" show --db term.db "$id" 2>/dev/null | grep -q "resume checkpoints"; do
    sleep 0.05; i=$((i + 1))
done
kill -TERM $pid
wait $pid
trc=$?
check "SIGTERM: exit 143" "exit $trc: $(head -c 200 term.err)" test $trc -eq 143
cp term.db term-int.db   # the INTERRUPTED copy, for the merge tests of section 14
[ ! -e term.db-wal ] || cp term.db-wal term-int.db-wal
expect "SIGTERM: run INTERRUPTED" 0 "INTERRUPTED" "$B" runs --db term.db
expect "SIGTERM: rerun resumes and completes" 0 "resume $id|COMPLETED" "$B" run k.ini --db term.db
metrics term.db >term.m
check "SIGTERM: final metrics bit-identical" "$(diff full.m term.m | head -3 | tr '\n' ' ')" cmp -s full.m term.m

# ---- 7. a diverging run is DIVERGED, the sweep goes on --------------------------------
exp_file "lr = {0.05, 1e6}" "steps = 200" >div.ini
expect "diverged: sweep goes on, exit 0" 0 "DIVERGED|COMPLETED" "$B" run div.ini --db div.db
expect "diverged: status recorded" 0 "DIVERGED|non-finite loss" "$B" runs --db div.db --status DIVERGED
expect "diverged: not rerun" 0 "skip |: DIVERGED" "$B" run div.ini --db div.db
# issue 18, finding 5: probes on a blowing-up run are skipped and recorded; the run is
# DIVERGED, never FAILED, whatever probe is scheduled
for pk in hessian trace density "sharpness-kind = sam" "sharpness-kind = average" \
          "sharpness-kind = keskar" collapse; do
    case $pk in sharpness*) pl="sharpness-every = 1
$pk" ;; *) pl="$pk-every = 1" ;; esac
    { exp_file "lr = 1e6" "steps = 40" | sed 's/^momentum = 0.9$//'; printf '[probes]\n%s\n' "$pl"; } >pdiv.ini
    rm -f pdiv.db*
    expect "diverged with $pk probes: DIVERGED, exit 0" 0 "DIVERGED|non-finite" "$B" run pdiv.ini --db pdiv.db
    [ $HAVE_SQLITE -eq 0 ] || check "diverged with $pk probes: status DIVERGED" \
        "$(q pdiv.db 'SELECT status, message FROM runs')" test "$(q pdiv.db 'SELECT status FROM runs')" = DIVERGED
    [ $HAVE_SQLITE -eq 0 ] || [ "$pk" != hessian ] || check "diverged: the skipped probe is recorded (probes_skipped, the run's message)" \
        "$(q pdiv.db "SELECT message FROM runs")" test "$(q pdiv.db "SELECT count(*) FROM metrics WHERE key = 'probes_skipped'") $(q pdiv.db "SELECT message LIKE '%1 probe skipped (the first at step % hessian: %' FROM runs")" = "1 1"
done

# ---- 8. shards merged twice: no duplicates ---------------------------------------------
"$B" run w.ini --db s0.db --shard 0/2 >/dev/null 2>&1
"$B" run w.ini --db s1.db --shard 1/2 >/dev/null 2>&1
expect "merge: once" 0 "merged 2 databases" "$B" merge m.db s0.db s1.db
expect "merge: twice" 0 "merged 2 databases" "$B" merge m.db s0.db s1.db
run "$B" runs --db m.db
check "merge: 20 runs, each once" "$(tail -n 1 out)" grep -q '^20 runs$' out
metrics m.db >m.m
check "merge: metric rows equal the unsharded run's" "$(wc -l <m.m) vs $(wc -l <w.m)" cmp -s m.m w.m
if [ $HAVE_SQLITE -eq 1 ]; then
    check "merge: integrity_check ok" "" test "$(q m.db 'PRAGMA integrity_check')" = ok
fi
# columns are merged by name (issue 18, finding 7): an input whose metrics table has its
# columns in another order gives the same rows and the same compare; an input's schema
# must be the version it claims; an older input is merged by name and left as it was
if [ $HAVE_SQLITE -eq 1 ]; then
    cp s0.db p0.db
    sqlite3 p0.db "PRAGMA legacy_alter_table = ON; CREATE TABLE m2(value REAL, wall REAL,
        step INTEGER NOT NULL, run TEXT NOT NULL, epoch REAL, key TEXT NOT NULL,
        UNIQUE(run, key, step)); INSERT INTO m2(value, wall, step, run, epoch, key)
        SELECT value, wall, step, run, epoch, key FROM metrics; DROP TABLE metrics;
        ALTER TABLE m2 RENAME TO metrics"
    expect "merge: an input with metrics' columns in another order" 0 "merged 1 database" \
        "$B" merge mp.db p0.db
    metrics s0.db >s0.m
    metrics mp.db >mp.m
    check "merge: columns by name: the input's metric rows" "$(diff s0.m mp.m | head -3 | tr '\n' ' ')" \
        cmp -s s0.m mp.m
    "$B" compare --db s0.db --experiment t --metric train_loss >s0.cmp 2>&1
    "$B" compare --db mp.db --experiment t --metric train_loss >mp.cmp 2>&1
    check "merge: columns by name: compare as on the input" "$(diff s0.cmp mp.cmp | head -3 | tr '\n' ' ')" \
        cmp -s s0.cmp mp.cmp
    cp s0.db x0.db
    sqlite3 x0.db "ALTER TABLE metrics DROP COLUMN wall"
    v=$(sqlite3 x0.db "PRAGMA user_version")
    expect "merge: an input without a column of its version refused, OUT untouched" 1 \
        "x0.db: not the schema of version $v, which it claims: no column metrics.wall" \
        "$B" merge mp.db x0.db
    metrics mp.db >mp2.m
    check "merge: the refused input left OUT as it was" "" cmp -s s0.m mp2.m
    # a shard of schema version 1 (frozen in the fuzz corpus)
    cp "$SHARD1" v1.db
    cp v1.db v1.orig
    expect "merge: an input of schema version 1 merged by name" 0 "merged 1 database" \
        "$B" merge mv.db v1.db
    check "merge: the older input not migrated, its bytes unchanged" \
        "user_version $(q "file:v1.db?immutable=1" 'PRAGMA user_version')" cmp -s v1.db v1.orig
    rows_='SELECT run, key, step, epoch, value FROM metrics ORDER BY 1, 2, 3'
    check "merge: the older input's metric rows" "" \
        test "$(q "file:v1.orig?immutable=1" "$rows_")" = "$(q mv.db "$rows_")" -a \
             "$(q mv.db 'SELECT count(*) FROM metrics')" -eq 24
fi
# a database merged into itself (by any path), an input twice: refused at once, exit 2
ln -s m.db m-link.db
t0_=$(date +%s)
expect "merge: into itself refused" 2 "m.db: is m.db itself" "$B" merge m.db m.db
expect "merge: into itself through ./ refused" 2 "./m.db: is m.db itself" "$B" merge m.db ./m.db
expect "merge: into itself through a symlink refused" 2 "m-link.db: is m.db itself" "$B" merge m.db s0.db m-link.db
expect "merge: an input given twice refused" 2 "given twice (the same file as s0.db)" "$B" merge m2.db s0.db s1.db ./s0.db
check "merge: refusals answered at once, not after the 60 s lock timeout" "$(($(date +%s) - t0_)) s" \
    test $(($(date +%s) - t0_)) -le 5
check "merge: a refused merge creates no OUT" "m2.db exists" test ! -e m2.db

# ---- 9. query commands by id prefix ----------------------------------------------------
rid=$(sed -n 2p d1 | cut -c1-12)
wid=$("$B" runs --db w.db | sed -n 2p | cut -c1-6)
expect "show: by 6-digit prefix" 0 "status       COMPLETED|config:|final metrics|test_acc|version" "$B" show --db w.db "$wid"
expect "show: unknown prefix" 2 "no run id starts with 'ffffff'" "$B" show --db w.db ffffff
expect "compare: mean +- std over 4 seeds by lr" 0 "by lr|lr=0.01|(n=4)" "$B" compare --db w.db --experiment t --metric test_acc
expect "export: json of one run" 0 '"key": "lr"' "$B" export --db w.db --run "$wid" --format json
expect "export: unknown table" 2 "unknown table" "$B" export --db w.db --run "$wid" --table nope
expect "runs: missing database" 1 "no such database" "$B" runs --db nope.db

# Readers open read-only and migrate nothing (issue 18, finding 10): a read-only database
# file is read, and a writer holding the write lock does not make them wait.
cp w.db ro.db && chmod 444 ro.db
expect "read-only database: basin runs reads it" 0 "20 runs" "$B" runs --db ro.db
expect "read-only database: basin export reads it" 0 "run,key,step" "$B" export --db ro.db --run "$wid"
expect "read-only database: basin show reads it" 0 "COMPLETED" "$B" show --db ro.db "$wid"
chmod 644 ro.db
if [ $HAVE_SQLITE -eq 1 ]; then
    (echo 'BEGIN IMMEDIATE;'; echo "UPDATE runs SET message = message;"; sleep 4; echo 'ROLLBACK;') | sqlite3 ro.db &
    sleep 0.5
    t0_=$(date +%s)
    expect "write lock held elsewhere: basin runs answers" 0 "20 runs" "$B" runs --db ro.db
    t1_=$(date +%s)
    wait
    check "write lock held elsewhere: basin runs does not wait for it" "$((t1_ - t0_)) s" test $((t1_ - t0_)) -le 2
    sqlite3 ro.db "PRAGMA user_version = 2"
    expect "an older schema: readers refuse it, naming the migration" 1 \
        "schema version 2 is older than this basin's|a command that writes migrates it" "$B" runs --db ro.db
fi

# ---- 10. probes during training ([probes]) ---------------------------------------------
perr "probe key in the wrong section" 2 "bad.ini:4: hessian-every belongs in [probes], not [train]" \
    "[experiment]
name = x
[train]
hessian-every = 3"
expect "probes: not a flag of basin train" 2 "--hessian-every does not apply" \
    "$B" train --data blobs --steps 1 --hessian-every 1
probes="[probes]
hessian-every = 4
hessian-top = 3
trace-every = 6
density-every = 12
sharpness-every = 4
probe-samples = 100"
exp_file "lr = 0.05" "steps = 12
eval-every = 4" "seed = 3" >np.ini
{ cat np.ini; printf '%s\n' "$probes"; } >pr.ini
expect "probes: a run with every probe" 0 "COMPLETED" "$B" run pr.ini --db pr.db
"$B" run np.ini --db np.db >/dev/null 2>&1
# training metrics without the run column (the ids differ: probes are part of the config)
train_rows() { "$B" export --db "$1" --experiment t --table metrics | cut -d, -f2-5 |
    grep -E '^(batch_loss|lr|(train|test)_(loss|acc)|grad_norm|update_norm|perturbed_loss),' | sort; }
train_rows pr.db >pr.m
train_rows np.db >np.m
check "probes: training metric rows identical with and without probes" \
    "$(diff pr.m np.m | head -3 | tr '\n' ' ')" sh -c 'cmp -s pr.m np.m && test "$(wc -l <pr.m)" -eq 46'
"$B" export --db pr.db --experiment t --table hessian_eigs >eigs.csv
check "probes: 4 steps x 3 eigenvalue rows" "$(wc -l <eigs.csv) lines" test "$(wc -l <eigs.csv)" -eq 13
"$B" export --db pr.db --experiment t --table metrics >prm.csv
# eos_threshold at step k is 2/lr of update k+1 (of update k at the last step), exactly
check "probes: eos_threshold = 2/lr exactly, at steps 0 4 8 12" "$(grep -c eos_threshold, prm.csv) rows" \
    awk -F, '$2 == "lr" { lr[$3] = $5 } $2 == "eos_threshold" { t[$3] = $5 }
        END { n = 0; for (k in t) { j = k + 1; if (!(j in lr)) j = k; if (t[k] != 2 / lr[j]) exit 1; n++ }
              exit n != 4 }' prm.csv
check "probes: lambda_max equals the first eigenvalue row" "" \
    awk -F, 'FNR == NR { if ($2 == "lambda_max") l[$3] = $5; next }
        $4 == 0 && FNR > 1 { if (l[$2] != $5) exit 1; n++ } END { exit n != 4 }' prm.csv eigs.csv
check "probes: trace at steps 0 6 12, sharpness at 0 4 8 12, overlap and momentum threshold" "" \
    sh -c 'test "$(grep -c ",trace," prm.csv)" -eq 3 && test "$(grep -c ",sharp_sam," prm.csv)" -eq 4 &&
        test "$(grep -c ",grad_overlap," prm.csv)" -eq 4 && test "$(grep -c ",eos_threshold_momentum," prm.csv)" -eq 4'
"$B" export --db pr.db --experiment t --table density | awk -F, 'NR > 1 { w[$2] += $5 }
    END { for (k in w) if (w[k] < 1 - 1e-9 || w[k] > 1 + 1e-9) exit 1; exit length(w) != 2 }'
check "probes: density weights sum to 1 at steps 0 and 12" "" test $? -eq 0
exp_file "optim = adam
lr = 0.01" "steps = 6
eval-every = 3" "seed = 3" | sed '/^momentum/d' >ad.ini
printf '[probes]\nhessian-every = 3\n' >>ad.ini
expect "probes: adam run" 0 "COMPLETED" "$B" run ad.ini --db ad.db
"$B" export --db ad.db --experiment t --table metrics >adm.csv
check "probes: adam's preconditioned sharpness after step 0, threshold 38/lr" "" \
    awk -F, '$2 == "precond_sharpness" && $5 > 0 { n++ }
        $2 == "precond_threshold" && ($5 - 3800) ^ 2 < 1e-20 { m++ }
        END { exit !(n == 2 && m == 2) }' adm.csv

# ---- 11. probe commands on a run's snapshot: --init RUN[@STEP], --db ---------------------
pid_=$("$B" run pr.ini --dry-run | sed -n 2p | cut -c1-8)
expect "init RUN: eval takes theta, data and model from the run" 0 "loss=" "$B" eval --db pr.db --init "$pid_"
fin=$(grep ",train_loss,12," prm.csv | cut -d, -f5)
check "init RUN: eval's loss equals the run's final train_loss" "$(head -c 80 out) vs $fin" \
    awk -v want="$fin" -F'[= ]' '{ exit !($2 == want) }' out
expect "init RUN@STEP: hessian --db stores with the run" 0 "run=|step=12|eig[2]=|trace=|stored=pr.db" \
    "$B" hessian --db pr.db --init "$pid_@12" --top 2 --trace
"$B" export --db pr.db --experiment t --table hessian_eigs >eigs2.csv
check "init RUN@STEP: step 12 now holds the command's 2 eigenvalues" "$(grep -c ',12,' eigs2.csv) rows" \
    sh -c 'test "$(grep -c ",12,lanczos," eigs2.csv)" -eq 2 && test "$(wc -l <eigs2.csv)" -eq 12 &&
        grep ",12,lanczos,0," eigs2.csv | grep -qF "$(sed -n "s/^eig\[1\]=//p" out | cut -c1-12)"'
expect "init RUN@STEP: sharpness --db" 0 "sharpness=|stored=" "$B" sharpness --db pr.db --init "$pid_@12" --kind average --steps 20
expect "init RUN: a missing snapshot names those there are" 1 "no snapshot at step 5 (snapshots: 12" \
    "$B" hessian --db pr.db --init "$pid_@5"
expect "init RUN: a conflicting model option" 2 "--hidden 16 conflicts with run" \
    "$B" hessian --db pr.db --init "$pid_" --hidden 16
expect "--db without a run refused" 2 "give --init RUN[@STEP]" "$B" hessian --db pr.db --data blobs --hidden 8

# ---- 12. neural collapse during training, landscapes and interpolation of stored runs ----
{ cat np.ini; printf '[probes]\ncollapse-every = 4\n'; } >nc.ini
expect "collapse-every: a run" 0 "COMPLETED" "$B" run nc.ini --db nc.db
train_rows nc.db >nc.m
check "collapse-every: training metric rows identical without it" "" cmp -s nc.m np.m
"$B" export --db nc.db --experiment t --table metrics >ncm.csv
check "collapse-every: 11 NC metrics at steps 0 4 8 12" "$(grep -c ',nc' ncm.csv) nc rows" \
    awk -F, '$2 ~ /^(nc1|nc1_notebook|nc2_equinorm_means|nc2_equinorm_weights|nc2_equiangular_means|nc2_equiangular_weights|nc3|nc4|within_class_trace|nc_error|nc_margin)$/ { n[$3]++ }
        END { exit !(n[0] == 11 && n[4] == 11 && n[8] == 11 && n[12] == 11 && length(n) == 4) }' ncm.csv
nid=$("$B" run nc.ini --dry-run | sed -n 2p | cut -c1-8)
expect "collapse-every: basin collapse on the final snapshot" 0 "nc1=" "$B" collapse --db nc.db --init "$nid"
check "collapse-every: the last nc1 and nc_error equal basin collapse's" "$(grep '^nc1=' out)" \
    awk -F, -v c="$(sed -n 's/^nc1=//p' out)" -v e="$(sed -n 's/^train_error=//p' out)" \
        '$2 == "nc1" && $3 == 12 { a = ($5 - c) / c; n++ } $2 == "nc_error" && $3 == 12 { b = $5 - e; n++ }
         END { exit !(n == 2 && a * a < 1e-24 && b * b < 1e-24) }' ncm.csv
expect "landscape --db: a 2-D grid stored with the run" 0 "stored=nc.db|step=12|grid=0" \
    "$B" landscape --db nc.db --init "$nid" --x -1:1:5 --y -0.5:0.5:3 --out g.csv
if [ "$HAVE_SQLITE" -eq 1 ]; then
    check "landscape --db: specification (axes, normalization, samples, 5 x 3)" \
        "$(q nc.db 'SELECT * FROM landscape_grids')" test "$(q nc.db "SELECT step, split, dir_seed,
            normalization, nx, ny, axes, ignore_biasbn, samples, subset FROM landscape_grids")" = \
            "12|train|3|filter|5|3|random|1|128|first"
    check "landscape --db: point (x 0.5, y 0.5) is row i 2, j 3, equal to the CSV" "" \
        awk -v a="$(q nc.db "SELECT loss FROM landscape_points WHERE i = 2 AND j = 3 AND alpha = 0.5
            AND beta = 0.5")" -v b="$(grep '^0.5,0.5,' g.csv | cut -d, -f3)" \
            'BEGIN { exit !(a != "" && ((a - b) / b) ^ 2 < 1e-24) }'
    check "collapse-every: off leaves the configuration (run id) as before" "" \
        test "$(q np.db "SELECT count(*) FROM runs WHERE config LIKE '%collapse%'")" -eq 0
    check "store: schema version 4" "" test "$(q nc.db 'PRAGMA user_version')" -eq 4
fi
expect "landscape --db without a run refused" 2 "give --init RUN[@STEP]" \
    "$B" landscape --db nc.db --data blobs --hidden 8 --x -1:1:3
{ cat np.ini; printf '[probes]\nhessian-every = 4\nhessian-top = 3\nprobe-samples = 100\noverlap-top = 1\n'; } >ov.ini
expect "overlap-top: a run" 0 "COMPLETED" "$B" run ov.ini --db ov.db
"$B" export --db ov.db --experiment t --table metrics >ovm.csv
check "overlap-top: the top-1 overlap <= the top-3 one, eigenvalues as before" "" \
    awk -F, 'FNR == NR { if ($2 == "grad_overlap") o[$3] = $5; next }
        $2 == "grad_overlap" { n++; if (!($3 in o) || o[$3] > $5 + 1e-12) exit 1 } END { exit n != 4 }' ovm.csv prm.csv
check "overlap-top: lambda_max as without it" "" sh -c 'test "$(grep ",lambda_max," ovm.csv | cut -d, -f2-5)" = "$(grep ",lambda_max," prm.csv | cut -d, -f2-5)"' 
printf '[probes]\nhessian-every = 4\nhessian-top = 2\noverlap-top = 3\n' | cat np.ini - >ovb.ini
expect "overlap-top above hessian-top refused" 1 "overlap-top 3 exceeds hessian-top 2" "$B" run ovb.ini --db ovb.db
exp_file "lr = 0.05" "steps = 12
snapshot-every = 6" "seed = {3, 4}" >two.ini
"$B" run two.ini --db two.db >/dev/null 2>&1
ta=$("$B" run two.ini --dry-run | sed -n 2p | cut -c1-8)
tb=$("$B" run two.ini --dry-run | sed -n 3p | cut -c1-8)
expect "interpolate: --from RUN --to RUN2 (two seeds)" 0 "barrier_loss=|loss_b=" \
    "$B" interpolate --db two.db --from "$ta" --to "$tb" --alpha 0:1:5
"$B" init --data blobs --hidden 4 --seed 3 --out a4.npy >/dev/null 2>&1
expect "interpolate: --from RUN@6 --to RUN (two checkpoints of one run)" 0 "barrier_loss=" \
    "$B" interpolate --db two.db --from "$ta@6" --to "$ta" --alpha 0:1:5
expect "interpolate: --to a run of another model refused" 2 "has hidden = 8" \
    "$B" interpolate --db two.db --data blobs --hidden 4 --from a4.npy --to "$ta"

# ---- 13. trajectory PCA of a run's snapshots (--axes pca), collapse --db -----------------
exp_file "lr = 0.05" "steps = 12
snapshot-every = 3" >pca.ini
expect "pca: a run with a snapshot every 3 steps" 0 "COMPLETED" "$B" run pca.ini --db pca.db
pc_=$("$B" run pca.ini --dry-run | sed -n 2p | cut -c1-8)
expect "landscape --axes pca: 4 snapshots, explained variance, the grid stored" 0 \
    "pca_snapshots=4|pca_explained=|stored=pca.db|step=12|grid=0" \
    "$B" landscape --db pca.db --init "$pc_" --axes pca --x -1:1:5 --y -1:1:3 --out pg.csv
cp out pca.out
if [ "$HAVE_SQLITE" -eq 1 ]; then
    check "landscape --axes pca: axes pca, normalization none, ratios in (0, 1] decreasing" \
        "$(q pca.db 'SELECT axes, normalization, pca_explained1, pca_explained2 FROM landscape_grids')" \
        test "$(q pca.db "SELECT axes, normalization, pca_explained1 > 0 AND pca_explained1 <= 1
            AND pca_explained2 > 0 AND pca_explained2 <= pca_explained1
            AND pca_explained1 + pca_explained2 <= 1 FROM landscape_grids")" = "pca|none|1"
    check "landscape --axes pca: the printed ratios equal the stored ones" "$(grep pca_explained pca.out)" \
        test "$(q pca.db "SELECT pca_explained1 = $(sed -n 's/^pca_explained=//p' pca.out | cut -d, -f1)
            AND pca_explained2 = $(sed -n 's/^pca_explained=//p' pca.out | cut -d, -f2)
            FROM landscape_grids")" = 1
    check "landscape --axes pca: one trajectory row per snapshot (3 6 9 12) with grid 0" \
        "$(q pca.db "SELECT * FROM trajectories")" \
        test "$(q pca.db "SELECT group_concat(step, ' ') FROM (SELECT step FROM trajectories
            WHERE basis = 'pca' AND grid = 0 ORDER BY step)")" = "3 6 9 12"
    check "landscape --axes pca: the final snapshot at (0, 0), the first ones away from it" "" \
        test "$(q pca.db "SELECT group_concat(x = 0 AND y = 0, ' ') FROM (SELECT x, y FROM
            trajectories WHERE basis = 'pca' ORDER BY step)")" = "0 0 0 1"
    check "landscape --axes pca: the final snapshot's loss is the grid's centre (1e-12)" "" \
        test "$(q pca.db "SELECT abs(t.loss - p.loss) <= 1e-12 * p.loss FROM trajectories t,
            landscape_points p WHERE t.basis = 'pca' AND t.step = 12 AND p.alpha = 0
            AND p.beta = 0")" = 1
fi
expect "landscape --axes pca: 2 snapshots up to step 6 refused" 1 \
    "has 2 snapshots up to step 6|needs at least 3" \
    "$B" landscape --db pca.db --init "$pc_@6" --axes pca --x -1:1:3
expect "landscape --axes pca without a stored run refused" 2 \
    "--axes pca takes its directions from a run's stored snapshots" \
    "$B" landscape --axes pca --data blobs --hidden 8 --x -1:1:3
expect "collapse --db: a row with the run at the snapshot's step" 0 \
    "nc1=|stored=pca.db|step=9|split=train" "$B" collapse --db pca.db --init "$pc_@9"
if [ "$HAVE_SQLITE" -eq 1 ]; then
    v_() { sed -n "s/^$1=//p" out; }
    check "collapse --db: the row is the printed nc1, nc2_equiangular_means, nc3, nc4" \
        "$(q pca.db 'SELECT * FROM collapse')" \
        test "$(q pca.db "SELECT nc1 = $(v_ nc1), nc2 = $(v_ nc2_equiangular_means),
            nc3 = $(v_ nc3), nc4 = $(v_ nc4) FROM collapse WHERE step = 9 AND split = 'train'")" = "1|1|1|1"
fi
expect "collapse --db --split test: a test row" 0 "test_error=|split=test" \
    "$B" collapse --db pca.db --init "$pc_" --split test
[ "$HAVE_SQLITE" -eq 0 ] || check "collapse --db: rows (9, train) and (12, test)" "" \
    test "$(q pca.db "SELECT group_concat(step || split, ' ') FROM collapse")" = "9train 12test"
expect "collapse --db without a run refused" 2 "give --init RUN[@STEP]" \
    "$B" collapse --db pca.db --data blobs --hidden 8

# ---- 14. merge copies units whole; a final run's state is not overwritten (issue 18, 8) --
if [ "$HAVE_SQLITE" -eq 1 ]; then
    npid=$("$B" run np.ini --dry-run | sed -n 2p | cut -c1-8)
    cp np.db h1.db
    cp np.db h2.db
    "$B" hessian --db h1.db --init "$npid@12" --top 2 --samples 64 >/dev/null 2>&1
    "$B" hessian --db h2.db --init "$npid@12" --top 5 --samples 128 >/dev/null 2>&1
    expect "merge units: two post-hoc Hessians of copies of one run" 0 "merged 2 databases" \
        "$B" merge hm.db h1.db h2.db
    check "merge units: one spectrum, whole (h1's 2 eigenvalues, none of h2's spliced on)" \
        "$(q hm.db 'SELECT k, value FROM hessian_eigs' | tr '\n' ' ')" \
        test "$(q hm.db 'SELECT k, value FROM hessian_eigs ORDER BY k')" = \
             "$(q h1.db 'SELECT k, value FROM hessian_eigs ORDER BY k')" -a \
             "$(q h1.db 'SELECT count(*) FROM hessian_eigs')" -eq 2
    expect "merge units: a COMPLETED copy, then an older INTERRUPTED one" 0 "merged 2 databases" \
        "$B" merge tm.db term.db term-int.db
    metrics tm.db >tm.m
    check "merge units: the run stays COMPLETED, without a resume checkpoint, with its own metrics" \
        "$(q tm.db "SELECT status, (SELECT count(*) FROM checkpoints WHERE kind = 'resume') FROM runs")" \
        test "$(q tm.db "SELECT status, (SELECT count(*) FROM checkpoints WHERE kind = 'resume') FROM runs")" = \
             "COMPLETED|0" -a "$(cmp tm.m full.m 2>&1)" = ""
    expect "merge units: the INTERRUPTED copy, then the COMPLETED one" 0 "merged 2 databases" \
        "$B" merge tm2.db term-int.db term.db
    metrics tm2.db >tm2.m
    check "merge units: the COMPLETED copy replaces the INTERRUPTED one" \
        "$(q tm2.db "SELECT status, (SELECT count(*) FROM checkpoints WHERE kind = 'resume') FROM runs")" \
        test "$(q tm2.db "SELECT status, (SELECT count(*) FROM checkpoints WHERE kind = 'resume') FROM runs")" = \
             "COMPLETED|0" -a "$(cmp tm2.m full.m 2>&1)" = ""
    cp np.db l1.db
    cp np.db l2.db
    "$B" landscape --db l1.db --init "$npid" --x -1:1:5 --y -0.5:0.5:3 >/dev/null 2>&1
    "$B" landscape --db l2.db --init "$npid" --x -2:2:3 >/dev/null 2>&1
    expect "merge units: two copies' different grids 0" 0 "merged 2 databases" "$B" merge lm.db l1.db l2.db
    "$B" merge lm.db l1.db l2.db >/dev/null 2>&1
    check "merge units: both grids kept (l2's as grid 1), with all their points, merged twice" \
        "$(q lm.db 'SELECT grid, nx, ny, (SELECT count(*) FROM landscape_points p WHERE p.grid = g.grid) FROM landscape_grids g' | tr '\n' ' ')" \
        test "$(q lm.db 'SELECT grid, x0, nx, ny, (SELECT count(*) FROM landscape_points p
            WHERE p.grid = g.grid) FROM landscape_grids g ORDER BY grid' | tr '\n' ' ')" = "0|-1.0|5|3|15 1|-2.0|3|1|3 "
else
    echo "SKIP merge units (no sqlite3 shell)"
fi

echo "$np passed, $nf failed"
[ "$nf" -eq 0 ]
