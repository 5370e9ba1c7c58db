#!/usr/bin/env bash
# The main job on an embedded default, with no credentials and no network:
# starts gocart-trigger on a fresh alert tree (./demo) with the plugins of
# plugins/, feeds it realistic mock alerts through gocart-ingest (through a
# local Kafka broker and `gocart-ingest listen` when Tansu is installed, as
# `scripts/setup.sh` does; else through the import path), shows each plugin's
# output as it runs, serves the tree in a browser meanwhile (`gocart-trigger
# serve`, its URL printed), stops cleanly and leaves the tree to look at.
set -euo pipefail
cd "$(dirname "$0")/.."
# Not the test broker's 16-minute build: the demo uses Tansu when it is there.
scripts/setup.sh --without-broker
# The dev profile (optimised, see Cargo.toml): it builds in about half the time
# of a release build, is fast enough for a handful of alerts, and is the build
# the tests reuse. Its progress is shown: the first build on a fresh 2-core
# machine takes about 10 minutes (librdkafka, SQLite and cfitsio's bindings are
# compiled), a later one a few seconds.
if [ ! -x "${CARGO_TARGET_DIR:-$PWD/target}/debug/gocart-trigger" ]; then
    echo "== building gocart-ingest and gocart-trigger: the first build takes about 10 minutes on 2 cores (later ones seconds)"
fi
cargo build --locked -p gocart-ingest -p gocart-trigger
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug"
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

# A local broker when Tansu is installed: alerts then take the path of live ones.
tansu_bin=$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")
broker=""
if [ -x "$tansu_bin" ]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$root/broker"
    (cd "$root/broker" && exec "$tansu_bin" broker --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
        > broker.log 2>&1) &
    broker=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    "$tansu_bin" topic create igwn.gwalert --partitions 1 --broker "tcp://127.0.0.1:$port" >/dev/null
    cat >> "$root/gocart.yaml" <<YAML
gcn-kafka:
    bootstrap_servers: 127.0.0.1:$port
YAML
fi
chmod 600 "$root/gocart.yaml"

echo "== gocart-trigger watches $root/lvk_events and runs plugins/gp_* on each new alert"
"$bin/gocart-trigger" -s "$root/gocart.yaml" watch &
trigger=$!
listen=""
serve=""
trap 'kill -TERM $trigger $listen $broker $serve 2>/dev/null || true' EXIT
sleep 1

# The page: on 127.0.0.1:8620, or any free port when that one is taken.
start_serve() {
    : > "$root/serve.out"
    "$bin/gocart-trigger" -s "$root/gocart.yaml" serve "$@" > "$root/serve.out" 2> "$root/serve.log" &
    serve=$!
    for _ in $(seq 100); do
        grep -q '^serving ' "$root/serve.out" && return 0
        kill -0 $serve 2>/dev/null || { wait $serve 2>/dev/null || true; serve=""; return 1; }
        sleep 0.1
    done
    return 1
}
mkdir -p "$root/lvk_events"
start_serve || start_serve --addr 127.0.0.1:0 || echo "(gocart-trigger serve did not start: see $root/serve.log)"
url=$(sed -n 's/^serving //p' "$root/serve.out")
[ -n "$url" ] && echo "== open $url in a browser: the alerts appear there as they are written"

count=6
if [ -n "$broker" ]; then
    echo "== gocart-ingest listen on the local broker 127.0.0.1:$port"
    "$bin/gocart-ingest" -s "$root/gocart.yaml" listen 2> >(tee "$root/listen.log" >&2) &
    listen=$!
    # Its start position (the end of the topic) is fixed once it says so.
    for _ in $(seq 150); do grep -q "listening to" "$root/listen.log" 2>/dev/null && break; sleep 0.2; done
    echo "== gocart-ingest mock publishes $count mock alerts to it"
    "$bin/gocart-ingest" -s "$root/gocart.yaml" mock --count $count --seed 42 --publish
    for _ in $(seq 300); do
        [ "$(find "$root/lvk_events" -name .gocart-complete 2>/dev/null | wc -l)" -ge $count ] && break
        sleep 0.2
    done
    kill -TERM $listen
    wait $listen || true
    listen=""
else
    echo "== gocart-ingest writes $count mock alerts (no local broker: tansu is not installed)"
    "$bin/gocart-ingest" -s "$root/gocart.yaml" mock --count $count --seed 42
fi

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
if [ -n "$serve" ]; then kill -TERM $serve; wait $serve || true; fi
if [ -n "$broker" ]; then kill -TERM $broker 2>/dev/null || true; wait $broker 2>/dev/null || true; fi
trap - EXIT

echo
echo "== gocart-trigger status (the demo stopped the trigger, so it says so and exits 1)"
"$bin/gocart-trigger" -s "$root/gocart.yaml" status | sed -n "1,3p" || true
echo
echo "== the alert tree ($root/lvk_events)"
find "$root/lvk_events" -path '*/.staging' -prune -o -type f -print | sed "s|$root/lvk_events/||" | sort
first=$(find "$root/lvk_events/mockevents" -name meta.yaml | sort | head -n 1)
echo
echo "== EXTRA of ${first#$root/lvk_events/}"
sed -n '/^EXTRA:/,$p' "$first"
echo
echo "Open a picture: $(dirname "$first")/skymap.png"
echo "Browse the tree: $bin/gocart-trigger -s $root/gocart.yaml serve   (then open http://127.0.0.1:8620/)"
