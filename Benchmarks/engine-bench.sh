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

# Memory: the same data loaded from the same RDB by redis-server and by `strata serve`:
# redis-server's used_memory and RSS beside strata's RSS (the whole process: Swift runtime and
# all) and used_memory. COLLECTIONS (default 100000) hashes, sets and zsets of 100 members.
if [ "${MEMORY:-1}" = 1 ] && command -v redis-server >/dev/null; then
  swift build -c release --product strata >/dev/null
  d=$(mktemp -d)
  redis-server --port 7496 --dir "$d" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  until redis-cli -p 7496 ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
  COLLECTIONS=${COLLECTIONS:-100000} python3 - <<'PY' | redis-cli -p 7496 --pipe >/dev/null
import os, sys
out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
for i in range(1_000_000):
    cmd(b"SET", b"key:%012d" % i, b"value-%010d" % i)
for i in range(int(os.environ["COLLECTIONS"])):
    f = []
    for j in range(100): f += [b"field%03d" % j, b"v%06d" % (i * 100 + j)]
    cmd(b"HSET", b"hash:%d" % i, *f)
    cmd(b"SADD", b"set:%d" % i, *[b"member%03d" % j for j in range(100)])
    z = []
    for j in range(100): z += [b"%d" % j, b"m%03d" % j]
    cmd(b"ZADD", b"zset:%d" % i, *z)
PY
  redis-cli -p 7496 save >/dev/null
  redis-cli -p 7496 shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5
  mem() {   # NAME CMD...: start a server on port 7496 from $d, print used_memory and RSS (kB)
    local name=$1; shift
    local t0; t0=$(date +%s.%N)
    "$@" --port 7496 --dir "$d" --save "" --appendonly no >/dev/null 2>&1 &
    local pid=$!
    until redis-cli -p 7496 ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
    local took used rss
    took=$(echo "$(date +%s.%N) - $t0" | bc)
    used=$(redis-cli -p 7496 info memory | grep '^used_memory:' | cut -d: -f2 | tr -d '\r')
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    kill -9 $pid; wait $pid 2>/dev/null || true
    echo "$name $used $rss $took"
  }
  # Startup (load until the first PONG), alternating, median of RUNS (default 3); memory of the last.
  rt=(); st=()
  for _ in $(seq "${RUNS:-3}"); do
    read -r _ rused rrss t < <(mem redis redis-server); rt+=("$t")
    read -r _ sused srss t < <(mem strata .build/release/strata serve); st+=("$t")
  done
  med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  rmed=$(med "${rt[@]}"); smed=$(med "${st[@]}")
  echo "== memory after loading 1M 16-byte strings + ${COLLECTIONS:-100000} hashes, sets and zsets of 100 members (same RDB)"
  printf "redis-server: used_memory %6d MB, RSS %6d MB\n" $((rused / 1048576)) $((rrss / 1024))
  printf "strata serve: used_memory %6d MB, RSS %6d MB\n" $((sused / 1048576)) $((srss / 1024))
  printf "startup load: redis-server %.2fs, strata serve %.2fs (%.2fx), medians of %d\n" "$rmed" "$smed" "$(echo "$smed / $rmed" | bc -l)" "${RUNS:-3}"
  echo "strata RSS / redis used_memory: $(echo "scale=2; $srss * 1024 / $rused" | bc)x   (RSS / RSS: $(echo "scale=2; $srss / $rrss" | bc)x)"
  rm -rf "$d"
fi
