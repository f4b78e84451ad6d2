#!/usr/bin/env bash
# strata backup create of a ~1 GB Redis data directory vs what a careful operator does by hand:
# cp of dump.rdb, then redis-check-rdb of the copy (and the same with a sync, since strata
# fsyncs what it stores). Medians of RUNS runs, peak RSS, ratios.
#
#   KEYS=1000000 VALUE=1000 RUNS=5 Benchmarks/backup-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}; VALUE=${VALUE:-1000}; RUNS=${RUNS:-5}
work=${WORK:-/tmp/strata-backup-bench}
mkdir -p "$work"
swift build -c release --product strata >/dev/null
strata=$PWD/.build/release/strata
data=$work/data-$KEYS-$VALUE
if [ ! -f "$data/dump.rdb" ]; then
  mkdir -p "$data"
  port=$((20000 + RANDOM % 20000))
  redis-server --port $port --dir "$data" --save "" --appendonly no --rdbcompression no --enable-debug-command yes --daemonize yes --logfile "$work/redis.log"
  for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
  # Mixed types: strings from DEBUG POPULATE, then lists, hashes, sets and sorted sets.
  redis-cli -p $port debug populate "$KEYS" key "$VALUE" >/dev/null
  redis-benchmark -p $port -t lpush,hset,sadd,zadd -n 2000000 -r 200000 -d 64 -q >/dev/null
  redis-cli -p $port save >/dev/null
  redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
fi
size=$(stat -c %s "$data/dump.rdb")
echo "data directory: $data, dump.rdb $((size / 1000000)) MB; $RUNS runs each, alternating"
source Benchmarks/bench-lib.sh
run_strata() { rm -rf "$work/repo"; "$strata" backup create "$data" --repo "$work/repo"; }
run_pair() { rm -f "$work/copy.rdb"; cp "$data/dump.rdb" "$work/copy.rdb" && redis-check-rdb "$work/copy.rdb" >/dev/null; }
run_pair_sync() { rm -f "$work/copy.rdb"; cp "$data/dump.rdb" "$work/copy.rdb" && sync "$work/copy.rdb" && redis-check-rdb "$work/copy.rdb" >/dev/null; }
export -f run_strata run_pair run_pair_sync; export strata data work
# Alternate the three so drift on a shared machine hits them alike.
declare -a A B C; rssA=0; rssB=0; rssC=0
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$work/t" bash -c run_strata; A+=("$(cut -d' ' -f1 "$work/t")"); rssA=$(cut -d' ' -f2 "$work/t")
  /usr/bin/time -f "%e %M" -o "$work/t" bash -c run_pair; B+=("$(cut -d' ' -f1 "$work/t")"); rssB=$(cut -d' ' -f2 "$work/t")
  /usr/bin/time -f "%e %M" -o "$work/t" bash -c run_pair_sync; C+=("$(cut -d' ' -f1 "$work/t")"); rssC=$(cut -d' ' -f2 "$work/t")
done
ma=$(printf '%s\n' "${A[@]}" | median); mb=$(printf '%s\n' "${B[@]}" | median); mc=$(printf '%s\n' "${C[@]}" | median)
printf "%-44s median %6.2fs  peak RSS %5d MB\n" "strata backup create (copy+check+fsync)" "$ma" $((rssA / 1024))
printf "%-44s median %6.2fs  peak RSS %5d MB (max of cp, redis-check-rdb)\n" "cp + redis-check-rdb" "$mb" $((rssB / 1024))
printf "%-44s median %6.2fs  peak RSS %5d MB\n" "cp + sync + redis-check-rdb" "$mc" $((rssC / 1024))
printf "  ratio (cp + redis-check-rdb) / strata: %.2fx   (cp + sync + check) / strata: %.2fx\n" "$(echo "$mb / $ma" | bc -l)" "$(echo "$mc / $ma" | bc -l)"
"$strata" backup verify --repo "$work/repo" && echo "  the stored snapshot verifies"
