#!/usr/bin/env bash
# The whole test suite, from a clean clone: fetches what the tests need, then runs every test of
# every crate (unit, integration, doc tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/fetch-geoip.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
