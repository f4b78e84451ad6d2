/// A fast keyed 64-bit hash of byte strings (wyhash-style: 8 bytes per 64×64→128 multiply).
/// The seed is random per process, so inputs cannot be chosen to collide on purpose.
public struct SeededHash: Sendable {
    public let seed: UInt64
    public let seed2: UInt64

    public init() {
        var g = SystemRandomNumberGenerator()
        seed = g.next()
        seed2 = g.next() | 1
    }

    public init(seed: UInt64, seed2: UInt64) {
        self.seed = seed
        self.seed2 = seed2 | 1
    }

    @inline(__always)
    static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inline(__always)
    public func hash(_ p: UnsafeRawBufferPointer) -> UInt64 {
        let n = p.count
        var h = seed ^ (UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= n {
            h = SeededHash.mum(h ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)), 0xA076_1D64_78BD_642F ^ seed2)
            i += 8
        }
        var t: UInt64 = UInt64(n - i) << 56
        while i < n { t = (t << 8) | UInt64(p[i]); i += 1 }
        h = SeededHash.mum(h ^ t, 0xE703_7ED1_A0B4_28DB ^ seed2)
        return SeededHash.mum(h, 0x8EBC_6AF0_9C88_C6E3 ^ seed)
    }

    @inline(__always)
    public func hash(_ b: [UInt8]) -> UInt64 { b.withUnsafeBytes { hash($0) } }
}
