#!/usr/bin/env bash
# Base packages: git and make for the build, gcc for cgo (race detector),
# iproute2 for the network plugin's namespace test.
set -euo pipefail
need=()
for p in git make gcc; do command -v "$p" >/dev/null || need+=("$p"); done
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
