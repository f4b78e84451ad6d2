#!/usr/bin/env bash
# Side-by-side AOF benchmarks: strata aof check vs redis-check-aof, strata aof rewrite vs
# redis-server loading the AOF and completing BGREWRITEAOF. Not a test; not run in CI.
# Prints medians of RUNS runs and ratios.
#   Benchmarks/aof-bench.sh      (AOF_COMMANDS=6000000 gives a ~500 MB AOF; RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
N=${AOF_COMMANDS:-6000000}
work=${STRATA_BENCH_DIR:-/tmp/strata-aof-bench}
mkdir -p "$work"
swift build -c release >/dev/null
S=$PWD/.build/release/strata
src=$work/src-$N

if [ ! -f "$src/appendonlydir/appendonly.aof.manifest" ]; then
  echo "generating an AOF with redis-benchmark against redis-server 7.0 (appendonly yes, no preamble) ..." >&2
  rm -rf "$src"; mkdir -p "$src"
  redis-server --port 7498 --dir "$src" --save "" --appendonly yes --aof-use-rdb-preamble no \
    --auto-aof-rewrite-percentage 0 --aof-timestamp-enabled yes --daemonize no >/dev/null 2>&1 &
  for _ in $(seq 100); do redis-cli -p 7498 ping >/dev/null 2>&1 && break; sleep 0.1; done
  # Many overwrites of 100k keys per type, so a rewrite compacts a lot.
  per=$((N / 6))
  redis-benchmark -p 7498 -q -P 32 -r 100000 -d 32 -n "$per" -t set,incr,lpush,sadd,hset,zadd >/dev/null
  redis-cli -p 7498 shutdown nosave >/dev/null 2>&1 || true
  sleep 1
fi
aofdir=$src/appendonlydir
size=$(du -sb "$aofdir" | cut -f1)
echo "dataset: $aofdir, $((size / 1000000)) MB, $(ls "$aofdir" | tr '\n' ' ')"

NAME_WIDTH=42
. Benchmarks/bench-lib.sh

cat "$aofdir"/* > /dev/null   # page cache
time_cmd "redis-check-aof" redis-check-aof "$aofdir/appendonly.aof.manifest"
time_cmd "strata aof check" "$S" aof check "$aofdir"
ratio "strata aof check" "redis-check-aof"

# redis-server: start on a copy (loads the AOF), BGREWRITEAOF, wait until the rewrite is done.
redis_rewrite() {
  local d=$work/redis-rw
  redis-server --port 7497 --dir "$d" --save "" --appendonly yes --daemonize no >/dev/null 2>&1 &
  local pid=$!
  until redis-cli -p 7497 ping 2>/dev/null | grep -q PONG; do sleep 0.02; done
  redis-cli -p 7497 bgrewriteaof >/dev/null
  sleep 0.05
  until redis-cli -p 7497 info persistence | grep -q 'aof_rewrite_in_progress:0' &&
        redis-cli -p 7497 info persistence | grep -q 'aof_rewrite_scheduled:0'; do sleep 0.02; done
  redis-cli -p 7497 info memory | grep '^used_memory:' > "$work/redis-mem"
  redis-cli -p 7497 shutdown nosave >/dev/null 2>&1 || true
  wait $pid 2>/dev/null || true
}
export -f redis_rewrite; export work S aofdir
prep() { rm -rf "$work/redis-rw" "$work/strata-rw"; mkdir -p "$work/redis-rw"; cp -r "$aofdir" "$work/redis-rw/"; }
rtimes=(); stimes=(); srss=0
for _ in $(seq "$RUNS"); do
  prep
  /usr/bin/time -f "%e %M" -o "$work/t" bash -c redis_rewrite; rtimes+=("$(cut -d' ' -f1 "$work/t")")
  /usr/bin/time -f "%e %M" -o "$work/t" "$S" aof rewrite "$aofdir" -o "$work/strata-rw" 2>/dev/null
  stimes+=("$(cut -d' ' -f1 "$work/t")"); srss=$(cut -d' ' -f2 "$work/t")
done
T[redis]=$(printf '%s\n' "${rtimes[@]}" | median)
T[strata]=$(printf '%s\n' "${stimes[@]}" | median)
printf '%-42s median %6.2fs  (dataset %s)\n' "redis-server load + BGREWRITEAOF" "${T[redis]}" "$(cat "$work/redis-mem")"
printf '%-42s median %6.2fs  peak RSS %5d MB\n' "strata aof rewrite (rdb preamble, dir)" "${T[strata]}" $((srss / 1024))
ratio strata redis
out=$(du -sb "$work/strata-rw" | cut -f1)
echo "  rewritten size: $((out / 1000000)) MB (from $((size / 1000000)) MB)"

# The rewrite must hold the same data: redis-server's DEBUG DIGEST on the input and on the output.
digest_of() {   # DIR APPENDDIRNAME
  redis-server --port 7496 --dir "$1" --appenddirname "$2" --save "" --appendonly yes --enable-debug-command yes --daemonize no >/dev/null 2>&1 &
  local pid=$!
  until redis-cli -p 7496 ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
  redis-cli -p 7496 debug digest
  redis-cli -p 7496 shutdown nosave >/dev/null 2>&1 || true
  wait $pid 2>/dev/null || true
}
# (redis-rw holds what redis-server rewrote from the same input in the last run)
d_in=$(digest_of "$work/redis-rw" appendonlydir); d_out=$(digest_of "$work" strata-rw)
if [ -n "$d_in" ] && [ "$d_in" != 0000000000000000000000000000000000000000 ] && [ "$d_in" = "$d_out" ]; then echo "  DEBUG DIGEST of input and rewrite agree: $d_in"; else echo "  DIGEST MISMATCH: input $d_in, rewrite $d_out"; exit 1; fi
