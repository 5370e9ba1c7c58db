#!/usr/bin/env bash
# Runs every check of the workspace, after installing what they need: the
# formatting (`cargo fmt --check`), the lints (`cargo clippy ... -D warnings`),
# then every test. Tests that use the real alerts read them from
# ../shared/alerts (or $GOCART_TEST_DATA); without them they say they were
# skipped, unless CI=true. Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "test.sh: cargo fmt --check"
cargo fmt --all --check
echo "test.sh: cargo clippy"
cargo clippy --workspace --all-targets --locked -q -- -D warnings
cargo test --workspace --locked "$@"
