#!/usr/bin/env bash
# The crash suite at full size, in release mode: 200 kill -9 of
# gocart-ingest while it writes alerts and 50 of gocart-trigger while its
# plugins run, each followed by a restart and the checks of the tree and the
# run record. Prints the figures (kills, alerts, runs, time) and the seed;
# `GOCART_CRASH_SEED=<seed> scripts/crash-suite.sh` replays a failed run.
# CI runs the same test target in its bounded form (`cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOCART_CRASH_INGEST_KILLS="${GOCART_CRASH_INGEST_KILLS:-200}"
export GOCART_CRASH_TRIGGER_KILLS="${GOCART_CRASH_TRIGGER_KILLS:-50}"
log=$(mktemp -t crash-suite.XXXXXX)
started=$(date +%s)
# One test at a time: each half's timing is its own.
if cargo test --release --locked -p gocart-tests --test it crash:: -- --nocapture --test-threads 1 >"$log" 2>&1; then
    grep -o 'crash suite[:,].*' "$log"
    echo "crash suite: passed in $(($(date +%s) - started)) s (output: $log)"
else
    tail -n 80 "$log"
    echo "crash suite: FAILED after $(($(date +%s) - started)) s (output: $log)"
    exit 1
fi
