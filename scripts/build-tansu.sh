#!/usr/bin/env bash
# Builds the test suite's Kafka-protocol broker: Tansu 0.6.0 (Apache-2.0) from its crates.io
# sources, with scripts/tansu/fetch-from-containing-batch.patch applied to tansu-storage (a fetch
# inside a record batch skipped the rest of that batch; the patch says why it matters). The
# binary goes to $1/bin/tansu, with $1/tansu.stamp naming the version and the patch it carries.
# Called by scripts/install-test-deps.sh when that stamp is missing or stale (10-15 min, once).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools="$1"
patch_file="$PWD/scripts/tansu/fetch-from-containing-batch.patch"
version=0.6.0
# sha256 of the .crate files, as in tansu 0.6.0's own Cargo.lock.
declare -A sha=(
    [tansu]=4fdd85473ec265140488cf8d55e82b844f5c051c8916fabdd4a71156ac053f6d
    [tansu-storage]=720d2ed8e6010c70f7f06e5af5a7274ebbf6e42fdcd9e46de542b10dc4d2f35d
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for crate in tansu tansu-storage; do
    file="$work/$crate-$version.crate"
    curl -sSfL --retry 3 -o "$file" "https://static.crates.io/crates/$crate/$crate-$version.crate"
    echo "${sha[$crate]}  $file" | sha256sum -c --quiet -
    tar -xzf "$file" -C "$work"
done
patch -s -d "$work/tansu-storage-$version" -p1 < "$patch_file"
# The binary crate builds from its own Cargo.lock, with the patched tansu-storage in place of
# the published one.
cat >> "$work/tansu-$version/Cargo.toml" <<TOML

[patch.crates-io]
tansu-storage = { path = "../tansu-storage-$version" }
TOML
CARGO_TARGET_DIR="$work/target" cargo build --quiet --release --features dynostore \
    --manifest-path "$work/tansu-$version/Cargo.toml"
mkdir -p "$tools/bin"
install -m 0755 "$work/target/release/tansu" "$tools/bin/tansu"
echo "$version $(sha256sum "$patch_file" | cut -c1-16)" > "$tools/tansu.stamp"
echo "tansu $version (patched) installed at $tools/bin/tansu" >&2
