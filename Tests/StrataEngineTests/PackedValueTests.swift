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

/// `load(from:)` decodes on a worker thread and fills the keyspace on the caller's, batch by
/// batch: it must make exactly what the one-thread loader makes, and fail with the error that
/// comes first in the file.
final class TwoThreadLoadTests: XCTestCase {
    /// A file of `keys` keys of every kind the loader builds (several hand-off batches), with
    /// `damage` applied to the writer before the end.
    private func file(keys: Int, damage: (RDBWriter, Int) throws -> Void = { _, _ in }) throws -> [UInt8] {
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: RDBTarget.named("redis-7.0")!)
        try w.writeHeader()
        for db in [0, 3] {
            try w.writeSelectDB(db)
            try w.writeResizeDB(keys: UInt64(keys), expires: 0)
            for i in 0..<keys {
                let key = Array("k\(db):\(i)".utf8)
                let value: RDBValue
                switch i % 7 {
                case 0: value = .string(Array("v\(i)".utf8))
                case 1: value = .set((0..<(i % 40 + 1)).map { Array("\($0 * 3)".utf8) })           // intset
                case 2: value = .set((0..<(i % 50 + 1)).map { Array("m\($0)".utf8) })              // table
                case 3: value = .set((0..<(520 + i % 5)).map { Array("\($0)".utf8) })              // past the intset limit
                case 4: value = .hash((0..<(i % 30 + 1)).map { HashField(field: Array("f\($0)".utf8), value: Array("x\(i)".utf8)) })
                case 5: value = .sortedSet((0..<(i % 30 + 1)).map { ZSetMember(member: Array("z\($0)".utf8), score: Double($0) / 3) })
                default: value = .list((0..<(i % 20 + 1)).map { Array("e\($0)".utf8) })
                }
                try w.writeEntry(key: key, value: value, expireMs: i % 11 == 0 ? 4102444800000 : nil)
                try damage(w, i)
            }
        }
        try w.finish()
        return sink.memory
    }

    private func loads(_ bytes: [UInt8]) -> (two: Result<Engine, Error>, one: Result<Engine, Error>) {
        let two = Result { () throws -> Engine in
            let e = Engine(); try e.load(from: RDBReader(source: ByteSource(bytes: bytes))); return e
        }
        let one = Result { () throws -> Engine in
            let e = Engine(); try e.loadOnOneThread(from: RDBReader(source: ByteSource(bytes: bytes))); return e
        }
        return (two, one)
    }

    func testTwoThreadLoadMakesWhatTheOneThreadLoadMakes() throws {
        let (two, one) = loads(try file(keys: 1500))
        let a = try two.get(), b = try one.get()
        XCTAssertEqual(a.digest(), b.digest())
        XCTAssertEqual(a.databases[0].count, 1500)
        XCTAssertEqual(a.databases[3].count, 1500)
        for (x, y) in zip(a.databases, b.databases) {
            XCTAssertEqual(x.count, y.count)
            XCTAssertEqual(x.expires.count, y.expires.count)
            y.dict.forEach { k, v in
                guard let w = x.dict[k] else { return XCTFail("\(String(decoding: k, as: UTF8.self)) missing") }
                XCTAssertEqual(w.encoding, v.encoding, String(decoding: k, as: UTF8.self))
            }
        }
    }

    func testTwoThreadLoadFailsWithTheFirstErrorInTheFile() throws {
        // A duplicate key (found by the keyspace's thread) before a damaged record (found by the
        // reader's thread, which has read ahead): the duplicate is reported.
        var bytes = try file(keys: 2000) { w, i in
            if i == 1200 { try w.writeEntry(key: Array("k0:5".utf8), value: .string([1]), expireMs: nil) }
        }
        bytes[bytes.count - 3000] ^= 0xFF
        for result in [loads(bytes).two, loads(bytes).one] {
            XCTAssertThrowsError(try result.get()) { error in
                XCTAssertTrue("\(error)".contains("duplicate key"), "\(error)")
            }
        }
        // Damage alone: the same error, at the same offset, either way.
        var damaged = try file(keys: 2000)
        damaged[damaged.count / 2] ^= 0x5A
        let (two, one) = loads(damaged)
        guard case .failure(let a) = two, case .failure(let b) = one else { return XCTFail("a damaged file loaded") }
        XCTAssertEqual(a as? FormatError, b as? FormatError)
        XCTAssertNotNil(a as? FormatError)
        // A plain set that repeats a member (in the first batch: the keyspace's thread builds it).
        let repeated = try file(keys: 1000) { w, i in
            if i == 100 { try w.writeEntry(key: Array("dup".utf8), value: .set([Array("a".utf8), Array("b".utf8), Array("a".utf8)]), expireMs: nil) }
        }
        for result in [loads(repeated).two, loads(repeated).one] {
            XCTAssertThrowsError(try result.get()) { error in
                XCTAssertTrue("\(error)".contains("duplicate set member \"a\""), "\(error)")
            }
        }
        // A corrupt hash listpack in the first batch (checked on the keyspace's thread): the
        // reader's error exactly (offset of the blob, message, context).
        var corrupt = try file(keys: 1000) { w, i in
            if i == 100 {
                let fields = ["a7Kx", "Zp3Q", "m9Wd", "T2uV"].map { HashField(field: Array($0.utf8), value: Array("\($0.count)".utf8)) }
                try w.writeEntry(key: Array("lp".utf8), value: .hash(fields), expireMs: nil)
            }
        }
        let marker = Array("m9Wd".utf8)
        guard let at = (0..<corrupt.count - 4).first(where: { Array(corrupt[$0..<$0 + 4]) == marker }) else {
            return XCTFail("the hash listpack is not stored as plain bytes")
        }
        corrupt[at - 1] = 0xF6   // not an entry encoding
        let (lpTwo, lpOne) = loads(corrupt)
        guard case .failure(let c) = lpTwo, case .failure(let d) = lpOne else { return XCTFail("a corrupt listpack loaded") }
        XCTAssertEqual(c as? FormatError, d as? FormatError)
        XCTAssertTrue("\(c)".contains("corrupt hash listpack") && "\(c)".contains("key \"lp\""), "\(c)")
    }
}
