#!/usr/bin/env bash
# Refreshes the Redoc bundle that /docs serves from the redoc package on npm.
# npm pack checks the tarball against the integrity the registry publishes.
set -euo pipefail
version=${1:-2.5.4}
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "redoc@$version" >/dev/null && tar xzf redoc-*.tgz)
# Drop the source map reference: the map is not shipped.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/bundles/redoc.standalone.js" >redoc.standalone.js
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" .
echo "redoc $version" >VERSION
