#!/bin/sh
# deps.sh -- make sure the Debian packages basin needs are installed.
# Usage: sh scripts/deps.sh [build|test|bench|conformance|fuzz|valgrind|slurm|all]
# Checks each package with dpkg-query; when some are missing it runs `apt-get update`
# once and `apt-get install -y` for exactly those when root, and otherwise prints the
# exact `sudo apt-get install ...` line and exits 1.
set -eu
what=${1:-build}
pkgs="libgsl-dev libopenblas-dev liblbfgsb-dev libsqlite3-dev sqlite3 zlib1g-dev gnuplot-nox dataset-fashion-mnist"
case "$what" in
    build) ;;
    bench) pkgs="$pkgs python3-torch python3-numpy" ;;
    conformance) pkgs="$pkgs python3-torch python3-numpy" ;;   # make test-conformance
    fuzz)  pkgs="$pkgs clang libclang-rt-14-dev" ;;                # make fuzz, make fuzz-ci
    valgrind) pkgs="$pkgs valgrind" ;;                             # make valgrind
    slurm) pkgs="$pkgs slurm-wlm munge" ;;                         # make test-slurm
    all)   pkgs="$pkgs python3-torch python3-numpy" ;;
    *) echo "usage: sh scripts/deps.sh [build|bench|conformance|fuzz|valgrind|slurm|all]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "basin: missing Debian packages:$missing" >&2
    echo "basin: install them with:  sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "basin: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq $missing >&2
