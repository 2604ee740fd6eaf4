#!/bin/sh
# test_conv_train.sh -- the full-size training checks of the convolutional models
# (`make test-conv-train`; about a minute on two cores, so not in `make test`, whose
# test_conv runs the small version).
#   1. Fashion-MNIST, first 10,000 training images, 10 epochs of SGD (lr 0.05,
#      momentum 0.9, batch 128, seed 1, the MLP acceptance run's settings): the cnn's
#      test accuracy beats the MLP's (256,256).
#   2. resnet (width 16, 9 blocks) on 1,000 images, 3 epochs of Adam (lr 0.002, batch
#      32), with and without skips: the training loss falls below ln(10) - 0.3 (it
#      starts near ln 10 = 2.30). Plain SGD moves this GroupNorm network slowly at
#      PyTorch's initialization (PyTorch's own module, the same: bench/torch_models.py).
# Usage: sh tests/test_conv_train.sh ./basin. One PASS/FAIL line per check.
set -u
basin=${1:?usage: sh tests/test_conv_train.sh path/to/basin}
pass=0; fail=0
report() {  # report OK NAME DETAIL
    if [ "$1" = 1 ]; then pass=$((pass + 1)); echo "PASS $2"; else fail=$((fail + 1)); echo "FAIL $2: $3"; fi
}
field() { sed -n "s/.*$1=\([0-9.eE+-]*\).*/\1/p" | tail -n 1; }

common="--data fashion-mnist --seed 1 --quiet"
acc() { "$basin" train $common --optim sgd --momentum 0.9 --samples 10000 --lr 0.05 --batch 128 \
    --epochs 10 "$@" | field test_accuracy; }
cnn=$(acc --model cnn); mlp=$(acc --model mlp)
ok=$(awk -v a="$cnn" -v b="$mlp" 'BEGIN { print (a != "" && b != "" && a > b) ? 1 : 0 }')
report "$ok" "cnn beats mlp on Fashion-MNIST 10k after 10 epochs (cnn $cnn, mlp $mlp)" "cnn $cnn mlp $mlp"

for skip in on off; do
    loss=$("$basin" train $common --optim adam --model resnet --skip $skip --samples 1000 \
        --lr 0.002 --batch 32 --epochs 3 --test-samples 100 | field train_loss)
    ok=$(awk -v l="$loss" 'BEGIN { print (l != "" && l < log(10) - 0.3) ? 1 : 0 }')
    report "$ok" "resnet --skip $skip trains (train loss $loss after 3 epochs)" "loss $loss"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
