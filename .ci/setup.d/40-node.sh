#!/usr/bin/env bash
# Node.js and npm for the Node.js example plugin (sdk/examples/node-tcpstates),
# and its npm packages from the committed package-lock.json.
set -euo pipefail
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
cd "$(dirname "$0")/../../sdk/examples/node-tcpstates"
[ -d node_modules/@grpc/grpc-js ] || npm ci --no-audit --no-fund
