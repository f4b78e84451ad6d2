#!/usr/bin/env python3
"""Writes RESP commands for a mixed dataset to stdout (for `redis-cli --pipe`).
Seeded: the same dataset every run. Scale with STRATA_BENCH_SCALE (1 = about 100 MB of RDB)."""
import os, random, sys

rnd = random.Random(42)
scale = float(os.environ.get("STRATA_BENCH_SCALE", "1"))
out = sys.stdout.buffer

def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))

def word(n):
    return bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

n = lambda x: int(x * scale)
for i in range(n(600_000)):                       # small strings
    cmd("SET", b"str:%d" % i, word(rnd.randint(10, 120)))
for i in range(n(150_000)):                       # integers
    cmd("SET", b"int:%d" % i, rnd.randint(-10**9, 10**9))
for i in range(n(30_000)):                        # strings that LZF-compress
    cmd("SET", b"lzf:%d" % i, b"prefix-" * rnd.randint(5, 60))
for i in range(n(3_000)):                         # lists
    cmd("RPUSH", b"list:%d" % i, *[word(rnd.randint(5, 40)) for _ in range(200)])
for i in range(n(10)):                            # long lists
    for _ in range(40):
        cmd("RPUSH", b"biglist:%d" % i, *[word(20) for _ in range(500)])
for i in range(n(30_000)):                        # small hashes (listpack)
    args = []
    for f in range(10):
        args += [b"field%d" % f, word(rnd.randint(3, 30))]
    cmd("HSET", b"hash:%d" % i, *args)
for i in range(n(100)):                           # large hashes (hashtable)
    for _ in range(10):
        args = []
        for f in range(200):
            args += [word(12), word(rnd.randint(10, 100))]
        cmd("HSET", b"bighash:%d" % i, *args)
for i in range(n(15_000)):                        # intsets
    cmd("SADD", b"iset:%d" % i, *[rnd.randint(0, 10**6) for _ in range(20)])
for i in range(n(8_000)):                         # string sets (hashtable in 7.0)
    cmd("SADD", b"set:%d" % i, *[word(8) for _ in range(50)])
for i in range(n(15_000)):                        # small zsets (listpack)
    args = []
    for m in range(20):
        args += [rnd.random() * 1000, word(10)]
    cmd("ZADD", b"zset:%d" % i, *args)
for i in range(n(30)):                            # large zsets (skiplist)
    for _ in range(10):
        args = []
        for m in range(500):
            args += [rnd.random() * 10**6, word(16)]
        cmd("ZADD", b"bigzset:%d" % i, *args)
for i in range(n(200)):                           # streams
    for e in range(100):
        cmd("XADD", b"stream:%d" % i, "*", "sensor", word(6), "value", rnd.randint(0, 1000))
    cmd("XGROUP", "CREATE", b"stream:%d" % i, "g", "0")
for i in range(n(20_000)):                        # TTLs
    cmd("SET", b"ttl:%d" % i, word(20), "EX", 10**6 + i)
