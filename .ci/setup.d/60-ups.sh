#!/usr/bin/env bash
# UPS plugin tests: a real NUT upsd + dummy-ups driver, and a real apcupsd
# (test driver) serving NIS. The two conflict as apt packages (both provide
# ups-monitor), so NUT is installed and apcupsd is only unpacked into
# /opt/apcupsd; it needs nothing beyond libusb-0.1-4.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ -x /lib/nut/upsd ] && [ -x /lib/nut/dummy-ups ] && [ -x /opt/apcupsd/sbin/apcupsd ]; then
  exit 0
fi
apt-get update -q
if ! [ -x /lib/nut/upsd ] || ! [ -x /lib/nut/dummy-ups ]; then
  apt-get install -y -q --no-install-recommends nut-server nut-client libusb-0.1-4
fi
if ! [ -x /opt/apcupsd/sbin/apcupsd ]; then
  apt-get install -y -q --no-install-recommends libusb-0.1-4
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download apcupsd)
  mkdir -p /opt/apcupsd
  dpkg -x "$tmp"/apcupsd_*.deb /opt/apcupsd
  # The extracted tree keeps the package layout: /opt/apcupsd/sbin/apcupsd.
fi
