#!/usr/bin/env bash
# Fuzzes the parsers that take bytes from the network: the alert message
# (fuzz target alert_parse), the sky-map FITS file (skymap_read) and the GCN
# notices of the other kinds (notice_parse), one after the other, SECONDS
# each (default 600). Installs cargo-fuzz if it is missing;
# needs a nightly toolchain (rustup toolchain install nightly).
#
# The fuzz corpus is seeded from the hostile-input corpus (ingest/tests/hostile)
# and, when present, the real sky maps of ../shared/alerts; it lives in
# $FUZZ_WORK (default /tmp/gocart-fuzz), never in the checkout. A crash leaves
# its input in fuzz/artifacts/<target>/: fix it, then add it as a case in
# tests/src/hostile.rs (gocart_tests::hostile) so the stable test suite replays it.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(alert_parse skymap_read notice_parse)
work=${FUZZ_WORK:-/tmp/gocart-fuzz}
data=${GOCART_TEST_DATA:-../shared/alerts}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Seeds: every hostile message as is, and every sky map inside one decoded.
mkdir -p "$work/alert_parse" "$work/skymap_read" "$work/notice_parse"
for f in ingest/tests/hostile/*.json; do
    [ "$(basename "$f")" = manifest.json ] || cp "$f" "$work/alert_parse/"
    [ "$(basename "$f")" = manifest.json ] || cp "$f" "$work/notice_parse/"
done
cp "$data"/gcn/*.json "$work/notice_parse/" 2>/dev/null || true
python3 - "$work/skymap_read" ingest/tests/hostile/*.json <<'PY'
import base64, binascii, hashlib, json, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    try:
        alert = json.load(open(path, 'rb'))
    except (ValueError, RecursionError):  # the corpus's malformed and deeply nested ones
        continue
    if not isinstance(alert, dict):
        continue
    for key, field in (('event', 'skymap'), ('external_coinc', 'combined_skymap')):
        obj = alert.get(key)
        text = obj.get(field) if isinstance(obj, dict) else None
        if isinstance(text, str) and text:
            try:
                data = base64.b64decode(''.join(text.split()))
            except (binascii.Error, ValueError):
                continue
            open(f'{out}/{hashlib.sha1(data).hexdigest()[:16]}', 'wb').write(data)
PY
if [ -d "$data/skymaps" ]; then
    cp "$data"/skymaps/*.fits "$work/skymap_read/" 2>/dev/null || true
    cp "$data"/lvk/*retraction*.json "$work/alert_parse/" 2>/dev/null || true
fi

for target in "${targets[@]}"; do
    echo "== $target: $seconds s"
    # One process, in the foreground (libFuzzer's -jobs=1 would fork a worker
    # and log to fuzz-0.log instead).
    cargo +nightly fuzz run "$target" "$work/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1
done
