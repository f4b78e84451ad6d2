#!/usr/bin/env bash
# redis-benchmark against `strata serve` and redis-server 7.0, alternately, on the same machine
# in the same run: requests per second (median of RUNS) and p99 latency, and their ratios.
# Not a test; not run in CI.
#   Benchmarks/serve-bench.sh        (RUNS=5, N=200000 requests per test, 50 clients)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
N=${N:-200000}
TESTS=${TESTS:-set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100,mset}
work=${STRATA_BENCH_DIR:-/tmp/strata-serve-bench}
. Benchmarks/bench-lib.sh
RP=7391; SP=7392
start_servers $RP $SP
# PIN=1 (the default on 2+ CPUs with taskset): both servers on CPU 0, redis-benchmark on CPU 1,
# so the client and the server under test do not take turns on one core (on a 2-core machine
# that turn-taking, not the server, decides most of the figure and its noise). PIN=0: unpinned.
BENCH=(redis-benchmark)
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  for pid in $SERVER_PIDS; do taskset -pc 0 "$pid" >/dev/null; done
  BENCH=(taskset -c 1 redis-benchmark)
  echo "(servers pinned to CPU 0, redis-benchmark to CPU 1; PIN=0 to disable)"
fi

# bench PORT PIPELINE -> "TEST rps p99" lines (redis-benchmark --csv)
bench() {
  "${BENCH[@]}" -p "$1" -P "$2" -c 50 -n "$N" -t "$TESTS" --csv 2>/dev/null |
    awk -F',' 'NR>1 && !/needed/ { for (i = 1; i <= NF; i++) gsub(/"/, "", $i); split($1, a, " "); print a[1], $2, $7 }'
}
for P in 1 16; do
  : > "$work/r.$P"; : > "$work/s.$P"
  for _ in $(seq "$RUNS"); do
    bench $RP $P >> "$work/r.$P"
    bench $SP $P >> "$work/s.$P"
  done
  echo "pipeline $P, 50 clients, $N requests, median of $RUNS (alternating):"
  printf '  %-12s %12s %12s %7s %9s %9s %7s\n' test redis-rps strata-rps ratio redis-p99 strata-p99 ratio
  for t in $(cut -d' ' -f1 "$work/r.$P" | awk '!s[$0]++'); do
    r=$(awk -v t="$t" '$1==t {print $2}' "$work/r.$P" | median); s=$(awk -v t="$t" '$1==t {print $2}' "$work/s.$P" | median)
    rl=$(awk -v t="$t" '$1==t {print $3}' "$work/r.$P" | median); sl=$(awk -v t="$t" '$1==t {print $3}' "$work/s.$P" | median)
    printf '  %-12s %12.0f %12.0f %6.2fx %9.3f %9.3f %6.2fx\n' "$t" "$r" "$s" "$(echo "$s / $r" | bc -l)" "$rl" "$sl" "$(echo "$sl / $rl" | bc -l)"
  done
done
