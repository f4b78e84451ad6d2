import XCTest
@testable import StrataEngine

/// The list's ring buffer against an array model: pushes and pops at both ends, indexing and
/// rebuilding, through many growths and wrap-arounds (growth moves elements; a double release
/// or a lost element would show here as a crash or a mismatch).
final class RingTests: XCTestCase {
    func testRandomOperationsMatchAnArray() {
        var g = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &g)
        var rng = SplitMix(seed)
        var ring = Ring<[UInt8]>()
        var model: [[UInt8]] = []
        for step in 0..<200_000 {
            let v = [UInt8](String(step).utf8)
            switch rng.next() % 10 {
            case 0, 1, 2: ring.append(v); model.append(v)
            case 3, 4, 5: ring.prepend(v); model.insert(v, at: 0)
            case 6: XCTAssertEqual(ring.popFirst(), model.isEmpty ? nil : model.removeFirst(), "seed \(seed) step \(step)")
            case 7: XCTAssertEqual(ring.popLast(), model.popLast(), "seed \(seed) step \(step)")
            case 8:
                if !model.isEmpty {
                    let i = Int(rng.next() % UInt64(model.count))
                    XCTAssertEqual(ring[i], model[i], "seed \(seed) step \(step)")
                    ring[i] = v; model[i] = v
                }
            default:
                if rng.next() % 500 == 0 {
                    model = Array(model.prefix(model.count / 2))
                    ring.replaceAll(with: model)
                }
            }
            XCTAssertEqual(ring.count, model.count)
            if step % 20_000 == 0 { XCTAssertEqual(ring.elements, model, "seed \(seed) step \(step)") }
        }
        XCTAssertEqual(ring.elements, model, "seed \(seed)")
        // Empty the ring from both ends: every element comes out once.
        while let x = ring.popLast() { XCTAssertEqual(x, model.removeLast()) }
        XCTAssertTrue(model.isEmpty)
    }

    /// A queue (push at one end, pop at the other) and a rotation (pop one end, push the
    /// other) over thousands of elements: they cross chunk boundaries both ways, stay in
    /// order, and a queue that moves through the ring holds only the chunks its elements need.
    func testQueueAndRotationAcrossChunks() {
        let n = 5_000
        var ring = Ring<[UInt8]>()
        for i in 0..<n { ring.append([UInt8](String(i).utf8)) }
        XCTAssertEqual(ring.chunksHeld, (n + 1023) / 1024)
        for i in n..<(n + 100_000) {
            XCTAssertEqual(ring.popFirst(), [UInt8](String(i - n).utf8))
            ring.append([UInt8](String(i).utf8))
        }
        XCTAssertLessThanOrEqual(ring.chunksHeld, (n + 1023) / 1024 + 1)
        XCTAssertEqual(ring.elements, (100_000..<(n + 100_000)).map { [UInt8](String($0).utf8) })
        // Rotate right by popping the tail onto the head; then left the other way.
        for _ in 0..<7_777 { ring.prepend(ring.popLast()!) }
        for _ in 0..<7_777 { ring.append(ring.popFirst()!) }
        XCTAssertEqual(ring.elements, (100_000..<(n + 100_000)).map { [UInt8](String($0).utf8) })
        // Drained from the front, it holds nothing; it fills again as a fresh ring.
        while ring.popFirst() != nil {}
        XCTAssertEqual(ring.chunksHeld, 0)
        XCTAssertTrue(ring.isEmpty)
        for i in 0..<3_000 { ring.prepend([UInt8(i & 0xff)]) }
        XCTAssertEqual(ring.count, 3_000)
        XCTAssertEqual(ring[2_999], [0])
        XCTAssertEqual(ring[0], [UInt8(2_999 & 0xff)])
        // A copy is a value: changing it leaves the original as it was.
        var copy = ring
        copy[5] = [42]
        _ = copy.popFirst()
        copy.append([7])
        XCTAssertEqual(ring.count, 3_000)
        XCTAssertEqual(ring[5], [UInt8((2_999 - 5) & 0xff)])
        XCTAssertEqual(copy[4], [42])
    }

    private struct SplitMix {
        var state: UInt64
        init(_ seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
