#!/bin/sh
# test_bad.sh -- the bad-input catalogue: every line of tests/bad/catalogue.tsv runs
# basin on one malformed input (experiment file, CSV or IDX dataset, .npy, database)
# and must exit with the listed status, printing the listed message, never dying of a
# signal. Also: every file in tests/bad/ is used by some line, and every exit status
# the catalogue lists has a row in the README's exit code table.
#
#   sh tests/test_bad.sh ./basin
#
# The databases are made here (binary, and the schema version moves): good.db from a
# tiny experiment, future.db (user_version 99), negative.db (-254), foreign.db (SQLite, not basin's),
# text.db (not SQLite), cut.db (good.db cut to 3000 bytes), damaged.db (an index
# pointing at another's pages: integrity_check fails). Also ini_giant_sweep.ini, a 9.7 MB
# sweep (too big to commit). Needs the sqlite3 shell.
# One "PASS name" or "FAIL name: detail" line per check, then "N passed, M failed".
set -u

B=${1:-./basin}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
CAT=$HERE/bad/catalogue.tsv
np=0 nf=0
pass() { np=$((np + 1)); echo "PASS $*"; }
fail() { nf=$((nf + 1)); echo "FAIL $*"; }
if [ ! -x "$B" ] || ! command -v sqlite3 >/dev/null 2>&1; then
    fail "setup: need an executable $B and the sqlite3 shell"
    echo "$np passed, $nf failed"
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/basin-bad.XXXXXX") || exit 3
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
cp -R "$HERE/bad/." "$T/" && cd "$T" || exit 3
BASIN_THREADS=1 LC_ALL=C
export BASIN_THREADS LC_ALL

# ---- the databases -------------------------------------------------------------------
printf '[experiment]\nname = good\n[data]\ndata = blobs\nsamples = 32\n[model]\nhidden = 3\n[train]\nsteps = 2\n' >good.ini
"$B" run good.ini --db good.db >/dev/null 2>&1 || fail "setup: basin run good.ini"
cp good.db future.db
sqlite3 future.db 'PRAGMA user_version = 99'
cp good.db negative.db
sqlite3 negative.db 'PRAGMA user_version = -254'
sqlite3 foreign.db 'CREATE TABLE t(x); INSERT INTO t VALUES (1)'
printf 'not a database\n' >text.db
head -c 3000 good.db >cut.db
cp good.db damaged.db   # the params index pointed at the runs index's pages
sqlite3 damaged.db "PRAGMA writable_schema = ON; UPDATE sqlite_master SET rootpage =
  (SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_runs_1')
  WHERE name = 'sqlite_autoindex_params_1'"
# a 9.7 MB sweep value: more than the default 8 MB stack (it once sat in a stack array)
awk 'BEGIN { printf "[experiment]\nname = giant\nseed = {"
             for (i = 0; i < 1200000; i++) printf "%s%d", i ? ", " : "", i
             printf "}\n[train]\nsteps = 1\n" }' >ini_giant_sweep.ini

# ---- the catalogue ---------------------------------------------------------------------
tab=$(printf '\t')
codes=""
while IFS="$tab" read -r args want msg; do
    case $args in '#'* | '') continue ;; esac
    # shellcheck disable=SC2086  # the arguments are blank-separated words
    "$B" $args >out 2>&1
    rc=$?
    codes="$codes $want"
    if [ $rc -ge 128 ]; then
        fail "$args: killed by signal $((rc - 128)): $(head -c 300 out | tr '\n' ' ')"
    elif [ $rc -ne "$want" ]; then
        fail "$args: exit $rc, want $want: $(head -c 300 out | tr '\n' ' ')"
    elif ! grep -qF -e "$msg" out; then
        fail "$args: output lacks '$msg': $(head -c 300 out | tr '\n' ' ')"
    else
        pass "$args -> $want"
    fi
done <"$CAT"

# ---- the catalogue, its files and the README agree ----------------------------------------
unused=""
for f in "$HERE"/bad/*; do
    n=${f##*/}
    [ "$n" = catalogue.tsv ] && continue
    grep -v '^#' "$CAT" | grep -qF -e "$n" || unused="$unused $n"
done
if [ -z "$unused" ]; then pass "every file in tests/bad/ is in the catalogue"
else fail "files in tests/bad/ that no catalogue line uses:$unused"; fi
undoc=""
for c in $(printf '%s\n' $codes | sort -u); do
    grep -q "^| $c |" "$HERE/../README.md" || undoc="$undoc $c"
done
if [ -z "$undoc" ]; then pass "every exit status of the catalogue is in the README's table"
else fail "exit statuses missing from the README's exit code table:$undoc"; fi

echo "$np passed, $nf failed"
[ "$nf" -eq 0 ]
