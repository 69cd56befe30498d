#!/usr/bin/env bash
# The whole test suite: the Rust tests (`cargo test --release`), then the
# wheel and its Python tests, Ray and Spark included where asked for
# (`python/test.sh`). `.ci/run` calls this after installing what a fresh
# machine lacks; the variables it sets are described in the README's Tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
python/test.sh
