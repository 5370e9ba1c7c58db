#!/usr/bin/env bash
# Runs every test of the workspace, after installing what they need.
# Tests that use the real alerts read them from ../shared/alerts (or
# $GOCART_TEST_DATA); without them they say they were skipped, unless CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked "$@"
