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
# The tests that need the Tansu broker are marked ignored, so that without it
# they are reported as ignored, never silently green; they run whenever Tansu
# is installed (setup.sh installs it; in CI its absence fails them).
tansu_bin=$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")
if [ -x "$tansu_bin" ] || [ "${CI:-}" = true ]; then
    cargo test --workspace --locked "$@" -- --include-ignored
else
    echo "test.sh: tansu is not installed: the Kafka tests are reported as ignored"
    cargo test --workspace --locked "$@"
fi
