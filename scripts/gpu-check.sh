#!/usr/bin/env bash
# The whole GPU check for a machine with a hardware GPU, in one go, as a
# lent device's time is short: build, the test suite on the real driver
# (correctness before speed: the same answers as the CPU), then
# `pixtape bench` on the CPU and the GPU side by side. Everything it
# learns lands in $OUT (default gpu-check-out/): the device, the test
# log, the bench table and JSON, and how long each step took.
#
#   scripts/gpu-check.sh            # --full bench
#   scripts/gpu-check.sh --quick    # a shorter bench
#   SKIP_TESTS=1 scripts/gpu-check.sh --smoke
set -uo pipefail
OUT=${OUT:-gpu-check-out}
MODE=${1:---full}
mkdir -p "$OUT"
export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}
step() { # name, command...: runs it, logs its time, keeps going on failure
    local name=$1; shift
    local start=$SECONDS
    "$@"
    local rc=$?
    echo "$name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/steps.txt"
    return $rc
}
{ nvidia-smi 2>&1 || true; vulkaninfo --summary 2>&1 || true; nproc; } > "$OUT/device.txt"
step build cargo build --release 2>&1 | tail -n 3
if [ -z "${SKIP_TESTS:-}" ]; then
    PIXTAPE_REQUIRE_GPU=1 step tests cargo test --release > "$OUT/tests.txt" 2>&1
    grep -E "^test result|FAILED|panicked" "$OUT/tests.txt" | sort | uniq -c
fi
step bench target/release/pixtape bench "$MODE" --device all --json "$OUT/bench.json" > "$OUT/bench.txt" 2> "$OUT/bench.log"
cat "$OUT/bench.txt"
