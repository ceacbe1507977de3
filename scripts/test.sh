#!/usr/bin/env bash
# The whole test suite, from a clean clone: fetches what the tests need, then runs every test of
# every crate (unit, integration, doc tests) and ends with one line totalling them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-test-deps.sh

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --doc --no-fail-fast "$@" 2>&1 | tee -a "$log" || status=1
cargo test --workspace --all-targets --no-fail-fast "$@" 2>&1 | tee -a "$log" || status=1

# Sum the per-binary "test result:" lines into one closing line.
passed=$(grep -aoE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -aoE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
