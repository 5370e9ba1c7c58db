#!/usr/bin/env bash
# Installs what building and testing gocart needs on a fresh Debian machine:
# cfitsio (FITS), cmake and pkg-config (for -sys crates), OpenSSL headers and CA
# certificates (librdkafka with TLS and OIDC for GCN), Python 3 with PyYAML
# (plugins and the tests that read meta.yaml as a plugin does), and, for the
# tests only, Debian's Chromium (the `serve` pages in a real headless browser),
# the Tansu Kafka broker the Kafka tests run against, and the python test env
# (a venv with ligo.skymap, mocpy, astropy and PyYAML: the references the
# sky-map product tests compare with) at $GOCART_PYENV, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/gocart/pyenv.
# Safe to run again: it installs only what is missing.
#
#   scripts/setup.sh                   everything, the test broker included
#   scripts/setup.sh --without-broker  all but Tansu (~16 minutes to build on
#                                      a fresh 2-core machine), Chromium and
#                                      the python test env: what the demo
#                                      needs, which uses Tansu only if present
set -euo pipefail

with_broker=true
case "${1:-}" in
    --without-broker) with_broker=false ;;
    "") ;;
    *) echo "usage: scripts/setup.sh [--without-broker]" >&2; exit 2 ;;
esac

need_apt=()
dpkg -s libcfitsio-dev >/dev/null 2>&1 || need_apt+=(libcfitsio-dev)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
dpkg -s ca-certificates >/dev/null 2>&1 || need_apt+=(ca-certificates)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-yaml)
# Chromium: trigger/tests/it/serve.rs loads the pages in it (headless).
if $with_broker && ! command -v chromium >/dev/null 2>&1; then need_apt+=(chromium); fi
# venv and its pip (ensurepip): the python test env below.
if $with_broker && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then need_apt+=(python3-venv); fi
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "setup: installing PyYAML"
    python3 -m pip install --quiet pyyaml 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages pyyaml
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo (Rust) is needed: https://rustup.rs" >&2
    exit 1
fi
# rustfmt and clippy: scripts/test.sh checks formatting and lints first.
for tool in fmt clippy; do
    if ! cargo "$tool" --version >/dev/null 2>&1; then
        echo "setup: installing the rustup component for cargo $tool"
        rustup component add "$([ "$tool" = fmt ] && echo rustfmt || echo clippy)"
    fi
done
# Tansu: a Kafka-protocol broker for ingest/tests/it/kafka.rs (about 16 minutes to
# build the first time; the tests say they were skipped without it, and fail
# without it on CI).
if $with_broker && ! command -v tansu >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]; then
    echo "setup: installing tansu (Kafka broker for the tests; takes a while)"
    cargo install tansu --locked --features dynostore,libsql
fi
# The python test env: ingest/tests/it/products.rs runs ligo-skymap-stats and
# mocpy from it (gocart_tests::python_env finds it at the same path). Made when
# it is missing or cannot import what the tests import; otherwise one import.
pyenv="${GOCART_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/gocart/pyenv}"
if $with_broker && ! "$pyenv/bin/python" -c 'import ligo.skymap, mocpy, astropy, yaml' 2>/dev/null; then
    echo "setup: making the python test env at $pyenv (ligo.skymap, mocpy, astropy, PyYAML; a few minutes)"
    python3 -m venv "$pyenv"
    "$pyenv/bin/python" -m pip install --quiet --upgrade pip
    "$pyenv/bin/python" -m pip install --quiet ligo.skymap mocpy astropy pyyaml
fi
