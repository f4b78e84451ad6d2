# Shared by the benchmark scripts (sourced, not run). Needs RUNS, work (a scratch directory)
# and size (input bytes, for MB/s); NAME_WIDTH sets the label column.
#
# time_cmd NAME CMD... : prints the median wall time of RUNS runs and the peak RSS of the last.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A T
time_cmd() {
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { echo "$name failed: $(tail -2 "$work/err")"; return; }
    times+=("$(cut -d' ' -f1 "$work/t")"); rss=$(cut -d' ' -f2 "$work/t")
  done
  local m; m=$(printf '%s\n' "${times[@]}" | median)
  T[$name]=$m
  printf "%-${NAME_WIDTH:-34}s median %6.2fs  %7.1f MB/s  peak RSS %5d MB\n" "$name" "$m" "$(echo "$size / 1000000 / $m" | bc -l)" $((rss / 1024))
}
# ratio A B : how many times faster A ran than B.
ratio() { printf '  ratio %s / %s: %.2fx\n' "$1" "$2" "$(echo "${T[$2]} / ${T[$1]}" | bc -l)"; }

# start_servers RP SP : redis-server 7.0 on port RP and `strata serve` on SP (fresh dirs under
# $work, no persistence), both killed when the script exits; returns once both answer PING.
start_servers() {
  rm -rf "$work"; mkdir -p "$work/redis" "$work/strata"
  swift build -c release >/dev/null
  redis-server --port "$1" --dir "$work/redis" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  local rpid=$!
  "$PWD/.build/release/strata" serve --port "$2" --dir "$work/strata" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  local spid=$!
  SERVER_PIDS="$rpid $spid"
  trap "kill $rpid $spid 2>/dev/null || true" EXIT
  for p in "$1" "$2"; do until redis-cli -p "$p" ping 2>/dev/null | grep -q PONG; do sleep 0.05; done; done
}
