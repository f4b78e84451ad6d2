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
    private let hasher = SeededHash()

    init() {
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
    private func hash(_ p: UnsafeRawBufferPointer) -> UInt64 { hasher.hash(p) }
}
