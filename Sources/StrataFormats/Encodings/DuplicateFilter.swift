/// Detects repeated members/fields within one collection while it is read, without keeping
/// the members: a seeded 64-bit hash of each one is remembered. Small collections (the common
/// case) use a linear scan of a short array; larger ones a Set.
///
/// The seed is random per process, so a file cannot be built to make two distinct members
/// collide; for random inputs a false "duplicate" has probability about n²/2^65.
struct DuplicateFilter {
    private var small: [UInt64] = []
    private var large = Set<UInt64>()
    private var usingLarge = false
    private let seed: UInt64
    private let seed2: UInt64

    init() {
        var g = SystemRandomNumberGenerator()
        seed = g.next()
        seed2 = g.next() | 1
        small.reserveCapacity(40)
    }

    mutating func reset() {
        small.removeAll(keepingCapacity: true)
        if usingLarge { large.removeAll(keepingCapacity: true); usingLarge = false }
    }

    /// False when `bytes` was already seen since the last reset.
    @inline(__always)
    mutating func insert(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let h = hash(bytes)
        if !usingLarge {
            for x in small where x == h { return false }
            small.append(h)
            if small.count > 32 {
                large.formUnion(small)
                usingLarge = true
            }
            return true
        }
        return large.insert(h).inserted
    }

    @inline(__always)
    private func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    /// A wyhash-style keyed hash: 8 bytes per step through a 64×64→128 multiply.
    @inline(__always)
    private func hash(_ p: UnsafeRawBufferPointer) -> UInt64 {
        let n = p.count
        var h = seed ^ (UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= n {
            h = mum(h ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)), 0xA076_1D64_78BD_642F ^ seed2)
            i += 8
        }
        var t: UInt64 = UInt64(n - i) << 56
        while i < n { t = (t << 8) | UInt64(p[i]); i += 1 }
        h = mum(h ^ t, 0xE703_7ED1_A0B4_28DB ^ seed2)
        return mum(h, 0x8EBC_6AF0_9C88_C6E3 ^ seed)
    }
}
