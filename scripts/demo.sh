#!/usr/bin/env bash
# The main job on an embedded default, with no credentials and no network:
# generates realistic alerts with the project's own sky-map code, imports them
# into a fresh alert tree under ./demo, and shows what was written.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -q -p gocart-ingest --bin gocart-ingest --example synthetic_alerts
root="$PWD/demo"
rm -rf "$root"
mkdir -p "$root/alerts"
cat > "$root/gocart.yaml" <<YAML
lvk:
    parse_mock_events: true
    download_dir: $root/lvk_events
    json: true
trigger:
    plugins_dir: $PWD/plugins
    state_dir: $root/state
YAML
target/release/examples/synthetic_alerts "$root/alerts"
target/release/gocart-ingest -s "$root/gocart.yaml" import "$root/alerts"
echo
echo "The alert tree (in $root/lvk_events):"
find "$root/lvk_events" -path '*/.staging' -prune -o -type f -print | sed "s|$root/lvk_events/||" | sort
first=$(find "$root/lvk_events/mockevents" -name meta.yaml | sort | head -n 1)
echo
echo "EXTRA of $(dirname "${first#$root/lvk_events/}")/meta.yaml:"
sed -n '/^EXTRA:/,$p' "$first"
