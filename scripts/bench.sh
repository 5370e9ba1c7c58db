#!/usr/bin/env bash
# Reproduces every benchmark of the project (release builds) and prints a
# table of the figures against the project's targets, with the machine
# they were taken on. Each benchmark prints `figure: KEY VALUE` lines; the
# logs and the figures are kept under target/bench/. About 7 minutes.
# Needs the real alerts (../shared/alerts or $GOCART_TEST_DATA) and Tansu
# (scripts/setup.sh installs it).
#
#   scripts/bench.sh            # everything
#   scripts/bench.sh ingest     # only some: ingest render trigger kafka load serve
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
alerts="${GOCART_TEST_DATA:-../shared/alerts}/lvk"
if [ ! -d "$alerts" ]; then
    echo "bench: the real alerts are missing at $alerts (set GOCART_TEST_DATA)" >&2
    exit 1
fi
only=" ${*:-ingest render trigger kafka load serve} "
out=target/bench
mkdir -p "$out"
figures="$out/figures.txt"
: > "$figures"
cargo build --release --locked -q -p gocart-ingest -p gocart-trigger -p gocart-tests --bins --examples
bin=target/release

# run NAME PREFIX COMMAND...: runs one benchmark, keeps its log, collects its
# figures (renamed PREFIX.* when PREFIX is not empty).
run() {
    local name=$1 prefix=$2
    shift 2
    echo "== $name: $*"
    "$@" > "$out/$name.log" 2>&1 || { echo "bench: $name failed, see $out/$name.log" >&2; tail -20 "$out/$name.log" >&2; exit 1; }
    grep -v '^figure:' "$out/$name.log" | grep -v -E 'DEBUG|^\s*$' | tail -15
    if [ -n "$prefix" ]; then
        grep '^figure:' "$out/$name.log" | sed -E "s/^figure: [a-z_]+\./figure: $prefix./" >> "$figures"
    else
        grep '^figure:' "$out/$name.log" >> "$figures"
    fi
}

# A whole alert with its picture, as the user's process: import into a fresh
# tree, 11 times; the median wall time.
whole_alert_with_png() {
    local alert=$alerts/MS230426e-preliminary.json times=() scratch
    scratch=$(mktemp -d)
    for i in $(seq 11); do
        cat > "$scratch/gocart.yaml" <<YAML
lvk:
    parse_mock_events: true
    download_dir: $scratch/tree$i
YAML
        local start end
        start=$(date +%s%N)
        "$bin/gocart-ingest" -s "$scratch/gocart.yaml" import "$alert" > /dev/null
        end=$(date +%s%N)
        times+=($(( (end - start) / 1000000 )))
    done
    rm -rf "$scratch"
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 6p)
    echo "whole alert with skymap.png, one import process: median $median ms of 11"
    echo "figure: ingest.process_with_png_ms $median"
}

if [[ $only == *" ingest "* ]]; then
    run ingest "" "$bin/examples/bench_ingest" --runs 30 "$alerts/MS181101ab-preliminary.json" \
        "$alerts/MS230426e-preliminary.json" "$alerts/S230528ay-preliminary.json" \
        "$alerts/MSBURST-initial.json"
    run ingest_png "" whole_alert_with_png
    gcn=$alerts/../gcn
    notices=("$gcn/icecube_lvk_nu_track_search.example.json" "$gcn/circulars.example.json"
        "$gcn/boom_alert.example.json" "$gcn/einstein_probe_wxt_alert.example.json"
        "$gcn/swift_bat_guano.loc_arc_min.example.json" "$gcn/swift_bat_Guano.Retraction.example.json")
    run ingest_kinds "" "$bin/examples/bench_ingest" --runs 30 "${notices[@]}"
    run ingest_kinds_png "" "$bin/examples/bench_ingest" --runs 30 --png "${notices[@]}"
fi
if [[ $only == *" render "* ]]; then
    run render "" "$bin/examples/bench_render" --runs 21 "$alerts/MS230426e-preliminary.json" \
        "$alerts/S230528ay-preliminary.json"
fi
if [[ $only == *" trigger "* ]]; then
    run trigger "" "$bin/examples/bench"
    # What the machine can do at all: 1000 no-op plugins spawned and reaped in
    # a tight loop, two at a time, with no trigger.
    run trigger_floor "" "$bin/examples/bench" --part floor
fi
if [[ $only == *" kafka "* ]]; then
    run kafka "" "$bin/examples/bench_kafka"
    # The same with Tansu's fetch sleep taken out (see ingest/BENCHMARKS-kafka.md).
    run kafka_fetch10 kafka_fetch10 "$bin/examples/bench_kafka" --config fetch.wait.max.ms=10
fi
if [[ $only == *" load "* ]]; then
    run load "" "$bin/examples/bench_load" --alerts 1000
fi
if [[ $only == *" serve "* ]]; then
    run serve "" "$bin/examples/bench_serve" --alerts 1000
fi

python3 - "$figures" <<'PY'
import platform, subprocess, sys, datetime

figures = {}
for line in open(sys.argv[1]):
    _, key, value = line.split()[:3]
    figures[key] = float(value)

# key, what it is, target (op, value) or None
rows = [
    ("ingest.MS181101ab-preliminary.median_ms", "ingest one alert, PNG off (MS181101ab), median ms", ("<=", 25)),
    ("ingest.MS230426e-preliminary.median_ms", "ingest one alert, PNG off (MS230426e), median ms", ("<=", 25)),
    ("ingest.MSBURST-initial.median_ms", "ingest MSBURST-initial (+ combined map), median ms", None),
    ("ingest.peak_rss_mb", "ingest peak RSS, MB", ("<=", 40)),
    ("render.MS230426e-preliminary.median_ms", "skymap.png render + encode, median ms", ("<=", 120)),
    ("render.MS230426e-preliminary.png_kb", "skymap.png size, KiB", ("<", 600)),
    ("ingest.process_with_png_ms", "whole alert with PNG, one process, median ms", ("<=", 150)),
    ("trigger.single_p50_ms", "trigger: rename -> plugin start, single, p50 ms", ("<=", 5)),
    ("trigger.single_p99_ms", "trigger: rename -> plugin start, single, p99 ms", None),
    ("trigger.burst_p50_ms", "trigger: burst of 1000, p50 ms", ("<=", 5)),
    ("trigger.burst_p99_ms", "trigger: burst of 1000, p99 ms", ("<=", 50)),
    ("trigger.floor_p50_ms", "  floor: 1000 no-op spawns, no trigger, p50 ms", None),
    ("trigger.floor_p99_ms", "  floor: 1000 no-op spawns, no trigger, p99 ms", None),
    ("trigger.startup_s", "trigger start-up over 100,000 handled dirs, s", ("<=", 2)),
    ("trigger.startup_rss_mb", "trigger start-up peak RSS, MB", ("<=", 64)),
    ("kafka.latency_p50_ms", "listen: message -> directory, p50 ms (Tansu defaults)", ("<=", 50)),
    ("kafka.latency_p99_ms", "listen: message -> directory, p99 ms (Tansu defaults)", ("<=", 200)),
    ("kafka.pipeline_p50_ms", "  of which our pipeline, p50 ms", None),
    ("kafka_fetch10.latency_p50_ms", "listen, fetch.wait.max.ms=10, p50 ms", ("<=", 50)),
    ("kafka_fetch10.latency_p99_ms", "listen, fetch.wait.max.ms=10, p99 ms", ("<=", 200)),
    ("kafka.echo_alerts_per_s", "echo 1 of 200 x 1 MB alerts, alerts/s", (">=", 40)),
    ("kafka_fetch10.echo_alerts_per_s", "echo, fetch.wait.max.ms=10, alerts/s", (">=", 40)),
    ("load.alerts", "load: alerts in the burst", None),
    ("load.last_dir_s", "load: until the last directory complete, s", None),
    ("load.last_plugin_s", "load: until the last plugin run ended, s", None),
    ("load.listen_vmhwm_mb", "load: listen peak RSS (VmHWM), MB", None),
    ("load.trigger_vmhwm_mb", "load: trigger peak RSS (VmHWM), MB", None),
    ("load.runs_per_s", "load: plugin runs per second (3 plugins, concurrency 2)", None),
    ("serve.list_median_ms", "serve: list of 1,000 alerts, median ms", ("<", 100)),
    ("serve.list_first_ms", "serve: the list's first answer after start, ms", None),
    ("serve.alert_median_ms", "serve: one alert page, median ms", None),
    ("serve.thumb_first_ms", "serve: a thumbnail made, ms", None),
]

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"

cores = sh("nproc")
model = sh("lscpu | sed -n 's/^Model name: *//p'")
memory = sh("free -g | awk '/^Mem/ {print $2}'")
commit = sh("git rev-parse --short HEAD")
now = datetime.datetime.now(datetime.timezone.utc)
print()
print(f"Machine: {cores} cores, {model}, {memory} GiB, {platform.platform()}; "
      f"{now:%Y-%m-%d %H:%M} UTC, commit {commit}")
print()
print("| figure | value | target | |")
print("|---|---|---|---|")
missed = 0
for key, what, target in rows:
    if key not in figures:
        continue
    value = figures[key]
    if target is None:
        print(f"| {what} | {value:g} | | |")
        continue
    op, limit = target
    ok = {"<=": value <= limit, "<": value < limit, ">=": value >= limit}[op]
    missed += not ok
    print(f"| {what} | {value:g} | {op} {limit} | {'met' if ok else '**not met**'} |")
known = {k for k, _, _ in rows}
for key in sorted(set(figures) - known):
    print(f"| {key} | {figures[key]:g} | | |")
print()
print(f"{missed} target(s) not met; logs in target/bench/")
PY
