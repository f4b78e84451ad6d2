import XCTest
import StrataTestSupport
@testable import StrataFormats


final class CodecTests: XCTestCase {
    func testCRC64MatchesRedisCheckValue() {
        XCTAssertEqual(CRC64.checksum(Array("123456789".utf8)), 0xE9C6_D914_C4B8_D9CA)
        XCTAssertEqual(CRC64.checksum([]), 0)
    }

    func testCRC64SlicingEqualsBytewiseAtEveryLengthAndSplit() {
        var rng = SeededRNG(seed: 1)
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Reference: the plain one-byte-at-a-time reflected CRC.
        func reference(_ b: ArraySlice<UInt8>) -> UInt64 {
            var crc: UInt64 = 0
            for x in b {
                crc ^= UInt64(x)
                for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x95AC_9329_AC4B_C9B5 : crc >> 1 }
            }
            return crc
        }
        for n in 0...data.count where n % 7 == 0 || n < 20 {
            XCTAssertEqual(CRC64.checksum(Array(data[0..<n])), reference(data[0..<n]), "length \(n)")
        }
        for split in 0...data.count {
            var c = CRC64()
            c.update(Array(data[0..<split]))
            c.update(Array(data[split...]))
            XCTAssertEqual(c.value, reference(data[...]), "split \(split)")
        }
    }

    func testLZFDecodesRedisSampleAndRoundTrips() throws {
        // 100 × "a" as Redis 7.0 stores it (reference rdb-format.md §1.5).
        let sample: [UInt8] = [0x01, 0x61, 0x61, 0xE0, 0x57, 0x00, 0x01, 0x61, 0x61]
        let out = try sample.withUnsafeBytes { try LZF.decompress($0, outputLength: 100) }
        XCTAssertEqual(out, [UInt8](repeating: 0x61, count: 100))
        var rng = SeededRNG(seed: 2)
        for trial in 0..<200 {
            let n = Int.random(in: 1...5000, using: &rng)
            let alphabet = UInt8.random(in: 1...255, using: &rng)
            var input = (0..<n).map { _ in UInt8.random(in: 0...alphabet, using: &rng) }
            if trial % 2 == 1 {
                // Text-like: repeats at every distance, short and long, overlapping or not.
                var i = 16
                while i < n {
                    let len = Int.random(in: 3...300, using: &rng), back = Int.random(in: 1...min(i, 9000), using: &rng)
                    for k in 0..<min(len, n - i) { input[i + k] = input[i + k - back] }
                    i += len + Int.random(in: 0...20, using: &rng)
                }
            }
            guard let c = input.withUnsafeBytes({ LZF.compress($0, maxOutput: n + 64) }) else { continue }
            let back = try c.withUnsafeBytes { try LZF.decompress($0, outputLength: n) }
            XCTAssertEqual(back, input, "trial \(trial)")
        }
    }

    func testLZFLyingLengthsAreRejectedNotObeyed() {
        let sample: [UInt8] = [0x01, 0x61, 0x61, 0xE0, 0x57, 0x00, 0x01, 0x61, 0x61]
        XCTAssertThrowsError(try sample.withUnsafeBytes { try LZF.decompress($0, outputLength: 99) })
        XCTAssertThrowsError(try sample.withUnsafeBytes { try LZF.decompress($0, outputLength: 101) })
        // A back reference before the start of the output.
        XCTAssertThrowsError(try [UInt8]([0x20, 0x05]).withUnsafeBytes { try LZF.decompress($0, outputLength: 3) })
        // A literal run longer than the input.
        XCTAssertThrowsError(try [UInt8]([0x1F, 0x61]).withUnsafeBytes { try LZF.decompress($0, outputLength: 32) })
    }

    func testListpackRoundTripsAtEveryEncodingBoundary() throws {
        var b = Listpack.Builder()
        let ints: [Int64] = [0, 127, 128, -1, -4096, 4095, 4096, -4097, 32767, -32768, 32768, 8388607, -8388608, 8388608,
                             Int64(Int32.max), Int64(Int32.min), Int64(Int32.max) + 1, .max, .min]
        for v in ints { b.append(Decimal.bytes(v)) }
        let strings: [[UInt8]] = [[], Array("a".utf8), [UInt8](repeating: 0x41, count: 63), [UInt8](repeating: 0x42, count: 64),
                                   [UInt8](repeating: 0x43, count: 4095), [UInt8](repeating: 0x44, count: 4096),
                                   Array("007".utf8), Array("-0".utf8), Array("+1".utf8), Array("99999999999999999999".utf8)]
        for s in strings { b.append(s) }
        let blob = b.finish()
        var got = [[UInt8]]()
        var intCount = 0
        try blob.withUnsafeBytes { try Listpack.forEach($0) { e in if case .int = e { intCount += 1 }; got.append(e.materialized) } }
        XCTAssertEqual(got, ints.map { Decimal.bytes($0) } + strings)
        XCTAssertEqual(intCount, ints.count, "canonical integers are stored as integers, others as strings")
    }

    func testListpackByteSurgeryNeverCrashes() {
        var b = Listpack.Builder()
        for i in 0..<20 { b.append(Decimal.bytes(Int64(i * 1000 - 7000))); b.append(Array("value-\(i)".utf8)) }
        let blob = b.finish()
        for i in 0..<blob.count {
            for v: UInt8 in [0x00, 0xFF, 0x7F, 0xF0, blob[i] ^ 0x01] {
                var bad = blob
                bad[i] = v
                _ = try? bad.withUnsafeBytes { try Listpack.forEach($0) { _ in } }
            }
            // Every truncation is detected (the header gives the size).
            XCTAssertThrowsError(try Array(blob[0..<i]).withUnsafeBytes { try Listpack.forEach($0) { _ in } })
        }
    }

    func testZiplistRoundTripAndTruncation() throws {
        var b = Ziplist.Builder()
        let items: [[UInt8]] = (0..<300).map { i in i % 3 == 0 ? Decimal.bytes(Int64(i) * 99_991 - 5) : Array(String(repeating: "x", count: i).utf8) }
        for s in items { b.append(s) }
        let blob = b.finish()
        var got = [[UInt8]]()
        try blob.withUnsafeBytes { try Ziplist.forEach($0) { got.append($0.materialized) } }
        XCTAssertEqual(got, items)
        for i in stride(from: 0, to: blob.count, by: 97) {
            XCTAssertThrowsError(try Array(blob[0..<i]).withUnsafeBytes { try Ziplist.forEach($0) { _ in } })
        }
    }

    func testIntsetValidatesOrderAndSize() throws {
        let blob = Intset.encode([-5, 1, 70000])
        var got = [Int64]()
        try blob.withUnsafeBytes { try Intset.forEach($0) { got.append($0) } }
        XCTAssertEqual(got, [-5, 1, 70000])
        var unsorted = Intset.encode([1, 2])
        unsorted.swapAt(8, 10)
        XCTAssertThrowsError(try unsorted.withUnsafeBytes { try Intset.forEach($0) { _ in } })
        XCTAssertThrowsError(try Array(blob.dropLast()).withUnsafeBytes { try Intset.forEach($0) { _ in } })
    }

    func testGlobFollowsRedisRules() {
        func m(_ p: String, _ s: String) -> Bool { Glob.matches(Array(p.utf8), Array(s.utf8)) }
        XCTAssertTrue(m("user:*", "user:1"))
        XCTAssertFalse(m("user:*", "users"))
        XCTAssertTrue(m("h?llo", "hello"))
        XCTAssertTrue(m("h[ae]llo", "hallo"))
        XCTAssertFalse(m("h[^e]llo", "hello"))
        XCTAssertTrue(m("h[a-c]llo", "hbllo"))
        XCTAssertTrue(m("a\\*b", "a*b"))
        XCTAssertFalse(m("a\\*b", "axb"))
        XCTAssertFalse(m("*a*a*a*a*a*a*a*a*a*a*a*a*b", String(repeating: "a", count: 60)))
    }

    func testDecimalCanonicalParsingMatchesString2ll() {
        XCTAssertEqual(Decimal.parseCanonical(Array("-9223372036854775808".utf8)), .min)
        XCTAssertEqual(Decimal.parseCanonical(Array("9223372036854775807".utf8)), .max)
        XCTAssertNil(Decimal.parseCanonical(Array("9223372036854775808".utf8)))
        XCTAssertNil(Decimal.parseCanonical(Array("01".utf8)))
        XCTAssertNil(Decimal.parseCanonical(Array("-0".utf8)))
        XCTAssertNil(Decimal.parseCanonical(Array(" 1".utf8)))
        XCTAssertEqual(Decimal.parseCanonical(Array("0".utf8)), 0)
    }
}
