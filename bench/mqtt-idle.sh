#!/usr/bin/env bash
# Idle cost of the MQTT output: two towerd on the fixture tree, one with
# MQTT off, one publishing to a local mosquitto; after a warm-up, towerd's
# own RSS and CPU over a window. Run from the repository after `make build`
# (needs /usr/sbin/mosquitto: .ci/setup.d/80-mosquitto.sh).
# Usage: bench/mqtt-idle.sh [REPO] [WARM_SECONDS] [WINDOW_SECONDS]
set -euo pipefail
repo=${1:-.}; warm=${2:-30}; win=${3:-90}
repo=$(cd "$repo" && pwd)
d=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$d"' EXIT
printf 'listener 18831 127.0.0.1\nallow_anonymous true\npersistence false\n' > "$d/m.conf"
[ "$(id -u)" = 0 ] && echo 'user root' >> "$d/m.conf"  # files in the temp dir stay readable
/usr/sbin/mosquitto -c "$d/m.conf" >/dev/null 2>&1 &
sleep 0.5
cd "$repo"
./bin/towerd --port 18043 --bind 127.0.0.1 --config "$d/off.json" --demo testdata/unraid --log-level warn 2>/dev/null &
off=$!
./bin/towerd --port 18044 --bind 127.0.0.1 --config "$d/on.json" --demo testdata/unraid --log-level warn \
  --mqtt-broker tcp://127.0.0.1:18831 --mqtt-hostname measure 2>/dev/null &
on=$!
sleep "$warm"
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
t0off=$(ticks $off); t0on=$(ticks $on)
sleep "$win"
t1off=$(ticks $off); t1on=$(ticks $on)
hz=$(getconf CLK_TCK)
for p in off on; do
  pid=${!p}; a=t0$p; b=t1$p
  rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
  anon=$(awk '/RssAnon/{print $2}' /proc/$pid/status)
  cpu=$(awk -v a=${!a} -v b=${!b} -v hz=$hz -v w=$win 'BEGIN{printf "%.3f", (b-a)/hz/w*100}')
  echo "mqtt $p: towerd RSS ${rss} kB (anon ${anon} kB), CPU ${cpu}% of one core over ${win}s"
done
curl -s localhost:18044/metrics | grep '^towerd_mqtt_'
