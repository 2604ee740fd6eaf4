#!/bin/sh
# test_cli.sh -- end-to-end tests of the basin command: help and usage errors, the
# init/eval round trip, derivatives (gradient, JVP, HVP) checked against hand-made
# and computed values, the Fashion-MNIST accuracy acceptance test, reproducibility,
# bad inputs (exit codes and messages; never a crash), test functions, regression data.
#
#   sh tests/test_cli.sh ./basin
#
# POSIX sh and POSIX tools (od, awk, sed, cmp, head, tail) plus gzip; no Python: .npy
# fixtures are written with printf and read back with od. Needs Fashion-MNIST in
# $BASIN_DATA_DIR or /usr/share/datasets/fashion-mnist. Prints one "PASS name" or
# "FAIL name: detail" line per check, then "N passed, M failed"; exits 1 if any failed.
# About 10-30 s on 2 cores (most of it the acceptance test and Fashion-MNIST loads).
set -u

B=${1:-./basin}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
if [ ! -x "$B" ]; then
    echo "FAIL setup: $B is not an executable"
    echo "0 passed, 1 failed"
    exit 1
fi
FDIR=${BASIN_DATA_DIR:-/usr/share/datasets/fashion-mnist}
T=$(mktemp -d "${TMPDIR:-/tmp}/basin-cli.XXXXXX") || exit 3
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
cd "$T" || exit 3
BASIN_THREADS=2 LC_ALL=C
export BASIN_THREADS LC_ALL

np=0 nf=0
pass() { np=$((np + 1)); echo "PASS $*"; }
fail() { nf=$((nf + 1)); printf 'FAIL %s\n' "$(printf '%s' "$*" | tr '\n' ' ')"; }
# check NAME DETAIL COMMAND...: PASS when COMMAND succeeds, else FAIL with DETAIL.
check() { n_=$1 d_=$2; shift 2; if "$@"; then pass "$n_"; else fail "$n_: $d_"; fi; }
# first 240 characters of the last command's output, on one line
said() { head -c 240 all | tr '\n' ' '; }

# run COMMAND...: stdout to ./out, stderr to ./err, both to ./all; status in $rc.
run() { "$@" >out 2>err; rc=$?; cat out err >all; }

# expect NAME RC 'PAT1|PAT2|...' COMMAND...: COMMAND exits RC and its stdout+stderr
# contain every |-separated fixed string. A death by signal always fails.
expect() {
    n_=$1 w_=$2 p_=$3
    shift 3
    run "$@"
    if [ "$rc" -ge 128 ]; then fail "$n_: killed by signal $((rc - 128)): $(said)"; return; fi
    if [ "$rc" -ne "$w_" ]; then fail "$n_: exit $rc, want $w_: $(said)"; return; fi
    m_=$(printf '%s\n' "$p_" | tr '|' '\n' | while IFS= read -r q_; do
        [ -z "$q_" ] || grep -qF -e "$q_" all || printf "'%s' " "$q_"; done)
    if [ -z "$m_" ]; then pass "$n_"; else fail "$n_: output lacks $m_: $(said)"; fi
}

# same A B: files A and B exist, are not empty, and are byte-identical; differ: both
# exist, are not empty, and differ.
same() { [ -s "$1" ] && [ -s "$2" ] && cmp -s "$1" "$2"; }
differ() { [ -s "$1" ] && [ -s "$2" ] && ! cmp -s "$1" "$2"; }

# val KEY [FILE]: the value of the first KEY=VALUE word in FILE (default ./out).
val() { awk -v k="$1=" '{ for (i = 1; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }' "${2:-out}"; }

# near A B TOL: A and B are numbers with |A - B| <= TOL * |B|.
near() {
    [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v t="$3" \
        'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= t * m) }'
}

# sig17 V: V is a number printed as C's %.17g prints it (17 significant digits,
# trailing zeros dropped).
sig17() { [ -n "$1" ] && [ "$(awk -v v="$1" 'BEGIN { printf "%.17g", v + 0 }')" = "$1" ]; }

# npy FILE DESCR COUNT DATA: write a 1-D .npy (format 1.0) whose raw data is the
# printf format DATA (octal escapes).
npy() {
    h_="{'descr': '$2', 'fortran_order': False, 'shape': ($3,), }"
    while [ $(((10 + ${#h_} + 1) % 64)) -ne 0 ]; do h_="$h_ "; done
    l_=$((${#h_} + 1))
    {
        printf '\223NUMPY\001\000'
        printf "\\$(printf %o $((l_ % 256)))\\$(printf %o $((l_ / 256)))"
        printf '%s\n' "$h_"
        printf "$4"
    } >"$1"
}
F8_1='\000\000\000\000\000\000\360\077'    # 1.0 as '<f8'
F8_2='\000\000\000\000\000\000\000\100'    # 2.0
F8_NAN='\000\000\000\000\000\000\370\177'  # quiet NaN
F4_1='\000\000\200\077'                    # 1.0 as '<f4'

# npy_hlen FILE: bytes before the data (preamble + header) of a version-1.0 .npy.
npy_hlen() { od -A n -t u1 -j 8 -N 2 "$1" 2>/dev/null | awk '{ print 10 + $1 + 256 * $2 }'; }
# npy_count FILE: the element count, from the header's shape and from the file size
# (both printed; they must agree).
npy_count() {
    [ -s "$1" ] || { echo "no file $1"; return; }
    o_=$(npy_hlen "$1")
    s_=$(head -c "$o_" "$1" | tail -c +11 | tr -d '\n' | sed -n 's/.*(\([0-9]*\),).*/\1/p')
    echo "$s_ $((($(wc -c <"$1") - o_) / 8))"
}
# npy_vals FILE: the float64 elements, one per line.
npy_vals() { od -A n -t f8 -v -j "$(npy_hlen "$1")" "$1" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) print $i }'; }
# pair FILE: p1, p2 = the first two elements of FILE, pn = its element count.
pair() {
    npy_vals "$1" >vals
    p1=$(sed -n 1p vals) p2=$(sed -n 2p vals) pn=$(wc -l <vals)
}
# npy_dot F1 F2: sum of F1[i]*F2[i], then the sum of |F1[i]*F2[i]|.
npy_dot() {
    npy_vals "$1" >dot1
    npy_vals "$2" >dot2
    awk 'NR == FNR { a[FNR] = $1; next }
         { p = a[FNR] * $1; s += p; m += p < 0 ? -p : p }
         END { printf "%.17g %.17g\n", s, m }' dot1 dot2
}

# be32 N: N as 4 big-endian bytes.
be32() {
    printf "\\$(printf %o $(($1 >> 24 & 255)))\\$(printf %o $(($1 >> 16 & 255)))"
    printf "\\$(printf %o $(($1 >> 8 & 255)))\\$(printf %o $(($1 & 255)))"
}
# idx_head SRC.gz DST N DIMS: DST = raw IDX file of the first N items of gzip IDX SRC,
# whose items are DIMS (e.g. "28 28"; empty for labels) -- a small, fast Fashion-MNIST.
idx_head() {
    k_=1 s_=1
    for d_ in $4; do k_=$((k_ + 1)) s_=$((s_ * d_)); done
    {
        printf '\000\000\010'
        printf "\\$(printf %o "$k_")"
        be32 "$3"
        for d_ in $4; do be32 "$d_"; done
        gzip -dc "$1" | tail -c +$((4 + 4 * k_ + 1)) | head -c $(($3 * s_))
    } >"$2"
}

# ---- 1. help and usage errors -----------------------------------------------------
expect "help: basin --help" 0 "usage" "$B" --help
expect "help: basin help" 0 "usage" "$B" help
for c in init eval train; do
    expect "help: basin $c --help" 0 "usage" "$B" $c --help
done
expect "usage: no arguments -> 2" 2 "usage" "$B"
expect "usage: unknown command -> 2" 2 "frobnicate" "$B" frobnicate
expect "usage: --lrr -> 2, did you mean --lr" 2 "did you mean --lr" "$B" train --lrr 0.1 --steps 1
expect "usage: --LR -> 2, did you mean --lr (case-insensitive)" 2 "did you mean --lr?" \
    "$B" train --LR 0.1 --steps 1
expect "usage: --lr abc" 2 "--lr|abc" "$B" train --lr abc --steps 1
expect "usage: --lr 1e-320 (subnormal) is too close to 0" 2 "--lr: '1e-320' is too close to 0" \
    "$B" train --lr 1e-320 --steps 1
expect "usage: --hidden 256,,3" 2 "--hidden|256,,3" "$B" eval --hidden 256,,3
expect "usage: --batch 0" 2 "--batch|0" "$B" train --batch 0 --steps 1
expect "usage: --act swish" 2 "--act|swish" "$B" eval --act swish
expect "usage: --model perceptron" 2 "perceptron" "$B" eval --model perceptron
expect "usage: --threads 0" 2 "--threads|0" "$B" eval --threads 0
expect "usage: --threads 999" 2 "--threads|999" "$B" eval --threads 999
expect "usage: --hvp-out without --hvp-in" 2 "--hvp-in" "$B" eval --hvp-out HV.npy
expect "usage: train with --epochs and --steps" 2 "--epochs" "$B" train --epochs 1 --steps 5
expect "usage: train with neither --epochs nor --steps" 2 "--epochs" "$B" train
expect "usage: --loss ce on teacher (regression)" 2 "mse" "$B" train --data teacher --loss ce --steps 5 --quiet
expect "usage: init without --out" 2 "--out" "$B" init --model rosenbrock

# A small raw-IDX copy of Fashion-MNIST (the first 2000 training, 500 test samples)
# makes the many short runs below fast.
SMALL="--data fashion-mnist --samples 2000"
if [ -r "$FDIR/train-images-idx3-ubyte.gz" ] && [ -r "$FDIR/train-labels-idx1-ubyte.gz" ] &&
   [ -r "$FDIR/t10k-images-idx3-ubyte.gz" ] && [ -r "$FDIR/t10k-labels-idx1-ubyte.gz" ]; then
    mkdir small
    idx_head "$FDIR/train-images-idx3-ubyte.gz" small/train-images-idx3-ubyte 2000 "28 28"
    idx_head "$FDIR/train-labels-idx1-ubyte.gz" small/train-labels-idx1-ubyte 2000 ""
    idx_head "$FDIR/t10k-images-idx3-ubyte.gz" small/t10k-images-idx3-ubyte 500 "28 28"
    idx_head "$FDIR/t10k-labels-idx1-ubyte.gz" small/t10k-labels-idx1-ubyte 500 ""
    SMALL="--data idx:small"
else
    fail "setup: Fashion-MNIST is not in $FDIR (apt-get install dataset-fashion-mnist)"
fi

# ---- 2. init/eval round trip (Fashion-MNIST, mlp 784-256-256-10) -------------------
expect "init: writes A.npy" 0 "A.npy|269322" "$B" init --samples 100 --seed 3 --out A.npy
check "init: A.npy holds 269322 float64" "count $(npy_count A.npy)" \
    [ "$(npy_count A.npy)" = "269322 269322" ]
expect "eval --init A.npy" 0 "loss=|accuracy=" "$B" eval --samples 100 --init A.npy
cp out evalA
l1=$(val loss evalA) a1=$(val accuracy evalA)
check "eval: loss and accuracy in %.17g" "loss '$l1' accuracy '$a1'" eval 'sig17 "$l1" && sig17 "$a1"'
check "eval: accuracy in [0,1]" "accuracy '$a1'" awk -v a="$a1" 'BEGIN { exit !(a != "" && a >= 0 && a <= 1) }'
expect "eval --seed 3 (no --init)" 0 "loss=" "$B" eval --samples 100 --seed 3
check "eval: seeded init equals init's A.npy" "'$(cat out)' vs '$(cat evalA)'" same out evalA
expect "eval --seed 4 differs" 0 "loss=" "$B" eval --samples 100 --seed 4
check "eval: another seed, another loss" "both '$l1'" [ "$(val loss)" != "$l1" ]

# ---- 3. derivatives -----------------------------------------------------------------
# mlp 784-16-10: 784*16+16 + 16*10+10 = 12730 parameters
M16="--samples 100 --seed 3 --hidden 16"
expect "grad: --grad-out G.npy" 0 "loss=" "$B" eval $M16 --grad-out G.npy
cp out evalG
expect "idx: eval on raw idx:DIR (first 2000 of Fashion-MNIST)" 0 "loss=" "$B" eval $SMALL $M16
check "idx: same loss and accuracy as fashion-mnist" "'$(cat out)' vs '$(cat evalG)'" same out evalG
check "grad: G.npy holds 12730 float64" "count $(npy_count G.npy)" \
    [ "$(npy_count G.npy)" = "12730 12730" ]
expect "jvp/hvp: --jvp-in G --hvp-in G --hvp-out HV" 0 "jvp=|vHv=" \
    "$B" eval $M16 --jvp-in G.npy --hvp-in G.npy --hvp-out HV.npy
jvp=$(val jvp) vhv=$(val vHv)
g2=$(npy_dot G.npy G.npy | awk '{ print $1 }')
check "jvp: <grad, G> = |G|^2 (1e-12)" "jvp '$jvp', |G|^2 '$g2'" near "$jvp" "$g2" 1e-12
check "hvp: HV.npy holds 12730 float64" "count $(npy_count HV.npy)" \
    [ "$(npy_count HV.npy)" = "12730 12730" ]
dot=$(npy_dot G.npy HV.npy)
check "hvp: vHv = <G, HV.npy> (1e-12 of sum |G_i HV_i|)" "vHv '$vhv', <G,HV> and sum|.| '$dot'" \
    awk -v a="$vhv" -v d="$dot" 'BEGIN { split(d, x, " "); e = a - x[1]; if (e < 0) e = -e
                                         exit !(a != "" && x[2] > 0 && e <= 1e-12 * x[2]) }'
# Rosenbrock at its start (-1.2, 1): grad (-215.6, -88), Hessian [[1330, 480], [480, 200]]
npy V12.npy '<f8' 2 "$F8_1$F8_2"
expect "grad: rosenbrock --grad-out" 0 "loss=" "$B" eval --model rosenbrock --grad-out RG.npy
pair RG.npy
check "grad: rosenbrock gradient (-215.6, -88)" "got ($p1, $p2), $pn elements" \
    eval 'near "$p1" -215.6 1e-13 && near "$p2" -88 1e-13 && [ "$pn" -eq 2 ]'
expect "jvp/hvp: rosenbrock, crafted V = (1, 2)" 0 "jvp=|vHv=" \
    "$B" eval --model rosenbrock --jvp-in V12.npy --hvp-in V12.npy --hvp-out RHV.npy
check "jvp: rosenbrock <grad, V> = -391.6" "jvp '$(val jvp)'" near "$(val jvp)" -391.6 1e-13
check "hvp: rosenbrock vHv = 4050" "vHv '$(val vHv)'" near "$(val vHv)" 4050 1e-13
pair RHV.npy
check "hvp: rosenbrock HV = (2290, 880)" "got ($p1, $p2), $pn elements" \
    eval 'near "$p1" 2290 1e-13 && near "$p2" 880 1e-13 && [ "$pn" -eq 2 ]'

# ---- 4. training accuracy: the acceptance test -------------------------------------
expect "train: fashion-mnist mlp 256,256, 3 epochs" 0 "test_accuracy=" \
    "$B" train --data fashion-mnist --samples 10000 --model mlp --hidden 256,256 --optim sgd \
    --lr 0.05 --momentum 0.9 --batch 128 --epochs 3 --seed 1 --threads 2
acc=$(val test_accuracy)
check "train: test_accuracy $acc >= 0.80" "test_accuracy '$acc'" \
    awk -v a="$acc" 'BEGIN { exit !(a != "" && a >= 0.80 && a <= 1) }'

# ---- 5. reproducibility ---------------------------------------------------------------
TR="train $SMALL --hidden 32 --lr 0.05 --momentum 0.9 --batch 64 --epochs 1 --threads 2 --quiet"
expect "repro: train seed 5 (1)" 0 "train_loss=|test_accuracy=" "$B" $TR --seed 5 --save T1.npy
cp out T1.out
expect "repro: train seed 5 (2)" 0 "train_loss=" "$B" $TR --seed 5 --save T2.npy
check "repro: same seed, byte-identical theta" "T1.npy and T2.npy differ" same T1.npy T2.npy
check "repro: same seed, identical output" "'$(cat T1.out)' vs '$(cat out)'" same T1.out out
expect "repro: train seed 6" 0 "train_loss=" "$B" $TR --seed 6 --save T3.npy
check "repro: another seed, another theta" "T1.npy = T3.npy" differ T1.npy T3.npy
# from a fixed theta without shuffling the seed changes nothing; with shuffling it does
expect "repro: --init T1 --no-shuffle seed 5" 0 "train_loss=" "$B" $TR --init T1.npy --no-shuffle --seed 5 --save N5.npy
expect "repro: --init T1 --no-shuffle seed 6" 0 "train_loss=" "$B" $TR --init T1.npy --no-shuffle --seed 6 --save N6.npy
check "repro: --no-shuffle is seed-independent" "N5.npy and N6.npy differ" same N5.npy N6.npy
expect "repro: --init T1 shuffled seed 5" 0 "train_loss=" "$B" $TR --init T1.npy --seed 5 --save S5.npy
check "repro: --no-shuffle changes the order" "S5.npy = N5.npy" differ S5.npy N5.npy

# ---- 6. bad input: exit 1 (data) with a message naming the culprit ---------------------
expect "bad: BASIN_DATA_DIR=/nonexistent" 1 "dataset-fashion-mnist|/nonexistent" \
    env BASIN_DATA_DIR=/nonexistent "$B" eval --samples 10
expect "bad: --init of the wrong length" 1 "A.npy|269322|12730" "$B" eval $M16 --init A.npy
head -c 1000 G.npy >TRUNC.npy 2>/dev/null
expect "bad: truncated .npy" 1 "TRUNC.npy|truncated" "$B" eval --model rosenbrock --init TRUNC.npy
npy F4.npy '<f4' 2 "$F4_1$F4_1"
expect "bad: dtype <f4" 1 "F4.npy|<f4" "$B" eval --model rosenbrock --init F4.npy
printf 'PK\003\004 not an npy file' >ZIP.npy
expect "bad: not a .npy" 1 "ZIP.npy" "$B" eval --model rosenbrock --init ZIP.npy
expect "bad: --init missing file" 1 "$T/no/such.npy" "$B" eval --model rosenbrock --init "$T/no/such.npy"
npy NAN.npy '<f8' 2 "$F8_1$F8_NAN"
expect "bad: theta with NaN" 1 "NAN.npy" "$B" eval --model rosenbrock --init NAN.npy
printf 'label,a,b\n0,1.5,2\n1,x,3\n2,0,1\n' >bad.csv
expect "bad: CSV bad value at line 3" 1 "bad.csv:3" "$B" eval --data csv:bad.csv --model logreg
printf '0,1.5,2\n1,2.5\n' >short.csv
expect "bad: CSV short row at line 2" 1 "short.csv:2" "$B" eval --data csv:short.csv --model logreg
mkdir idx
if [ -r "$FDIR/train-images-idx3-ubyte.gz" ] && [ -r "$FDIR/train-labels-idx1-ubyte.gz" ]; then
    s=$(wc -c <"$FDIR/train-images-idx3-ubyte.gz")
    head -c $((s / 2)) "$FDIR/train-images-idx3-ubyte.gz" >idx/train-images-idx3-ubyte.gz
    cp "$FDIR/train-labels-idx1-ubyte.gz" idx/
    expect "bad: truncated gzip IDX images" 1 "train-images-idx3-ubyte.gz" \
        "$B" eval --data idx:idx --hidden 16 --samples 10
else
    fail "bad: truncated gzip IDX images: no $FDIR/train-*-idx?-ubyte.gz to cut"
fi
# a gzip bomb: a member whose header declares 2000000 images of 28x28 (1.57 GB) and
# whose trailer agrees, holding 2 MB of zeros in stored blocks and then corrupt data:
# --samples 10 inflates 10 images and never reaches it (it was read whole: corrupt)
mkdir bomb
{ printf '\037\213\010\000\000\000\000\000\000\003'
  printf '\000\377\377\000\000\000\000\010\003\000\036\204\200\000\000\000\034\000\000\000\034'
  head -c 65519 /dev/zero
  i=0; while [ $i -lt 31 ]; do printf '\000\377\377\000\000'; head -c 65535 /dev/zero; i=$((i + 1)); done
  printf '\007\000\000\000\000\020\310\165\135'; } >bomb/train-images-idx3-ubyte.gz
{ printf '\000\000\010\001\000\036\204\200'; head -c 2000000 /dev/zero; } | gzip -n \
    >bomb/train-labels-idx1-ubyte.gz
expect "gzip bomb: --samples 10 of 2000000 images (1.57 GB declared) reads 10" 0 "loss=" \
    "$B" eval --data idx:bomb --samples 10 --hidden 4
expect "gzip bomb: without --samples it is read whole, to its corrupt data" 1 \
    "bomb/train-images-idx3-ubyte.gz: corrupt gzip data" "$B" eval --data idx:bomb --hidden 4
expect "bad: --samples 100000 of 60000" 1 "100000|60000" "$B" eval --samples 100000
expect "bad: idx:DIR without files" 1 "empty/train-images-idx3-ubyte" "$B" eval --data idx:empty
expect "sys: --save into a missing directory -> 3" 3 "$T/no/dir/x.npy" \
    "$B" train --model rosenbrock --lr 0.001 --steps 3 --quiet --save "$T/no/dir/x.npy"
# paths longer than a message (1 KB): the path is shortened in the middle, the reason kept
LONG=$T$(awk 'BEGIN { for (i = 0; i < 8; i++) { printf "/"; for (j = 0; j < 250; j++) printf "d" } }')
expect "long path: --db of 2 KB, no such database" 1 "$T/ddd|ddd/x.db: no such database" \
    "$B" runs --db "$LONG/x.db"
printf '[experiment]\nname = deep\n[data]\ndata = blobs\nsamples = 16\n[model]\nhidden = 2\n[train]\nsteps = 1\n' >deep.ini
# (SQLite opens no path over 512 bytes: exit 3, with its reason)
expect "long path: run --db 2 KB deep -> 3, the reason kept" 3 \
    "$T/ddd|ddd/run/x.db: cannot open: unable to open database file" \
    "$B" run deep.ini --db "$LONG/run/x.db"
check "long path: run made the --db directory whole, not a cut one" "no $LONG/run" \
    [ -d "$LONG/run" ]
expect "long path: csv:FILE of 2 KB, cannot open" 1 "$T/ddd|ddd/x.csv: cannot open: No such file" \
    "$B" eval --data "csv:$LONG/x.csv" --model logreg
expect "long path: idx:DIR of 2 KB, no such file" 1 "ddd/train-images-idx3-ubyte.gz: no such file" \
    "$B" eval --data "idx:$LONG" --hidden 4
mkdir -p "$LONG" && printf '0,1,2\n1,x,3\n' >"$LONG/bad.csv"
expect "long path: a bad CSV 2 KB deep names line, column and value" 1 \
    "$T/ddd|ddd/bad.csv:2: column 2: 'x' is not a finite number" \
    "$B" eval --data "csv:$LONG/bad.csv" --model logreg

# ---- 7. test functions (no data) ---------------------------------------------------------
expect "testfn: eval rosenbrock" 0 "loss=" "$B" eval --model rosenbrock
check "testfn: rosenbrock(-1.2, 1) = 24.2" "loss '$(val loss)'" near "$(val loss)" 24.2 1e-14
expect "testfn: train quadratic:1,10 (no data read)" 0 "train_loss=" \
    env BASIN_DATA_DIR=/nonexistent "$B" train --model quadratic:1,10 --optim sgd --lr 0.1 --steps 200 --quiet
tl=$(tail -n 1 out | awk '{ print substr($1, index($1, "=") + 1) }')
check "testfn: quadratic last train_loss < 1e-15" "last line '$(tail -n 1 out)'" \
    awk -v l="$tl" 'BEGIN { exit !(l != "" && l >= 0 && l < 1e-15) }'
# Rastrigin at (2.2, -1.7): H = diag(2 + 40 pi^2 cos(2 pi x_i)); V = (1, 2)
expect "testfn: rastrigin --hvp-in V12" 0 "vHv=" "$B" eval --model rastrigin --hvp-in V12.npy
want=$(awk 'BEGIN { p = atan2(0, -1); printf "%.17g", 2 + 40 * p * p * cos(4.4 * p) + 4 * (2 + 40 * p * p * cos(-3.4 * p)) }')
check "testfn: rastrigin vHv = $want" "vHv '$(val vHv)'" near "$(val vHv)" "$want" 1e-9

# ---- 8. regression data -------------------------------------------------------------------
expect "regression: train teacher --loss mse" 0 "train_loss=" "$B" train --data teacher --loss mse --steps 50 --quiet
check "regression: train_loss, test_loss, no accuracy" "'$(said)'" \
    eval 'grep -q "^train_loss=" out && grep -q "^test_loss=" out && ! grep -q accuracy all'
check "regression: finite train_loss" "train_loss '$(val train_loss)'" \
    awk -v l="$(val train_loss)" 'BEGIN { exit !(l != "" && l >= 0 && l < 1e300) }'

echo "$np passed, $nf failed"
[ "$nf" -eq 0 ]
