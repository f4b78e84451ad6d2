// Engine-only throughput: commands executed straight on StrataEngine (no network), the figure
// issue 3 asks for (SET/GET with 16-byte keys and values). Run through Benchmarks/engine-bench.sh.
import StrataEngine
import StrataFormats
import Foundation

let n = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1_000_000
// Optional further arguments name the benchmarks to run (for profiling one): SET GET ...
let only = Set(CommandLine.arguments.dropFirst(2).map { $0.uppercased() })
let engine = Engine()
// As `strata serve` runs it: the server's cron keeps a cached time for access bookkeeping.
engine.cachedUnixMs = Engine.systemClock()
var client = ClientState()

func key(_ i: Int) -> [UInt8] {
    var s = Array("key:000000000000".utf8)
    var v = i
    var p = s.count - 1
    while v > 0 && p >= 4 { s[p] = UInt8(48 + v % 10); v /= 10; p -= 1 }
    return s
}
let keys = (0..<n).map(key)
let value = Array("value-0123456789".utf8)

/// Times `engine.execute` over `count` argument vectors made by `make` beforehand: the engine
/// alone, as the issue asks (the server's protocol parser makes these vectors; its cost is in
/// serve-bench's figures, not here).
@MainActor func bench(_ name: String, _ count: Int, _ make: (Int) -> [[UInt8]]) {
    if !only.isEmpty && !only.contains(name) { return }
    let commands = (0..<count).map(make)
    let start = DispatchTime.now().uptimeNanoseconds
    commands.withUnsafeBufferPointer { all in
        for i in all.indices { _ = engine.execute(all[i], client: &client) }
    }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
    print(String(format: "%-8@ %10.0f ops/s", name as NSString, Double(count) / (ns / 1e9)))
}

let SET = Array("SET".utf8), GET = Array("GET".utf8), INCR = Array("INCR".utf8), LPUSH = Array("LPUSH".utf8)
let HSET = Array("HSET".utf8), SADD = Array("SADD".utf8), ZADD = Array("ZADD".utf8), ZRANGE = Array("ZRANGE".utf8)
bench("SET", n) { i in [SET, keys[i], value] }
bench("GET", n) { i in [GET, keys[i]] }
// SET again over the same keys: overwrites, no table growth (the first SET run inserts).
bench("SET-OVER", n) { i in [SET, keys[i], value] }
bench("INCR", n) { i in [INCR, keys[i % 1000] + [0x69]] }
bench("LPUSH", n) { i in [LPUSH, Array("list:\(i % 100)".utf8), value] }
bench("HSET", n) { i in [HSET, Array("hash:\(i % 1000)".utf8), keys[i % 100], value] }
bench("SADD", n) { i in [SADD, Array("set:\(i % 1000)".utf8), keys[i % 100]] }
bench("ZADD", n) { i in [ZADD, Array("zset:\(i % 1000)".utf8), Array(String(i % 977).utf8), keys[i % 100]] }
let zr = [ZRANGE, Array("zset:1".utf8), Array("0".utf8), Array("9".utf8)]
bench("ZRANGE", n / 10) { _ in zr }
