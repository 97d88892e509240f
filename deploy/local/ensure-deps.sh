#!/usr/bin/env bash
# Installs what Stratus needs on a Debian/Ubuntu machine: nats-server, bubblewrap and passt (the agent's
# sandbox and its network) from Debian's packages (protoc too with STRATUS_DEV_TOOLS=1), npm packages, and a build.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
# pasta gives each sandbox its own network, cut off from the host (node-agent/sandbox/sandbox-network.ts).
command -v pasta >/dev/null 2>&1 || need+=(passt)
# openssl makes the local CA of `stratus dev --tls` and of the TLS tests.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Each instance's /tmp is an ext4 disk of its own, loop-mounted (node-agent/sandbox/ephemeral-disk.ts).
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || [ -x /usr/sbin/losetup ] || [ -x /sbin/losetup ] || need+=(mount)
# The web console's browser tests (test/console) drive chromium; only the test suite needs it.
if [ "${STRATUS_TEST_DEPS:-0}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
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

# pasta opens /dev/net/tun as the sandbox's unprivileged user; udev makes it 0666, hosts without udev leave it 0600.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "making /dev/net/tun usable by sandboxes (chmod 0666, udev's default)" >&2
    chmod 0666 /dev/net/tun
  else
    echo "note: /dev/net/tun is not 0666; sandboxes with network need: sudo chmod 0666 /dev/net/tun" >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
