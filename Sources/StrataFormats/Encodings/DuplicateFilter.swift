/// Detects repeated members/fields within one collection while it is read, without keeping
/// the members: a seeded 64-bit hash of each one is remembered. Small collections (the common
/// case) use a linear scan of a short array; larger ones an open-addressing table of the hashes
/// themselves (they are already uniformly spread: no second hash function).
///
/// The seed is random per process, so a file cannot be built to make two distinct members
/// collide; for random inputs a false "duplicate" has probability about n²/2^65.
struct DuplicateFilter {
    private var small: [UInt64] = []
    /// Slots of the large table; 0 marks an empty one (a hash of 0 is stored as 1).
    private var slots: [UInt64] = []
    private var used = 0
    private var usingLarge = false
    private let hasher = SeededHash()

    init() {
        small.reserveCapacity(40)
    }

    mutating func reset() {
        small.removeAll(keepingCapacity: true)
        if usingLarge {
            // Clearing costs the table's size: a table a huge collection grew is dropped instead.
            if slots.count > 1 << 12 { slots = [] } else { for i in slots.indices { slots[i] = 0 } }
            used = 0
            usingLarge = false
        }
    }

    /// As `reset`, for a collection that says it holds `n` members: a large one starts in a
    /// table sized for them (no scan of the short array first, no growing on the way).
    mutating func reset(expecting n: Int) {
        reset()
        guard n > 32 else { return }
        var size = 128
        while size < n * 2 { size <<= 1 }
        // `reset` has cleared the table (or dropped one over 4096 slots); a larger one serves.
        if slots.count < size { slots = [UInt64](repeating: 0, count: size) }
        usingLarge = true
    }

    /// False when `bytes` was already seen since the last reset.
    @inline(__always)
    mutating func insert(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let h = hash(bytes)
        if !usingLarge {
            for x in small where x == h { return false }
            small.append(h)
            if small.count > 32 {
                usingLarge = true
                if slots.isEmpty { slots = [UInt64](repeating: 0, count: 128) }
                for x in small { _ = insertLarge(x) }
            }
            return true
        }
        return insertLarge(h)
    }

    private mutating func insertLarge(_ hash: UInt64) -> Bool {
        if (used + 1) * 2 > slots.count { grow() }
        let h = hash == 0 ? 1 : hash
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s == 0 { slots[i] = h; used += 1; return true }
            if s == h { return false }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        used = 0
        for h in old where h != 0 { _ = insertLarge(h) }
    }

    @inline(__always)
    private func hash(_ p: UnsafeRawBufferPointer) -> UInt64 { hasher.hash(p) }
}
