#!/usr/bin/env bash
# Engine throughput (no network) beside redis-server's own (redis-benchmark, pipelined -P 64,
# so the network costs least). Not a test; not run in CI. N=1000000 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
swift build -c release --product strata-engine-bench >/dev/null
echo "== strata engine ($N ops each, single thread, no network)"
.build/release/strata-engine-bench "$N"
if command -v redis-benchmark >/dev/null; then
  d=$(mktemp -d)
  redis-server --port 7497 --dir "$d" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  until redis-cli -p 7497 ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
  echo "== redis-server 7.0 via redis-benchmark -P 64 (includes the network path)"
  redis-benchmark -p 7497 -q -n "$N" -P 64 -r 1000000 -d 16 -t set,get,incr,lpush,hset,sadd,zadd 2>/dev/null | tr '\r' '\n' | grep -v '^$' | grep "per second"
  redis-cli -p 7497 shutdown nosave >/dev/null 2>&1 || true
fi
