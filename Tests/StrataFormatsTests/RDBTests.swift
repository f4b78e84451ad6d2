import XCTest
import StrataTestSupport
import Foundation
@testable import StrataFormats

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var own: [String] {
        let dir = root.appendingPathComponent("Fixtures").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".rdb") }.sorted().map { dir + "/" + $0 }
    }
    static var shared: [String] {
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/rdbtools-dumps").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".rdb") }.sorted().map { dir + "/" + $0 }
    }
    static func bytes(_ name: String) throws -> [UInt8] {
        try FileIO.readFile(root.appendingPathComponent("Fixtures/\(name)").path)
    }
}

/// Reads a whole RDB from memory into events.
func readAll(_ bytes: [UInt8], materialize: Bool = true) throws -> (entries: [RDBEntry], functions: [[UInt8]], end: ChecksumVerdict?) {
    let r = RDBReader(source: ByteSource(bytes: bytes), options: RDBReader.Options(materialize: materialize))
    var entries = [RDBEntry](), functions = [[UInt8]](), end: ChecksumVerdict?
    while let e = try r.next() {
        switch e {
        case .entry(let x): entries.append(x)
        case .function(let f): functions.append(f)
        case .end(let v, _): end = v
        default: break
        }
    }
    return (entries, functions, end)
}

/// A value in a form where encodings do not matter (sets and hashes unordered, zsets by score).
func normalized(_ v: RDBValue) -> String {
    switch v {
    case .set(let s): return "set:" + s.map { String(decoding: $0, as: UTF8.self) + "|\($0.count)" }.sorted().joined(separator: ",")
    case .hash(let h): return "hash:" + h.map { "\($0.field)=\($0.value)@\($0.expireMs ?? -1)" }.sorted().joined(separator: ",")
    case .sortedSet(let z): return "zset:" + z.map { "\($0.member)=\($0.score)" }.sorted().joined(separator: ",")
    case .stream(var s):
        // The first ID is stored from RDB 10 on; older files derive it.
        s.firstID = nil; s.maxDeletedID = nil; s.entriesAdded = nil
        for i in s.groups.indices { s.groups[i].entriesRead = nil; for j in s.groups[i].consumers.indices { s.groups[i].consumers[j].activeTimeMs = nil } }
        return "\(s)"
    default: return "\(v)"
    }
}

final class RDBTests: XCTestCase {
    func testReadsEveryFixtureToItsEnd() throws {
        let files = Fixtures.own + Fixtures.shared
        XCTAssertGreaterThan(Fixtures.own.count, 3)
        for f in files {
            let bytes = try FileIO.readFile(f)
            XCTAssertNoThrow(try readAll(bytes), f)
            XCTAssertNoThrow(try readAll(bytes, materialize: false), f)
        }
    }

    func testRedis70FixtureHoldsWhatTheScriptPutThere() throws {
        let (entries, functions, end) = try readAll(try Fixtures.bytes("redis-7.0-all-types.rdb"))
        guard case .verified = end else { return XCTFail("checksum not verified") }
        XCTAssertEqual(functions.count, 1)
        func value(_ k: String) -> RDBValue? { entries.first { $0.key == Array(k.utf8) }?.value }
        XCTAssertEqual(value("s:int"), .string(Array("12345".utf8)))
        XCTAssertEqual(value("s:lzf"), .string([UInt8](repeating: 0x61, count: 100)))
        XCTAssertEqual(value("s:bin"), .string([0, 0xFF, 13, 10, 0x80] + Array("binary".utf8)))
        if case .list(let l) = value("l:big") { XCTAssertEqual(l.count, 5000); XCTAssertEqual(l[4999], Array("element-4999".utf8)) } else { XCTFail() }
        if case .list(let l) = value("l:plain") { XCTAssertEqual(l.count, 3); XCTAssertEqual(l[1], Array("small".utf8)) } else { XCTFail() }
        if case .sortedSet(let z) = value("z:inf") { XCTAssertTrue(z.contains { $0.score == .infinity }) } else { XCTFail() }
        if case .stream(let s) = value("st") {
            XCTAssertEqual(s.length, 3); XCTAssertEqual(s.groups.count, 2)
            XCTAssertEqual(s.groups[0].pending.count, 2)
        } else { XCTFail() }
        XCTAssertEqual(entries.first { $0.key == Array("s:ttl".utf8) }?.expireMs, 4102444800000)
        XCTAssertEqual(Set(entries.map(\.db)), [0, 3, 15])
    }

    func testValkeyHash2FieldTTLsAreRead() throws {
        let (entries, _, _) = try readAll(try Fixtures.bytes("valkey-9-all-types.rdb"))
        guard case .hash(let h) = entries.first(where: { $0.key == Array("h:ttl".utf8) })?.value else { return XCTFail() }
        XCTAssertEqual(h.first { $0.field == Array("f1".utf8) }?.expireMs, 4102444800000)
        XCTAssertNil(h.first { $0.field == Array("f2".utf8) }?.expireMs)
    }

    /// Every fixture, written for every target that can hold it, reads back with the same data.
    func testWriterRoundTripsEveryFixtureForEveryTarget() throws {
        var targets = RDBTarget.named
        for n in [2, 5, 7, 8] { targets.append(RDBTarget.forVersion(n)!) }
        for f in Fixtures.own + Fixtures.shared {
            let (entries, functions, _) = try readAll(try FileIO.readFile(f))
            for t in targets {
                let sink = ByteSink()
                let w = RDBWriter(sink: sink, target: t)
                try w.writeHeader()
                try w.writeStandardAux(ctime: 0)
                var kept = [RDBEntry]()
                var db = -1
                for e in entries where w.unsupportedReason(e.value, expireMs: e.expireMs) == nil {
                    if e.db != db { try w.writeSelectDB(e.db); db = e.db }
                    try w.writeEntry(key: e.key, value: e.value, expireMs: e.expireMs, idle: e.idle, freq: e.freq)
                    kept.append(e)
                }
                if t.supportsFunctions { for fn in functions { try w.writeFunction(fn) } }
                try w.finish()
                let (back, _, end) = try readAll(sink.memory)
                XCTAssertNotNil(end)
                XCTAssertEqual(back.count, kept.count, "\(f) → \(t.name)")
                for (a, b) in zip(kept, back) {
                    XCTAssertEqual(a.key, b.key)
                    XCTAssertEqual(a.expireMs.map { t.version.level >= 3 ? $0 : $0 / 1000 * 1000 }, b.expireMs, "\(f) → \(t.name)")
                    XCTAssertEqual(normalized(a.value), normalized(b.value), "\(f) → \(t.name) key \(a.key)")
                }
            }
        }
    }

    func testTruncationAtEveryOffsetIsAClearError() throws {
        for name in ["redis-7.0-lfu.rdb", "redis-7.0-all-types.rdb"] {
            let bytes = try Fixtures.bytes(name)
            let step = bytes.count > 2000 ? 13 : 1
            for cut in stride(from: 0, to: bytes.count, by: step) {
                XCTAssertThrowsError(try readAll(Array(bytes[0..<cut])), "\(name) cut at \(cut)") { e in
                    guard let fe = e as? FormatError else { return XCTFail("\(e)") }
                    XCTAssertLessThanOrEqual(fe.offset, cut)
                }
            }
        }
    }

    func testEverySingleFlippedByteIsDetected() throws {
        let bytes = try Fixtures.bytes("redis-7.0-lfu.rdb")
        for i in 9..<bytes.count {
            var bad = bytes
            bad[i] ^= 0x20
            XCTAssertThrowsError(try readAll(bad), "flip at \(i)")
        }
    }

    func testStreamedReadInTinyChunksEqualsInMemoryRead() throws {
        let path = Fixtures.root.appendingPathComponent("Fixtures/redis-7.0-all-types.rdb").path
        let (fd, size) = try FileIO.openForReading(path)
        defer { close(fd) }
        let r = RDBReader(source: ByteSource(fileDescriptor: fd, knownSize: size, chunkSize: 7))
        var n = 0
        var verified = false
        while let e = try r.next() {
            if case .entry = e { n += 1 }
            if case .end(.verified, _) = e { verified = true }
        }
        XCTAssertTrue(verified)
        XCTAssertEqual(n, try readAll(try Fixtures.bytes("redis-7.0-all-types.rdb")).entries.count)
    }

    func testHostileLengthsAreRefusedWithoutAllocating() {
        let head = Array("REDIS0010".utf8) + [0xFE, 0x00]
        // A list claiming 2^60 elements; a string claiming 2^32 bytes; an LZF blob claiming 2^40 bytes.
        let cases: [[UInt8]] = [
            head + [0x01, 0x01, 0x6B, 0x81, 0x10, 0, 0, 0, 0, 0, 0, 0],
            head + [0x00, 0x01, 0x6B, 0x80, 0xFF, 0xFF, 0xFF, 0xFF],
            head + [0x00, 0x01, 0x6B, 0xC3, 0x02, 0x81, 0, 0, 0x01, 0, 0, 0, 0, 0, 0x00, 0x61],
            head + [0x11, 0x01, 0x6B, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F, 0x02, 0x00, 0x81, 0x61, 0x02, 0x01, 0x01, 0xFF],
            [],
            Array("REDIS".utf8),
            Array("RADIS0010".utf8) + [0xFF],
            Array("REDIS0099".utf8) + [0xFF],
            Array("VALKEY081".utf8) + [0xFF],
        ]
        for (i, c) in cases.enumerated() {
            XCTAssertThrowsError(try readAll(c), "case \(i)") { e in XCTAssertTrue(e is FormatError, "case \(i): \(e)") }
        }
    }

    func testErrorsNameTheKeyBeingRead() throws {
        var bytes = try Fixtures.bytes("redis-7.0-all-types.rdb")
        // Break the listpack header of "h:small" (total-bytes field).
        let key = Array("h:small".utf8)
        guard let at = (0..<(bytes.count - key.count)).first(where: { Array(bytes[$0..<($0 + key.count)]) == key }) else { return XCTFail() }
        bytes[at + key.count + 2] ^= 0xFF
        XCTAssertThrowsError(try readAll(bytes)) { e in
            let d = "\(e)"
            XCTAssertTrue(d.contains("h:small"), d)
            XCTAssertTrue(d.contains("offset"), d)
        }
    }
}

final class LoadedKeyTests: XCTestCase {
    /// Keys handed out by the reader are their own size: one long key early in a file must not
    /// make every later key carry a buffer that large (a loaded keyspace keeps them all).
    func testKeysAreNotCopiesOfALargeBuffer() throws {
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: RDBTarget.named("redis-7.0")!)
        try w.writeHeader()
        try w.writeSelectDB(0)
        try w.writeEntry(key: [UInt8](repeating: 0x6B, count: 4000), value: .string([1]), expireMs: nil)
        for i in 0..<2000 { try w.writeEntry(key: Array("k\(i)".utf8), value: .string([1]), expireMs: nil) }
        try w.finish()
        let reader = RDBReader(source: ByteSource(bytes: sink.memory))
        var kept = [[UInt8]]()
        while let ev = try reader.next() { if case .entry(let e) = ev { kept.append(e.key) } }
        XCTAssertEqual(kept.count, 2001)
        for k in kept.dropFirst() { XCTAssertLessThan(k.capacity, 64, "a \(k.count)-byte key holds \(k.capacity) bytes") }
    }

}

final class LargeFileTests: XCTestCase {
    /// Files over 4 MB have their checksum computed on a second thread: the verdict must be the
    /// same as the in-line one, for a good file, a flipped byte and bytes after the trailer.
    func testParallelChecksumAgreesOnGoodFlippedAndTrailingFiles() throws {
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: RDBTarget.named("redis-7.0")!)
        w.compression = false
        try w.writeHeader()
        try w.writeSelectDB(0)
        var rng = SeededRNG(seed: 7)
        for i in 0..<5000 {
            let v = (0..<1200).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try w.writeEntry(key: Array("k\(i)".utf8), value: .string(v), expireMs: nil)
        }
        try w.finish()
        let good = sink.memory
        XCTAssertGreaterThan(good.count, 5 << 20)
        var flipped = good
        flipped[good.count / 2] ^= 1
        let trailing = good + [1, 2, 3]
        func verdict(_ bytes: [UInt8]) throws -> (ChecksumVerdict, Int) {
            let path = NSTemporaryDirectory() + "strata-large-\(UUID().uuidString).rdb"
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let (fd, size) = try FileIO.openForReading(path)
            defer { close(fd) }
            let r = RDBReader(source: ByteSource(fileDescriptor: fd, knownSize: size), options: RDBReader.Options(materialize: false))
            while let e = try r.next() { if case .end(let v, let t) = e { return (v, t) } }
            throw FormatError(offset: 0, "no end")
        }
        let (v1, t1) = try verdict(good)
        guard case .verified = v1 else { return XCTFail("\(v1)") }
        XCTAssertEqual(t1, 0)
        XCTAssertThrowsError(try verdict(flipped)) { XCTAssertTrue("\($0)".contains("CRC-64 mismatch"), "\($0)") }
        let (v3, t3) = try verdict(trailing)
        guard case .verified = v3 else { return XCTFail("\(v3)") }
        XCTAssertEqual(t3, 3)
    }
}

final class DuplicateTests: XCTestCase {
    /// Redis refuses collections with a repeated member or field; so do we, in every encoding.
    func testDuplicateMembersAndFieldsAreRejectedInEveryEncoding() throws {
        let long = [UInt8](repeating: 0x61, count: 100)
        let values: [(String, RDBValue)] = [
            ("plain set", .set([long, long])),
            ("listpack set", .set([Array("a".utf8), Array("b".utf8), Array("a".utf8)])),
            ("listpack hash", .hash([HashField(field: Array("f".utf8), value: Array("1".utf8)), HashField(field: Array("f".utf8), value: Array("2".utf8))])),
            ("plain hash", .hash([HashField(field: long, value: long), HashField(field: long, value: long)])),
            ("listpack zset", .sortedSet([ZSetMember(member: Array("m".utf8), score: 1), ZSetMember(member: Array("m".utf8), score: 2)])),
            ("skiplist zset", .sortedSet([ZSetMember(member: long, score: 1), ZSetMember(member: long, score: 2)])),
            ("hash with TTLs", .hash([HashField(field: Array("f".utf8), value: [], expireMs: 5), HashField(field: Array("f".utf8), value: [], expireMs: 6)])),
        ]
        for target in ["redis-7.2", "redis-6.2", "valkey-9", "redis-7.4"] {
            for (name, v) in values {
                let sink = ByteSink()
                let w = RDBWriter(sink: sink, target: RDBTarget.named(target)!)
                if w.unsupportedReason(v) != nil { continue }
                try w.writeHeader()
                try w.writeSelectDB(0)
                try w.writeEntry(key: Array("k".utf8), value: v, expireMs: nil)
                try w.finish()
                for materialize in [true, false] {
                    XCTAssertThrowsError(try readAll(sink.memory, materialize: materialize), "\(name) for \(target)") { e in
                        XCTAssertTrue("\(e)".contains("duplicate"), "\(name) for \(target): \(e)")
                    }
                }
            }
        }
    }

    func testDistinctMembersThatLookAlikeAreAccepted() throws {
        // "1" stored as an integer and "01" as a string are different members.
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: RDBTarget.named("redis-7.2")!)
        try w.writeHeader(); try w.writeSelectDB(0)
        let members = (0..<200).map { Array("m\($0)".utf8) } + [Array("1".utf8), Array("01".utf8), Array("1 ".utf8)]
        try w.writeEntry(key: Array("k".utf8), value: .set(members), expireMs: nil)
        try w.finish()
        XCTAssertEqual(try readAll(sink.memory).entries.count, 1)
    }
}

final class PreReleaseFunctionTests: XCTestCase {
    /// Redis 7.0-rc1/rc2 wrote libraries with opcode 246 (name, engine, description flag,
    /// description, code). We read them into the GA (FUNCTION2) form.
    func testPreGAFunctionBecomesAGALibrary() throws {
        func str(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }
        let code = "redis.register_function('f', function(keys, args) return 1 end)"
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: RDBTarget.named("redis-7.0")!)
        try w.writeHeader()
        try sink.write([RDBOpcode.functionPreGA] + str("mylib") + str("LUA") + [1] + str("a description"))
        try w.writeString(Array(code.utf8))
        try w.finish()
        let (_, functions, _) = try readAll(sink.memory)
        XCTAssertEqual(functions, [Array("#!lua name=mylib\n\(code)".utf8)])
    }
}

final class MutationTests: XCTestCase {
    /// Seeded random byte surgery on a real file: every mutant is refused with a FormatError
    /// (the structure or the CRC-64 catches it); none crashes, hangs or allocates wildly.
    func testRandomMutationsAreAlwaysRefusedCleanly() throws {
        let original = try Fixtures.bytes("redis-7.0-all-types.rdb")
        var rng = SeededRNG(seed: 20261124)
        for trial in 0..<1500 {
            var b = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 9..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: b[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                default: b[at] = [0x00, 0xFF, 0x80, 0x81, 0xC3, 0x7F][Int.random(in: 0..<6, using: &rng)]
                }
            }
            if b == original { continue }
            for materialize in [true, false] {
                XCTAssertThrowsError(try readAll(b, materialize: materialize), "trial \(trial)") { e in
                    XCTAssertTrue(e is FormatError, "trial \(trial): \(type(of: e)) \(e)")
                }
            }
        }
    }
}

final class DigestTests: XCTestCase {
    func testSHA1KnownAnswers() {
        func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        XCTAssertEqual(hex(SHA1.hash(Array("abc".utf8))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SHA1.hash([])), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 1_000_000))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// The digest computed from each fixture equals the one the real server reported for the
    /// same data (the .digest file written beside it by make-fixtures.sh).
    func testDatasetDigestEqualsWhatTheServerReported() throws {
        for name in ["redis-7.0-all-types", "redis-7.4-hfe", "valkey-9-all-types"] {
            let bytes = try Fixtures.bytes("\(name).rdb")
            let expected = String(decoding: try Fixtures.bytes("\(name).digest"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let r = RDBReader(source: ByteSource(bytes: bytes))
            var d = RedisDigest.Dataset(fieldTTLMarker: !name.hasPrefix("valkey"))
            while let e = try r.next() {
                if case .entry(let x) = e { try d.add(db: x.db, key: x.key, value: x.value, hasExpire: x.expireMs != nil) }
            }
            XCTAssertEqual(d.hex, expected, name)
        }
        XCTAssertEqual(RedisDigest.Dataset().hex, String(repeating: "0", count: 40))
    }

    func testScoreTextIsPercent17g() {
        XCTAssertEqual(String(decoding: RedisDigest.scoreText(0.1), as: UTF8.self), "0.10000000000000001")
        XCTAssertEqual(String(decoding: RedisDigest.scoreText(1.5), as: UTF8.self), "1.5")
        XCTAssertEqual(String(decoding: RedisDigest.scoreText(.infinity), as: UTF8.self), "inf")
        XCTAssertEqual(String(decoding: RedisDigest.scoreText(1e100), as: UTF8.self), "1e+100")
    }
}
