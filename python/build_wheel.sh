#!/usr/bin/env bash
# Builds pixtape's wheel into target/wheels: the `pixtape` command (the
# release binary, the same as `cargo install` gives, shipped as the wheel's
# script) and the `pixtape` module (abi3: one wheel for CPython 3.9+).
# Needs a Rust toolchain and maturin (`pip install maturin`); extra
# arguments go to `maturin build`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin pixtape
mkdir -p python/wheel-data/scripts
cp target/release/pixtape python/wheel-data/scripts/pixtape
# The release profile keeps line tables for profiling; a wheel needs none.
strip python/wheel-data/scripts/pixtape
maturin build --release --strip -m python/Cargo.toml --out target/wheels "$@"
