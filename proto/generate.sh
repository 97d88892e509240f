#!/usr/bin/env bash
# Generates TypeScript for proto/stratus/v1/*.proto into proto/gen (or $1) with ts-proto.
# Needs protoc (Debian: apt-get install protobuf-compiler).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/gen}
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto="$here/../node_modules/.bin/protoc-gen-ts_proto" \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,env=node,forceLong=number,useOptionals=messages,oneof=unions-value,unrecognizedEnum=false,useDate=false \
  -I "$here" "$here"/stratus/v1/*.proto
