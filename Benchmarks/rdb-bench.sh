#!/usr/bin/env bash
# Side-by-side RDB benchmarks: strata vs redis-check-rdb, rdb-py, rdbtools and redis-server.
# Not a test; not run in CI. Prints medians of RUNS runs and ratios.
#   Benchmarks/rdb-bench.sh            (STRATA_BENCH_SCALE=2 for a ~200 MB file; RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
work=${STRATA_BENCH_DIR:-/tmp/strata-bench}
mkdir -p "$work"
swift build -c release >/dev/null
S=$PWD/.build/release/strata
rdb=$work/bench-v10.rdb

if [ ! -f "$rdb" ]; then
  echo "generating dataset with redis-server 7.0 ..." >&2
  d=$work/gen; rm -rf "$d"; mkdir -p "$d"
  redis-server --port 7499 --dir "$d" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  for _ in $(seq 100); do redis-cli -p 7499 ping >/dev/null 2>&1 && break; sleep 0.1; done
  python3 Benchmarks/gen_dataset.py | redis-cli -p 7499 --pipe >/dev/null
  redis-cli -p 7499 save >/dev/null
  redis-cli -p 7499 shutdown nosave >/dev/null 2>&1 || true
  mv "$d/dump.rdb" "$rdb"
fi
size=$(stat -c %s "$rdb")
echo "dataset: $rdb, $((size / 1000000)) MB, $($S rdb check "$rdb" | sed 's/.*file: //')"
[ -f "$work/bench-v9.rdb" ] || $S rdb convert "$rdb" -o "$work/bench-v9.rdb" --target redis-6.2

. Benchmarks/bench-lib.sh

cat "$rdb" > /dev/null   # page cache
time_cmd "redis-check-rdb" redis-check-rdb "$rdb"
time_cmd "strata rdb check" "$S" rdb check "$rdb"
ratio "strata rdb check" "redis-check-rdb"

if python3 -c 'import rdb' 2>/dev/null; then
  time_cmd "rdb-py (iterate)" python3 -c "import rdb,sys
for _ in rdb.RdbDecoder(sys.argv[1]): pass" "$rdb"
fi
time_cmd "strata rdb dump --format json" "$S" rdb dump "$rdb" --format json -o /dev/null
time_cmd "strata rdb dump --format resp" "$S" rdb dump "$rdb" --format resp -o /dev/null
[ -n "${T[rdb-py (iterate)]:-}" ] && { ratio "strata rdb dump --format json" "rdb-py (iterate)"; ratio "strata rdb dump --format resp" "rdb-py (iterate)"; }
if command -v rdb >/dev/null 2>&1; then
  RUNS_SAVE=$RUNS; RUNS=1
  time_cmd "rdbtools -c json (v9 copy)" rdb -c json "$work/bench-v9.rdb"
  RUNS=$RUNS_SAVE
  [ -n "${T[rdbtools -c json (v9 copy)]:-}" ] && ratio "strata rdb dump --format json" "rdbtools -c json (v9 copy)"
fi

# redis-server: load the file and SAVE it; strata: convert it.
load_save() {
  local d=$work/ls; rm -rf "$d"; mkdir -p "$d"; cp "$rdb" "$d/dump.rdb"
  local start; start=$(date +%s.%N)
  redis-server --port 7498 --dir "$d" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  until redis-cli -p 7498 ping 2>/dev/null | grep -q PONG; do sleep 0.01; done
  redis-cli -p 7498 save >/dev/null
  local end; end=$(date +%s.%N)
  redis-cli -p 7498 shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  echo "$end - $start" | bc -l
}
times=(); for _ in $(seq "$RUNS"); do times+=("$(load_save)"); done
T[redis load+SAVE]=$(printf '%s\n' "${times[@]}" | median)
printf '%-34s median %6.2fs\n' "redis-server load + SAVE" "${T[redis load+SAVE]}"
time_cmd "strata rdb convert" "$S" rdb convert "$rdb" -o "$work/converted.rdb"
ratio "strata rdb convert" "redis load+SAVE"
