#!/usr/bin/env bash
# Idle cost of the optional outputs (mDNS responder, MCP server): runs
# bin/towerd without plugins in a network namespace of its own (a veth with
# 10.78.0.1, so mDNS has a non-loopback address; no host interface takes
# part), once per variant, and prints its RSS and CPU over SECS seconds of
# idling. MCP is measured idle and after 200 tool calls.
#   make build && sudo bench/outputs-idle.sh        (SECS=60 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TOWERD:-bin/towerd}
secs=${SECS:-60}
ns=towerdout$$
dir=$(mktemp -d)
mkdir -p "$dir/plugins.d"
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add v0 type veth peer name v1
ip -n "$ns" addr add 10.78.0.1/24 dev v0
for l in lo v0 v1; do ip -n "$ns" link set "$l" up; done
hz=$(getconf CLK_TCK)

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
mcp_calls() {
  for i in $(seq 200); do
    ip netns exec "$ns" curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
      -H 'Accept: application/json, text/event-stream' \
      -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_collectors","arguments":{}}}' \
      http://127.0.0.1:8043/mcp
  done
}

run() {
  local name=$1 warm=$2; shift 2
  ip netns exec "$ns" "$bin" --port 8043 --plugins-dir "$dir/plugins.d" --config "$dir/towerd.json" \
    --root "$dir" "$@" >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    ip netns exec "$ns" curl -sf -o /dev/null http://127.0.0.1:8043/api/v1/health && break
    sleep 0.1
  done
  [ "$warm" = mcp ] && mcp_calls
  sleep 3 # let start-up settle
  local t0; t0=$(ticks "$pid")
  sleep "$secs"
  local t1 rss; t1=$(ticks "$pid"); rss=$(rss_kb "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  awk -v n="$name" -v r="$rss" -v d="$((t1 - t0))" -v s="$secs" -v hz="$hz" \
    'BEGIN { printf "%-34s RSS %6.1f MB   CPU %5.3f %% of one core\n", n, r/1024, 100*d/hz/s }'
}

echo "towerd without plugins, ${secs}s idle per variant"
run "mDNS off, MCP off"              none --no-mdns --no-mcp
run "mDNS builtin responder"         none --no-mcp --mdns-mode builtin
run "MCP on, no client yet"          none --no-mdns
run "MCP on, after 200 tool calls"   mcp  --no-mdns
