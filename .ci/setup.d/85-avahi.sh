#!/usr/bin/env bash
# mDNS tests: a real avahi-daemon (started by the test inside network
# namespaces it creates) and avahi-browse as the browser; curl reads the
# agent's runtime figures from inside a namespace. The package's
# init script must not start a daemon on the host's own interfaces, so a
# policy-rc.d that forbids service starts is in place during the install
# (only if none exists already).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if command -v avahi-daemon >/dev/null && command -v avahi-browse >/dev/null && command -v dbus-daemon >/dev/null && command -v curl >/dev/null; then
  exit 0
fi
policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
trap '[ "$ours" = 1 ] && rm -f "$policy"' EXIT
apt-get update -q
apt-get install -y -q --no-install-recommends avahi-daemon avahi-utils dbus-daemon curl ca-certificates
