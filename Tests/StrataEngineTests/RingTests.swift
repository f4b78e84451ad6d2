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
