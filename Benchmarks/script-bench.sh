#!/usr/bin/env bash
# EVALSHA throughput: redis-benchmark -n N -c 50 EVALSHA <sha of "return redis.call('incr',KEYS[1])">
# 1 counter, against redis-server 7.0 and `strata serve`, alternately, in the same run; median
# requests per second of RUNS and the ratio. Also EVAL of a small read script and FCALL.
# Not a test; not run in CI.
#   Benchmarks/script-bench.sh        (RUNS=5, N=200000)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
N=${N:-200000}
work=${STRATA_BENCH_DIR:-/tmp/strata-script-bench}
. Benchmarks/bench-lib.sh
RP=7393; SP=7394
start_servers $RP $SP

INCR="return redis.call('incr',KEYS[1])"
READ="local v = redis.call('get',KEYS[1]) return {v, #ARGV}"
for p in $RP $SP; do
  redis-cli -p $p script load "$INCR" >/dev/null
  redis-cli -p $p function load replace "#!lua name=benchlib
redis.register_function('fincr', function(keys, args) return redis.call('incr', keys[1]) end)" >/dev/null
done
SHA=$(redis-cli -p $RP script load "$INCR")

# rps PORT ARGS... -> requests per second (redis-benchmark --csv, one command)
rps() {
  local port=$1; shift
  redis-benchmark -p "$port" -c 50 -n "$N" --csv "$@" 2>/dev/null | awk -F'","' 'NR>1 { gsub(/"/, "", $2); print $2 }'
}
printf '%-34s %12s %12s %7s\n' "test (50 clients, median of $RUNS)" redis-rps strata-rps ratio
for t in evalsha eval fcall; do
  case $t in
    evalsha) args=(EVALSHA "$SHA" 1 counter) ;;
    eval) args=(EVAL "$READ" 1 counter a b) ;;
    fcall) args=(FCALL fincr 1 fcounter) ;;
  esac
  : > "$work/r"; : > "$work/s"
  for _ in $(seq "$RUNS"); do
    rps $RP "${args[@]}" >> "$work/r"
    rps $SP "${args[@]}" >> "$work/s"
  done
  r=$(median < "$work/r"); s=$(median < "$work/s")
  printf '%-34s %12.0f %12.0f %6.2fx\n' "$t" "$r" "$s" "$(echo "$s / $r" | bc -l)"
done
