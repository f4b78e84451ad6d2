import Foundation
import XCTest
import StrataTestSupport
@testable import StrataEngine
import StrataFormats

/// The packed encodings of small hashes and sorted sets (one buffer each, as Redis's listpack)
/// agree with a plain model through random updates, including long elements whose lengths
/// take more than one byte and the conversion to the table/skiplist form at the limits.
final class PackedValueTests: XCTestCase {
    private func member(_ rng: inout SeededRNG) -> [UInt8] {
        // Mostly short; some of 128..300 bytes (two-byte lengths); some empty.
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return []
        case 1: return [UInt8](repeating: UInt8.random(in: 97...99, using: &rng), count: Int.random(in: 128...300, using: &rng))
        default: return Array("m\(Int.random(in: 0..<60, using: &rng))".utf8)
        }
    }

    func testPackedHashAgreesWithModelInInsertionOrder() {
        var rng = SeededRNG(seed: 7)
        var limits = EncodingLimits()
        limits.hashMaxListpackEntries = 1000
        limits.hashMaxListpackValue = 1000
        let h = HashObject()
        var model = [(field: [UInt8], value: [UInt8])]()
        for _ in 0..<5000 {
            let f = member(&rng), v = member(&rng)
            if Bool.random(using: &rng) {
                let isNew = h.set(f, v, limits: limits)
                if let i = model.firstIndex(where: { $0.field == f }) { model[i].value = v; XCTAssertFalse(isNew) }
                else { model.append((f, v)); XCTAssertTrue(isNew) }
            } else {
                let i = model.firstIndex { $0.field == f }
                XCTAssertEqual(h.remove(f), i != nil)
                if let i { model.remove(at: i) }
            }
            XCTAssertEqual(h.get(f), model.first { $0.field == f }?.value)
            XCTAssertEqual(h.count, model.count)
        }
        XCTAssertTrue(h.isPacked)
        XCTAssertEqual(h.pairs.map(\.field), model.map(\.field))
        XCTAssertEqual(h.pairs.map(\.value), model.map(\.value))
        limits.hashMaxListpackEntries = model.count
        h.set(Array("one-more".utf8), [1], limits: limits)
        XCTAssertEqual(h.encoding, "hashtable")
        XCTAssertEqual(h.count, model.count + 1)
        for (f, v) in model { XCTAssertEqual(h.get(f), v) }
    }

    func testPackedSortedSetAgreesWithModelInScoreOrder() {
        var rng = SeededRNG(seed: 11)
        var limits = EncodingLimits()
        limits.zsetMaxListpackEntries = 1000
        limits.zsetMaxListpackValue = 1000
        let z = ZSetObject()
        var model = [[UInt8]: Double]()
        func ordered() -> [(member: [UInt8], score: Double)] {
            model.map { ($0.key, $0.value) }.sorted { $0.score != $1.score ? $0.score < $1.score : bytesLess($0.member, $1.member) }
        }
        for step in 0..<4000 {
            let m = member(&rng)
            let score = [-Double.infinity, .infinity, 0, -0.0, 1.5, Double(Int.random(in: -5...5, using: &rng))][Int.random(in: 0..<6, using: &rng)]
            if Int.random(in: 0..<3, using: &rng) > 0 {
                XCTAssertEqual(z.set(m, score, limits: limits), model.updateValue(score, forKey: m) == nil)
            } else {
                XCTAssertEqual(z.remove(m), model.removeValue(forKey: m) != nil)
            }
            XCTAssertEqual(z.score(m), model[m])
            XCTAssertEqual(z.count, model.count)
            if step % 97 == 0 {
                let o = ordered()
                XCTAssertEqual(z.members.map(\.member), o.map(\.member))
                XCTAssertEqual(z.members.map(\.score), o.map(\.score))
                if let r = o.firstIndex(where: { $0.member == m }) { XCTAssertEqual(z.rank(m), r) }
                XCTAssertEqual(z.countBefore(score: { $0 >= 0 }), o.filter { $0.score < 0 }.count)
                XCTAssertEqual(z.range(from: 3, count: 4).map(\.member), Array(o.dropFirst(3).prefix(4)).map(\.member))
                XCTAssertEqual(z.lastMember, o.last?.member)
            }
        }
        XCTAssertTrue(z.packed)
        // Built from loaded members (unsorted, with a repeat: the last wins), then converted.
        let loaded = ZSetObject.from([(Array("b".utf8), 2), (Array("a".utf8), 2), (Array("b".utf8), 1)], limits: EncodingLimits())
        XCTAssertEqual(loaded.members.map(\.member), [Array("b".utf8), Array("a".utf8)])
        let before = ordered()
        limits.zsetMaxListpackEntries = model.count
        z.set(Array("zz-new".utf8), 0.25, limits: limits)
        XCTAssertEqual(z.encoding, "skiplist")
        XCTAssertEqual(z.members.filter { $0.member != Array("zz-new".utf8) }.map(\.member), before.map(\.member))
    }
}

/// Loading builds collections straight from the reader's elements: every encoding Redis writes
/// (listpack, intset, plain sets and hashes, a small skiplist zset saved tail first) must give
/// the values, the order and the encodings Redis itself has after loading the same file.
final class LoadBuilderTests: XCTestCase {
    func testLoadedValuesOrderAndEncodingsMatchRedis() throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let c = try RedisClient(port: server.port)
        var rng = SeededRNG(seed: 5)
        func word() -> String { String((0..<Int.random(in: 1...12, using: &rng)).map { _ in "abcxyz019".randomElement(using: &rng)! }) }
        // Plain encodings first: a small skiplist zset and small hashtable hash/set.
        _ = try c.call("CONFIG", "SET", "zset-max-listpack-entries", "0")
        _ = try c.call("CONFIG", "SET", "hash-max-listpack-entries", "0")
        for i in 0..<60 {
            _ = try c.call("ZADD", "z:plain", "\(Double(Int.random(in: -20...20, using: &rng)) / 4)", "m\(i)-\(word())")
            _ = try c.call("HSET", "h:plain", "f\(i)", word())
            _ = try c.call("SADD", "s:plain", word())
        }
        _ = try c.call("CONFIG", "SET", "zset-max-listpack-entries", "128")
        _ = try c.call("CONFIG", "SET", "hash-max-listpack-entries", "128")
        for i in 0..<300 {
            if i < 100 { _ = try c.call("ZADD", "z:small", "\(Int.random(in: 0...5, using: &rng))", word()) }
            _ = try c.call("ZADD", "z:big", "\(Double(i) / 3)", "m\(i)")
            if i < 100 { _ = try c.call("HSET", "h:small", "f\(i)", i % 3 == 0 ? "\(i)" : word()) }
            _ = try c.call("HSET", "h:big", "f\(i)", word())
            if i < 50 { _ = try c.call("SADD", "s:ints", "\(Int.random(in: -1000...1000, using: &rng))") }
            _ = try c.call("SADD", "s:bigints", "\(i * 7)")
            _ = try c.call("RPUSH", "l", word())
        }
        _ = try c.call("HSET", "h:long", "f", String(repeating: "v", count: 100))
        _ = try c.call("ZADD", "z:long", "1", String(repeating: "m", count: 100))
        _ = try c.call("SAVE")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: server.dir + "/dump.rdb"))
        let e = Engine()
        e.limits.hashMaxListpackEntries = 128   // as the server was set above (its default is 512)
        try e.load(from: RDBReader(source: ByteSource(bytes: [UInt8](bytes))))
        _ = try c.call("DEBUG", "RELOAD")   // Redis's own encodings after loading the same file
        var state = ClientState()
        func ours(_ words: [String]) -> Reply { e.execute(words.map { Array($0.utf8) }, client: &state).resp2 }
        XCTAssertEqual(try c.call("DEBUG", "DIGEST"), .status(e.digest()))
        for key in ["z:plain", "z:small", "z:big", "z:long", "h:plain", "h:small", "h:big", "h:long", "s:plain", "s:ints", "s:bigints", "l"] {
            XCTAssertEqual(try c.call("OBJECT", "ENCODING", key), ours(["OBJECT", "ENCODING", key]), key)
        }
        for key in ["z:plain", "z:small", "z:big", "z:long"] {
            XCTAssertEqual(try c.call("ZRANGE", key, "0", "-1", "WITHSCORES"), ours(["ZRANGE", key, "0", "-1", "WITHSCORES"]), key)
        }
        for key in ["h:small", "s:ints", "l"] {   // listpack and intset order is the file's
            let cmd = key.hasPrefix("h") ? "HGETALL" : key.hasPrefix("s") ? "SMEMBERS" : "LRANGE"
            let args = cmd == "LRANGE" ? [cmd, key, "0", "-1"] : [cmd, key]
            XCTAssertEqual(try c.call(args.map { Array($0.utf8) }), ours(args), key)
        }
    }
}

/// INCR rewrites a present integer's digits in its own buffer: a copy sharing those bytes
/// (COPY shares string bytes) must keep its value, and the encoding is Redis's "int".
final class IncrementInPlaceTests: XCTestCase {
    func testIncrementDoesNotChangeACopySharingTheBytes() {
        let e = Engine()
        XCTAssertEqual(e.execute("SET", "a", "9"), .ok)
        XCTAssertEqual(e.execute("COPY", "a", "b"), .integer(1))
        XCTAssertEqual(e.execute("INCR", "a"), .integer(10))
        XCTAssertEqual(e.execute("INCRBY", "a", "-20"), .integer(-10))
        XCTAssertEqual(e.execute("GET", "a"), .bulk("-10"))
        XCTAssertEqual(e.execute("GET", "b"), .bulk("9"))
        XCTAssertEqual(e.execute("OBJECT", "ENCODING", "a"), .bulk("int"))
        XCTAssertEqual(e.execute("SET", "s", "x"), .ok)
        XCTAssertEqual(e.execute("INCR", "s"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(e.execute("GET", "s"), .bulk("x"))
        XCTAssertEqual(e.execute("SET", "m", "9223372036854775807"), .ok)
        XCTAssertEqual(e.execute("INCR", "m"), .error("ERR increment or decrement would overflow"))
        XCTAssertEqual(e.execute("GET", "m"), .bulk("9223372036854775807"))
    }
}

extension LoadBuilderTests {
    /// Every fixture (Redis 7.0, Redis 7.4 with field TTLs, Valkey 9) loads to the same keys,
    /// encodings, contents and digest whether values are built from the reader's elements (the
    /// loader's path) or from the materialised values the reader returns without a visitor.
    func testBuiltAndMaterialisedLoadsAgreeOnEveryFixture() throws {
        for name in ["redis-7.0-all-types", "redis-7.4-hfe", "valkey-9-all-types", "redis-7.0-lfu"] {
            let bytes = [UInt8](try Data(contentsOf: EngineTests.fixtures.appendingPathComponent(name + ".rdb")))
            let built = Engine(), plain = Engine()
            try built.load(from: RDBReader(source: ByteSource(bytes: bytes)))
            let reader = RDBReader(source: ByteSource(bytes: bytes))
            var report = Engine.LoadReport()
            while let ev = try reader.next() {
                if case .entry(let e) = ev { try plain.load(entry: e, now: plain.clock(), keepExpired: false, report: &report) }
            }
            XCTAssertEqual(built.digest(), plain.digest(), name)
            XCTAssertGreaterThan(report.keys, 0, name)
            for (a, b) in zip(built.databases, plain.databases) {
                XCTAssertEqual(a.count, b.count, name)
                b.dict.forEach { k, v in
                    guard let w = a.dict[k] else { return XCTFail("\(name): \(String(decoding: k, as: UTF8.self)) missing") }
                    XCTAssertEqual(w.encoding, v.encoding, "\(name) \(String(decoding: k, as: UTF8.self))")
                    XCTAssertEqual(w.typeName, v.typeName, name)
                }
            }
        }
    }
}
