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

# Memory: the same data loaded by redis-server (used_memory) and by the engine (RSS).
if [ "${MEMORY:-1}" = 1 ] && command -v redis-server >/dev/null; then
  d=$(mktemp -d)
  redis-server --port 7496 --dir "$d" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  until redis-cli -p 7496 ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
  python3 - <<'PY' | redis-cli -p 7496 --pipe >/dev/null
import sys
out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
for i in range(1_000_000):
    cmd(b"SET", b"key:%012d" % i, b"value-%010d" % i)
for i in range(10_000):
    f = []
    for j in range(100): f += [b"field%03d" % j, b"v%06d" % (i * 100 + j)]
    cmd(b"HSET", b"hash:%d" % i, *f)
    cmd(b"SADD", b"set:%d" % i, *[b"member%03d" % j for j in range(100)])
    z = []
    for j in range(100): z += [b"%d" % j, b"m%03d" % j]
    cmd(b"ZADD", b"zset:%d" % i, *z)
PY
  echo "== memory for 1M 16-byte strings + 10k hashes, sets and zsets of 100 members"
  echo "redis-server used_memory: $(redis-cli -p 7496 info memory | grep '^used_memory:' | cut -d: -f2 | tr -d '\r') bytes"
  redis-cli -p 7496 save >/dev/null
  .build/release/strata-engine-bench load "$d/dump.rdb"
  redis-cli -p 7496 shutdown nosave >/dev/null 2>&1 || true
fi
