#!/bin/sh
# run_conv.sh -- the convolutional benchmark beside PyTorch, one thread, and the ratios.
# Usage: sh bench/run_conv.sh path/to/bench_conv [--quick]   (make bench-conv does this)
# basin's figures come from bench_conv (bench/bench_conv.c), PyTorch's from
# bench/torch_models.py --bench, the same workloads on the same machine and OpenBLAS.
# Goals: cnn training step <= 0.8 of PyTorch's time, full-batch HVP <= 2.5 gradients.
# Exits 0 when goals are missed (benchmarks are not tests); non-zero only when basin's
# bench itself fails. Without python3-torch the ratios are "n/a".
set -u
bench=${1:?usage: sh bench/run_conv.sh path/to/bench_conv [--quick]}
quick=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "basin (1 thread): $bench $quick"
OPENBLAS_NUM_THREADS=1 BASIN_THREADS=1 "$bench" $quick >"$tmp/basin.txt" || exit 1
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "PyTorch (1 thread): bench/torch_models.py --bench $quick"
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 "$(dirname "$0")/torch_models.py" \
        --bench $quick >"$tmp/torch.txt" 2>"$tmp/err" || { tail -n 3 "$tmp/err"; : >"$tmp/torch.txt"; }
else
    echo "note: python3-torch is not installed: basin's figures alone"
    : >"$tmp/torch.txt"
fi
awk '
    FILENAME == ARGV[1] { B[$1] = $2; if ($1 == "cnn_hvp_full_ms") BG = $4; next }
    { P[$1] = $2; if ($1 == "cnn_hvp_full_ms") PG = $4 }
    function row(label, k, goal,   r, v) {
        r = (k in P && P[k] + 0 > 0) ? sprintf("%.2f", B[k] / P[k]) : "n/a"
        v = goal == "" ? "" : (r == "n/a" ? "n/a" : (r + 0 <= goal ? "goal met" : "MISSED"))
        printf "  %-26s %10s %10s %7s %6s  %s\n", label, B[k], (k in P ? P[k] : "-"), r,
            (goal == "" ? "-" : "<=" goal), v
    }
    END {
        printf "\n== cnn (LeNet-5 6,16,120,84) and resnet (16 wide, 9 blocks), float64, 1 thread ==\n"
        printf "  %-26s %10s %10s %7s %6s  %s\n", "workload", "basin", "PyTorch", "ratio", "goal", "verdict"
        row("cnn train step (us)", "cnn_train_step_us", 0.8)
        row("cnn full-batch grad (ms)", "cnn_grad_full_ms", "")
        row("cnn full-batch HVP (ms)", "cnn_hvp_full_ms", "")
        row("resnet grad, 1k (ms)", "resnet_grad_ms", "")
        row("resnet HVP, 1k (ms)", "resnet_hvp_ms", "")
        gsub(/[()]/, "", BG); gsub(/[()]/, "", PG)
        printf "  cnn HVP / grad: basin %s (goal <= 2.5: %s), PyTorch %s\n", BG,
            (BG + 0 <= 2.5 ? "met" : "MISSED"), (PG == "" ? "-" : PG)
    }' "$tmp/basin.txt" "$tmp/torch.txt"
exit 0
