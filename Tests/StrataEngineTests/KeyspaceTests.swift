import Foundation
import XCTest
import StrataTestSupport
@testable import StrataEngine
import StrataFormats

final class HashTableTests: XCTestCase {
    /// Model-based: random inserts, updates and removals agree with a Dictionary throughout.
    func testAgreesWithDictionaryModel() {
        var rng = SeededRNG(seed: 42)
        let t = HashTable<Int>()
        var model = [[UInt8]: Int]()
        for i in 0..<60_000 {
            let k = Array("key\(Int.random(in: 0..<5000, using: &rng))".utf8)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0, 1:
                XCTAssertEqual(t.set(k, i), model.updateValue(i, forKey: k) == nil)
            default:
                XCTAssertEqual(t.remove(k), model.removeValue(forKey: k))
            }
            if i % 5000 == 0 { t.shrinkIfNeeded() }
            XCTAssertEqual(t.count, model.count)
        }
        for (k, v) in model { XCTAssertEqual(t[k], v) }
        var seen = 0
        t.forEach { k, v in XCTAssertEqual(model[k], v); seen += 1 }
        XCTAssertEqual(seen, model.count)
    }

    /// Growth never moves the whole table at once: each operation moves at most one bucket
    /// (plus empty ones), so a large table is still rehashing many inserts after it began.
    func testGrowthIsIncremental() {
        let t = HashTable<Int>()
        for i in 0..<(1 << 16) { t.set(Array("k\(i)".utf8), i) }
        t.set(Array("trigger".utf8), 0)   // 65537 entries > 65536 buckets: a rehash starts
        XCTAssertTrue(t.isRehashing)
        for i in 0..<1000 { _ = t[Array("k\(i)".utf8)] }
        XCTAssertTrue(t.isRehashing, "1000 lookups must not finish rehashing 65536 buckets")
        while t.rehash(steps: 1000) {}
        XCTAssertFalse(t.isRehashing)
        XCTAssertEqual(t.count, (1 << 16) + 1)
        for i in stride(from: 0, to: 1 << 16, by: 97) { XCTAssertEqual(t[Array("k\(i)".utf8)], i) }
    }

    /// SCAN's guarantee: every key present for the whole scan is returned at least once, while
    /// the table grows (and rehashes) and shrinks between calls.
    func testScanReturnsEveryStableKeyAcrossResizes() {
        var rng = SeededRNG(seed: 7)
        let t = HashTable<Int>()
        let stable = (0..<3000).map { Array("stable\($0)".utf8) }
        for (i, k) in stable.enumerated() { t.set(k, i) }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var step = 0
        repeat {
            cursor = t.scan(cursor: cursor) { k, _ in seen.insert(k) }
            step += 1
            // Churn: grow hard for a while, then delete the extra keys so the table shrinks.
            if step < 200 {
                for _ in 0..<100 { t.set(Array("extra\(Int.random(in: 0..<100_000, using: &rng))".utf8), 0) }
            } else if step == 200 {
                for k in t.keys where k.starts(with: Array("extra".utf8)) { t.remove(k) }
                t.shrinkIfNeeded()
            }
            t.rehash(steps: 3)
        } while cursor != 0 && step < 1_000_000
        for k in stable { XCTAssertTrue(seen.contains(k), "missed \(String(decoding: k, as: UTF8.self))") }
    }
}

final class EngineTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Loading a real Redis dump and taking DEBUG DIGEST gives what Redis reported.
    func testLoadedFixtureHasRedisDigest() throws {
        let bytes = try FileIO.readFile(EngineTests.fixtures.appendingPathComponent("redis-7.0-all-types.rdb").path)
        let expected = try String(contentsOf: EngineTests.fixtures.appendingPathComponent("redis-7.0-all-types.digest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let e = Engine()
        let report = try e.load(from: RDBReader(source: ByteSource(bytes: bytes)))
        XCTAssertEqual(report.keys, 28)
        XCTAssertEqual(report.functions.count, 1)
        XCTAssertEqual(e.digest(), expected)
        XCTAssertEqual(e.execute("OBJECT", "ENCODING", "set:int"), .bulk("intset"))
        XCTAssertEqual(e.execute("OBJECT", "ENCODING", "h:small"), .bulk("listpack"))
        XCTAssertEqual(e.execute("OBJECT", "ENCODING", "h:big"), .bulk("listpack"))   // 300 fields: redis-server 7.0 keeps it packed (limit 512)
        XCTAssertEqual(e.execute("LLEN", "l:big"), .integer(5000))
        XCTAssertEqual(e.execute("TYPE", "z:small"), .status("zset"))
        XCTAssertEqual(e.execute("PEXPIRETIME", "s:ttl"), .integer(4102444800000))
    }

    /// What the engine saves loads in redis-server with the engine's digest.
    func testSavedKeyspaceLoadsInRedisWithTheSameDigest() throws {
        guard let bin = whichBinary("redis-server") else { throw XCTSkip("redis-server not installed") }
        _ = bin
        let e = Engine()
        for i in 0..<300 {
            _ = e.execute("SET", "s\(i)", "v\(i)")
            _ = e.execute("RPUSH", "l\(i % 10)", "e\(i)")
            _ = e.execute("HSET", "h\(i % 7)", "f\(i)", String(repeating: "x", count: i % 80))
            _ = e.execute("SADD", "set\(i % 5)", String(i))
        }
        _ = e.execute("PEXPIREAT", "s1", "4102444800000")
        _ = e.execute("SET", "moved", "x")
        _ = e.execute("MOVE", "moved", "3")
        let server = try RedisServerProcess()
        let sink = ByteSink()
        try e.save(to: RDBWriter(sink: sink, target: RDBTarget.named("redis-7.0")!))
        server.stop()
        FileManager.default.createFile(atPath: server.dir + "/dump.rdb", contents: Data(sink.memory))
        let reloaded = try RedisServerProcess(dir: server.dir)
        defer { reloaded.stop() }
        let c = try RedisClient(port: reloaded.port)
        XCTAssertEqual(try c.call("DEBUG", "DIGEST"), .status(e.digest()))
    }

    func testPropagationTurnsRelativeExpiriesAbsolute() {
        var log = [[String]]()
        let e = Engine(clock: { 1_000_000 })
        e.propagate = { args, _ in log.append(args.map { String(decoding: $0, as: UTF8.self) }) }
        _ = e.execute("SET", "k", "v", "EX", "10")
        _ = e.execute("EXPIRE", "k", "20")
        _ = e.execute("INCRBYFLOAT", "f", "1.5")
        _ = e.execute("GET", "k")
        XCTAssertEqual(log, [["SET", "k", "v", "PXAT", "1010000"], ["PEXPIREAT", "k", "1020000"], ["SET", "f", "1.5", "KEEPTTL"]])
    }

    /// While loading, large sorted sets defer their skiplist until an ordered read: replies
    /// and the digest must be those of an engine that maintained it all along.
    func testDeferredSortedSetOrderMatchesMaintainedOrder() {
        let live = Engine(), loading = Engine()
        loading.loading = true
        var rng = SeededRNG(seed: 7)
        for round in 0..<6000 {
            let key = "z\(rng.next() % 3)"
            let member = "m\(rng.next() % 400)"
            let score = "\(Int(rng.next() % 50))"   // many ties: order by member bytes too
            let cmd: [String]
            switch round % 500 {
            case 0: cmd = ["ZRANGE", key, "0", "-1", "WITHSCORES"]
            case 100: cmd = ["ZRANK", key, member]
            case 200: cmd = ["ZREM", key, member]
            case 300: cmd = ["ZRANGEBYSCORE", key, "10", "(30", "LIMIT", "3", "20"]
            case 400: cmd = ["ZINCRBY", key, "2.5", member]
            default: cmd = ["ZADD", key, score, member]
            }
            var c1 = ClientState(), c2 = ClientState()
            let args = cmd.map { Array($0.utf8) }
            XCTAssertEqual(loading.execute(args, client: &c2), live.execute(args, client: &c1), "command \(round): \(cmd)")
        }
        XCTAssertEqual(loading.digest(), live.digest())
        for k in ["z0", "z1", "z2"] {
            XCTAssertEqual(loading.execute("ZRANGE", k, "0", "-1", "WITHSCORES"), live.execute("ZRANGE", k, "0", "-1", "WITHSCORES"))
        }
    }

    func testLazyAndActiveExpiryWithAnInjectedClock() {
        var now: Int64 = 1_000
        let e = Engine(clock: { now })
        for i in 0..<100 { _ = e.execute("SET", "k\(i)", "v", "PX", "10") }
        _ = e.execute("SET", "keep", "v")
        now = 2_000
        XCTAssertEqual(e.execute("GET", "k5"), .null, "lazy expiry on access")
        XCTAssertEqual(e.databases[0].count, 100)
        e.activeExpireCycle()
        XCTAssertEqual(e.databases[0].count, 1, "the active cycle removes the rest")
        XCTAssertEqual(e.execute("EXISTS", "keep"), .integer(1))
    }
}

final class ScanCommandTests: XCTestCase {
    func testCollectionScansReturnEverythingAndFilter() {
        let e = Engine()
        for i in 0..<300 { _ = e.execute("HSET", "h", "f\(i)", "v\(i)"); _ = e.execute("SADD", "s", "m\(i)"); _ = e.execute("ZADD", "z", "\(i)", "m\(i)") }
        guard case .array(let r?) = e.execute("HSCAN", "h", "0", "MATCH", "f1?"), case .array(let items?) = r[1] else { return XCTFail() }
        XCTAssertEqual(r[0], .bulk("0"))
        XCTAssertEqual(items.count, 20, "f10...f19 with their values")
        guard case .array(let s?) = e.execute("SSCAN", "s", "0", "COUNT", "5"), case .array(let all?) = s[1] else { return XCTFail() }
        XCTAssertEqual(Set(all.map(\.description)).count, 300)
        XCTAssertEqual(e.execute("ZSCAN", "z", "x"), .error("ERR invalid cursor"))
        XCTAssertEqual(e.execute("SSCAN", "h", "0"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
    }

    /// Keyspace SCAN through the command: every key comes back exactly as KEYS lists them.
    func testScanCommandCoversTheKeyspace() {
        let e = Engine()
        for i in 0..<1000 { _ = e.execute("SET", "key:\(i)", "v") }
        var seen = Set<String>()
        var cursor = "0"
        repeat {
            guard case .array(let r?) = e.execute("SCAN", cursor, "COUNT", "37"), case .bulk(let c?) = r[0], case .array(let ks?) = r[1] else { return XCTFail() }
            for k in ks { seen.insert(k.description) }
            cursor = String(decoding: c, as: UTF8.self)
        } while cursor != "0"
        XCTAssertEqual(seen.count, 1000)
    }
}
