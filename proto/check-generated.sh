#!/usr/bin/env bash
# Fails when proto/gen is not what the .proto files generate (run `npm run proto` to fix).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/generate.sh" "$tmp/gen"
if ! diff -r "$here/gen" "$tmp/gen" >/dev/null; then
  diff -r "$here/gen" "$tmp/gen" | head -40 >&2
  echo "proto/gen is stale: run 'npm run proto' and commit the result" >&2
  exit 1
fi
echo "proto/gen is current"
