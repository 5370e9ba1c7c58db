#!/usr/bin/env bash
# The main job on an embedded default, with no credentials and no network:
# starts gocart-trigger on a fresh alert tree (./demo) with the plugins of
# plugins/, feeds it realistic mock alerts through gocart-ingest, shows each
# plugin's output as it runs, stops cleanly and leaves the tree to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -q -p gocart-ingest -p gocart-trigger
bin="$PWD/target/release"
root="$PWD/demo"
rm -rf "$root"
mkdir -p "$root"
cat > "$root/gocart.yaml" <<YAML
lvk:
    parse_mock_events: true
    download_dir: $root/lvk_events
    json: true
trigger:
    plugins_dir: $PWD/plugins
    state_dir: $root/state
YAML
chmod 600 "$root/gocart.yaml"

echo "== gocart-trigger watches $root/lvk_events and runs plugins/gp_* on each new alert"
"$bin/gocart-trigger" -s "$root/gocart.yaml" watch &
trigger=$!
trap 'kill -TERM $trigger 2>/dev/null || true' EXIT
sleep 1

echo "== gocart-ingest writes 6 mock alerts"
"$bin/gocart-ingest" -s "$root/gocart.yaml" mock --count 6 --seed 42

# Wait until every plugin has run on every alert directory (or 60 s).
dirs=$(find "$root/lvk_events" -name .gocart-complete | wc -l)
plugins=$(ls plugins | grep -c '^gp_')
for _ in $(seq 120); do
    done_runs=$("$bin/gocart-trigger" -s "$root/gocart.yaml" status 2>/dev/null \
        | sed -n 's/^runs: .*ok \([0-9]*\), failed \([0-9]*\).*/\1 \2/p' | awk '{print $1 + $2}')
    [ "${done_runs:-0}" -ge $((dirs * plugins)) ] && break
    sleep 0.5
done
kill -TERM $trigger
wait $trigger || true
trap - EXIT

echo
echo "== gocart-trigger status"
"$bin/gocart-trigger" -s "$root/gocart.yaml" status | sed -n "1,3p"
echo
echo "== the alert tree ($root/lvk_events)"
find "$root/lvk_events" -path '*/.staging' -prune -o -type f -print | sed "s|$root/lvk_events/||" | sort
first=$(find "$root/lvk_events/mockevents" -name meta.yaml | sort | head -n 1)
echo
echo "== EXTRA of ${first#$root/lvk_events/}"
sed -n '/^EXTRA:/,$p' "$first"
echo
echo "Open a picture: $(dirname "$first")/skymap.png"
