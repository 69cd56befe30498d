#!/usr/bin/env bash
# The kill-at-random-points harness of tests/resume.rs with more points
# than CI runs (20 unless given): each point kills a `pixtape recommend`
# with SIGKILL at a random moment (half the time the resumed run too), reruns
# the same command, and compares every table with an uninterrupted run.
# Prints one line per point.
set -euo pipefail
cd "$(dirname "$0")/.."
export WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
PIXTAPE_KILL_POINTS="${1:-20}" cargo test --release --test resume \
    a_run_killed_at_random_points_resumes_to_the_tables_of_a_clean_run -- --nocapture
