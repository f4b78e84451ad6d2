#!/usr/bin/env bash
# strata restore of a ~200 MB snapshot followed by ~1M archived commands, vs redis-server 7.0
# starting from the equivalent appendonlydir (base + incr) and then SAVE. Medians of RUNS
# alternating runs, peak RSS, ratios; the two results' DEBUG DIGESTs must agree.
#
#   KEYS=1800000 COMMANDS=1000000 RUNS=5 Benchmarks/restore-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1800000}; COMMANDS=${COMMANDS:-1000000}; RUNS=${RUNS:-5}
work=${WORK:-/tmp/strata-restore-bench}
mkdir -p "$work"
swift build -c release --product strata >/dev/null
strata=$PWD/.build/release/strata
src=$work/src-$KEYS-$COMMANDS
port=$((20000 + RANDOM % 20000))
wait_up() { for _ in $(seq 600); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return; sleep 0.1; done; echo "server on $1 did not start"; exit 1; }
wait_loaded() { for _ in $(seq 6000); do redis-cli -p "$1" info persistence 2>/dev/null | grep -q 'loading:0' && return; sleep 0.05; done; }
if [ ! -d "$src/repo" ]; then
  rm -rf "$src"; mkdir -p "$src/data"
  redis-server --port $port --dir "$src/data" --save "" --appendonly yes --aof-timestamp-enabled yes --rdbcompression no \
    --enable-debug-command yes --daemonize yes --logfile "$work/redis.log"
  wait_up $port
  redis-cli -p $port debug populate "$KEYS" key 100 >/dev/null
  redis-cli -p $port bgrewriteaof >/dev/null
  while redis-cli -p $port info persistence | grep -q 'aof_rewrite_in_progress:1'; do sleep 0.2; done
  sleep 1
  "$strata" backup create "$src/data" --repo "$src/repo"
  per=$((COMMANDS / 4))
  redis-benchmark -p $port -t set,lpush,hset,zadd -n $per -r 500000 -d 32 -q >/dev/null
  sleep 1.1
  "$strata" backup create "$src/data" --repo "$src/repo"
  redis-cli -p $port debug digest > "$src/digest"
  redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
fi
base=$(ls "$src"/repo/snapshots/*.rdb | head -1)
echo "snapshot $(( $(stat -c %s "$base") / 1000000 )) MB, $(cat "$src"/repo/chains/*/*.aof | grep -c '^\*' || true) archived commands (approx.), $RUNS runs each, alternating"
run_strata() { rm -rf "$work/out"; "$strata" restore "$src/repo" --at latest -o "$work/out" 2>/dev/null; }
run_redis() {
  rm -rf "$work/rdir"; mkdir -p "$work/rdir"; cp -r "$src/data/appendonlydir" "$work/rdir/"
  local p=$((20000 + RANDOM % 20000))
  /usr/bin/time -f "%e %M" -o "$work/rt" redis-server --port $p --dir "$work/rdir" --appendonly yes --save "" --logfile "$work/rlog" --enable-debug-command yes &
  wait_up $p; wait_loaded $p
  redis-cli -p $p save >/dev/null
  redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true
  wait
}
source Benchmarks/bench-lib.sh
declare -a A B; rssA=0; rssB=0
for _ in $(seq "$RUNS"); do
  s=$(date +%s.%N); /usr/bin/time -f "%e %M" -o "$work/t" bash -c "$(declare -f run_strata); strata=$strata src=$src work=$work run_strata"; rssA=$(cut -d' ' -f2 "$work/t"); A+=("$(echo "$(date +%s.%N) - $s" | bc)")
  s=$(date +%s.%N); run_redis; B+=("$(echo "$(date +%s.%N) - $s" | bc)"); rssB=$(cut -d' ' -f2 "$work/rt")
done
ma=$(printf '%s\n' "${A[@]}" | median); mb=$(printf '%s\n' "${B[@]}" | median)
printf "%-50s median %6.2fs  peak RSS %5d MB\n" "strata restore --at latest (RDB out)" "$ma" $((rssA / 1024))
printf "%-50s median %6.2fs  peak RSS %5d MB\n" "redis-server loading base+incr, then SAVE" "$mb" $((rssB / 1024))
printf "  ratio redis / strata: %.2fx (above 1: strata is faster)\n" "$(echo "$mb / $ma" | bc -l)"
d1=$("$strata" rdb digest "$work/out/dump.rdb"); d2=$("$strata" rdb digest "$work/rdir/dump.rdb")
echo "  digests: strata $d1, redis $d2, server at backup time $(cat "$src/digest")"
