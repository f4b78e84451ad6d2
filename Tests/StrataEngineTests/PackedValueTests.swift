import XCTest
import StrataTestSupport
@testable import StrataEngine

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
