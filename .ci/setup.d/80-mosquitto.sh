#!/usr/bin/env bash
# MQTT output tests (core/mqtt): a real Mosquitto broker, started by the
# tests on a free loopback port (plain, with a password file, and TLS), and
# mosquitto_passwd to write the password file. The packaged service is not
# used: the tests run their own broker processes.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  if command -v mosquitto_passwd >/dev/null 2>&1; then
    exit 0
  fi
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mosquitto
