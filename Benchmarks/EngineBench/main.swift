// Engine-only throughput: commands executed straight on StrataEngine (no network), the figure
// issue 3 asks for (SET/GET with 16-byte keys and values). Run through Benchmarks/engine-bench.sh.
import StrataEngine
import StrataFormats
import Foundation

let n = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1_000_000
let engine = Engine()
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

func bench(_ name: String, _ count: Int, _ body: (Int) -> Void) {
    let start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<count { body(i) }
    let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
    print(String(format: "%-8@ %10.0f ops/s", name as NSString, Double(count) / (ns / 1e9)))
}

let SET = Array("SET".utf8), GET = Array("GET".utf8), INCR = Array("INCR".utf8), LPUSH = Array("LPUSH".utf8)
let HSET = Array("HSET".utf8), SADD = Array("SADD".utf8), ZADD = Array("ZADD".utf8), ZRANGE = Array("ZRANGE".utf8)
bench("SET", n) { i in _ = engine.execute([SET, keys[i], value], client: &client) }
bench("GET", n) { i in _ = engine.execute([GET, keys[i], ], client: &client) }
bench("INCR", n) { i in _ = engine.execute([INCR, keys[i % 1000] + [0x69]], client: &client) }
bench("LPUSH", n) { i in _ = engine.execute([LPUSH, Array("list:\(i % 100)".utf8), value], client: &client) }
bench("HSET", n) { i in _ = engine.execute([HSET, Array("hash:\(i % 1000)".utf8), keys[i % 100], value], client: &client) }
bench("SADD", n) { i in _ = engine.execute([SADD, Array("set:\(i % 1000)".utf8), keys[i % 100]], client: &client) }
bench("ZADD", n) { i in _ = engine.execute([ZADD, Array("zset:\(i % 1000)".utf8), Array(String(i % 977).utf8), keys[i % 100]], client: &client) }
let zr = [ZRANGE, Array("zset:1".utf8), Array("0".utf8), Array("9".utf8)]
bench("ZRANGE", n / 10) { _ in _ = engine.execute(zr, client: &client) }
