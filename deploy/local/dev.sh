#!/usr/bin/env bash
# `npm run dev`: install what is missing, then run a local cluster (NATS + router + agent),
# deploy examples/hello and invoke it once; Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/ensure-deps.sh
exec node dist/sdk/cli/main.js dev --example examples/hello "$@"
