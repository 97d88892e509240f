#!/usr/bin/env bash
# Installs what Stratus needs on a Debian/Ubuntu machine: nats-server and bubblewrap (the agent's
# sandbox) from Debian's packages (protoc too with STRATUS_DEV_TOOLS=1), npm packages, and a build.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
if [ "${STRATUS_DEV_TOOLS:-0}" = 1 ]; then
  command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} with sudo apt-get" >&2
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]}. Install with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
