import StrataFormats
import CStrataIntrinsics

/// A chained hash table keyed by byte strings, with Redis's incremental rehashing (`dict.c`):
/// growing or shrinking allocates the new bucket array and then moves one bucket per operation,
/// so no single command pays for a 10M-key resize. SCAN uses Redis's reverse-binary cursor,
/// which returns every key present for the whole scan at least once, across resizes.
///
/// Entries live in one slab and chain by index (no object per entry, no reference counting
/// while walking a chain); removed slots are reused through a free list.
public final class HashTable<Value> {
    struct Entry {
        var key: [UInt8]
        var hash: UInt64
        var value: Value?
        var next: Int32
        /// Redis's 24-bit `robj->lru`: the LRU clock of the last access, or LFU's minutes and
        /// log counter (fits the padding after `next`).
        var meta: UInt32 = 0
    }

    private var entries: [Entry] = []
    private var freeHead: Int32 = -1
    /// Bucket heads (entry indices, -1 = empty) of the main table and, while rehashing, the new one.
    private var table0: [Int32] = []
    private var table1: [Int32] = []
    private var used0 = 0
    private var used1 = 0
    /// Next bucket of table 0 to move into table 1; -1 when not rehashing.
    private var rehashIndex = -1
    /// Non-zero while a scan or iteration must see a stable layout.
    private var pauseRehashing = 0
    private let hasher: SeededHash

    public init(hasher: SeededHash = SeededHash()) {
        self.hasher = hasher
    }

    public var count: Int { used0 + used1 }
    /// Bytes of slab slots that are free for reuse (counted as free by eviction: new keys fill
    /// them before the slab grows).
    public var reusableBytes: Int { (entries.count - count) * MemoryLayout<Entry>.stride }
    public var isEmpty: Bool { count == 0 }
    public var isRehashing: Bool { rehashIndex >= 0 }
    public var bucketCount: Int { table0.count }

    // MARK: rehashing

    /// Moves up to `n` buckets from the old table to the new one (visiting at most 10·n empty
    /// buckets). Returns true while more remain.
    @discardableResult
    public func rehash(steps n: Int) -> Bool {
        guard rehashIndex >= 0 else { return false }
        var emptyVisits = n * 10
        var left = n
        var index = rehashIndex
        var moved = 0
        let remaining = used0
        let mask1 = UInt64(table1.count - 1)
        // Raw buffers: the loop touches one entry per moved key (a cache miss each, as Redis's
        // dictEntry), and nothing else should cost a check or a uniqueness test.
        entries.withUnsafeMutableBufferPointer { e in
            table0.withUnsafeMutableBufferPointer { t0 in
                table1.withUnsafeMutableBufferPointer { t1 in
                    while left > 0 && moved < remaining {
                        while t0[index] < 0 {
                            index += 1
                            emptyVisits -= 1
                            if emptyVisits == 0 { return }
                        }
                        var i = t0[index]
                        while i >= 0 {
                            let next = e[Int(i)].next
                            let b = Int(e[Int(i)].hash & mask1)
                            e[Int(i)].next = t1[b]
                            t1[b] = i
                            moved += 1
                            i = next
                        }
                        t0[index] = -1
                        index += 1
                        left -= 1
                    }
                    // The next buckets' first entries will be moved by the next operation:
                    // start loading them now, so that operation does not wait on memory.
                    var ahead = index
                    while ahead < t0.count && ahead < index + 4 {
                        if t0[ahead] >= 0 { strata_prefetch_write(e.baseAddress! + Int(t0[ahead])) }
                        ahead += 1
                    }
                }
            }
        }
        rehashIndex = index
        used0 -= moved
        used1 += moved
        if used0 == 0 {
            table0 = table1
            table1 = []
            used0 = used1
            used1 = 0
            rehashIndex = -1
            return false
        }
        return true
    }

    @inline(__always) private func step() {
        if rehashIndex >= 0 && pauseRehashing == 0 { rehash(steps: 1) }
    }

    private func resize(to size: Int) {
        var real = 4
        while real < size { real *= 2 }
        if real == table0.count { return }
        let fresh = [Int32](repeating: -1, count: real)
        if table0.isEmpty { table0 = fresh; return }
        table1 = fresh
        rehashIndex = 0
    }

    private func expandIfNeeded() {
        if rehashIndex >= 0 { return }
        if table0.isEmpty { resize(to: 4); return }
        // Redis grows at a load factor of 1; this table at 1/2: chains stay shorter, so a lookup
        // of an absent key (every SET of a new key) touches half as many entries (a cache miss
        // each), for 4 bytes of bucket per key.
        if used0 * 2 >= table0.count { resize(to: (used0 + 1) * 2) }
    }

    /// Makes room for `n` entries up front (an RDB's RESIZEDB hint, as Redis's dictExpand):
    /// loading then never rehashes.
    public func reserve(_ n: Int) {
        guard n > 0, rehashIndex < 0 else { return }
        entries.reserveCapacity(n)
        if table0.count < n * 2 { resize(to: n * 2) }
    }

    /// Shrinks a table that fell below 10% full (Redis's `htNeedsResize`), called from the cron.
    public func shrinkIfNeeded() {
        compactIfSparse()
        guard rehashIndex < 0, table0.count > 4, used0 * 100 / table0.count < 10 else { return }
        resize(to: max(used0 * 2, 4))   // (at the load factor growth keeps, so no regrowth follows)
    }

    /// Gives back the slab's free slots once most of it is free (after mass deletes or
    /// eviction): live entries are moved to a fresh slab and the chains rebuilt over the same
    /// buckets, so a SCAN in progress still sees every key. Only between rehashes and walks.
    public func compactIfSparse() {
        guard rehashIndex < 0, pauseRehashing == 0, entries.count > 256, count * 4 < entries.count else { return }
        var fresh = [Entry]()
        fresh.reserveCapacity(count)
        let mask = UInt64(table0.count - 1)
        var heads = [Int32](repeating: -1, count: table0.count)
        for e in entries where e.value != nil {
            var moved = e
            let b = Int(e.hash & mask)
            moved.next = heads[b]
            heads[b] = Int32(fresh.count)
            fresh.append(moved)
        }
        entries = fresh
        table0 = heads
        freeHead = -1
    }

    // MARK: lookup

    /// Index of the entry holding `key`, or -1.
    @inline(__always)
    private func find(_ key: [UInt8], _ h: UInt64) -> Int32 {
        if used0 + used1 == 0 { return -1 }
        return entries.withUnsafeBufferPointer { e -> Int32 in
            // Buckets of the old table below the rehash index are already moved (empty):
            // skip reading them (one cache miss fewer for half the keys while rehashing).
            let b0 = table0.isEmpty ? -1 : Int(h & UInt64(table0.count - 1))
            var i = b0 < 0 || b0 < rehashIndex ? -1 : table0[b0]
            while i >= 0 {
                if e[Int(i)].hash == h && e[Int(i)].key == key { return i }
                i = e[Int(i)].next
            }
            if rehashIndex >= 0 {
                i = table1[Int(h & UInt64(table1.count - 1))]
                while i >= 0 {
                    if e[Int(i)].hash == h && e[Int(i)].key == key { return i }
                    i = e[Int(i)].next
                }
            }
            return -1
        }
    }

    /// Starts fetching the bucket `key` falls in, for a `set` of it a little later (the RDB
    /// loader asks one key ahead: the bucket's cache miss overlaps decoding the next record).
    public func prefetch(_ key: [UInt8]) {
        let h = hasher.hash(key)
        let t = rehashIndex >= 0 ? table1 : table0
        guard !t.isEmpty else { return }
        t.withUnsafeBufferPointer { strata_prefetch_write($0.baseAddress! + Int(h & UInt64(t.count - 1))) }
    }

    public subscript(key: [UInt8]) -> Value? {
        step()
        let i = find(key, hasher.hash(key))
        return i >= 0 ? entries[Int(i)].value : nil
    }

    public func contains(_ key: [UInt8]) -> Bool { step(); return find(key, hasher.hash(key)) >= 0 }

    /// The value, with its access metadata updated by `touch` (an LRU/LFU access).
    @inline(__always)
    func lookup(_ key: [UInt8], touch: (inout UInt32) -> Void) -> Value? {
        step()
        let i = find(key, hasher.hash(key))
        guard i >= 0 else { return nil }
        touch(&entries[Int(i)].meta)
        return entries[Int(i)].value
    }

    /// Runs `body` on a present key's value where it lies (one probe, and the value is not
    /// copied out, so storage it alone references can be rewritten in place), after `touch`.
    /// Nil when the key is absent.
    @inline(__always)
    func modify<R>(_ key: [UInt8], touch: (inout UInt32) -> Void, _ body: (inout Value) throws -> R) rethrows -> R? {
        step()
        let i = find(key, hasher.hash(key))
        guard i >= 0 else { return nil }
        touch(&entries[Int(i)].meta)
        return try body(&entries[Int(i)].value!)
    }

    /// The access metadata of a key (nil when absent).
    func meta(_ key: [UInt8]) -> UInt32? {
        let i = find(key, hasher.hash(key))
        return i >= 0 ? entries[Int(i)].meta : nil
    }

    /// Inserts or replaces; returns true when the key is new. `meta` is the new entry's
    /// metadata; a replaced entry keeps its own unless `replaceMeta` says otherwise.
    @discardableResult
    public func set(_ key: __owned [UInt8], _ value: __owned Value, meta: UInt32 = 0, replaceMeta: Bool = false) -> Bool {
        step()
        let h = hasher.hash(key)
        let found = find(key, h)
        if found >= 0 {
            entries[Int(found)].value = value
            if replaceMeta { entries[Int(found)].meta = meta }
            return false
        }
        expandIfNeeded()
        let slot: Int32
        if freeHead >= 0 {
            slot = freeHead
            freeHead = entries[Int(slot)].next
            entries[Int(slot)] = Entry(key: key, hash: h, value: value, next: -1, meta: meta)
        } else {
            slot = Int32(entries.count)
            entries.append(Entry(key: key, hash: h, value: value, next: -1, meta: meta))
        }
        if rehashIndex >= 0 {
            let b = Int(h & UInt64(table1.count - 1))
            entries[Int(slot)].next = table1[b]
            table1[b] = slot
            used1 += 1
        } else {
            let b = Int(h & UInt64(table0.count - 1))
            entries[Int(slot)].next = table0[b]
            table0[b] = slot
            used0 += 1
        }
        return true
    }

    /// Updates a value in place when present; returns false when the key is absent.
    @discardableResult
    public func update(_ key: [UInt8], _ body: (inout Value) -> Void) -> Bool {
        step()
        let i = find(key, hasher.hash(key))
        guard i >= 0 else { return false }
        body(&entries[Int(i)].value!)
        return true
    }

    @discardableResult
    public func remove(_ key: [UInt8]) -> Value? {
        step()
        if count == 0 { return nil }
        let h = hasher.hash(key)
        for t in 0...1 {
            if t == 1 && rehashIndex < 0 { break }
            let size = t == 0 ? table0.count : table1.count
            if size == 0 { continue }
            let b = Int(h & UInt64(size - 1))
            var prev: Int32 = -1
            var i = t == 0 ? table0[b] : table1[b]
            while i >= 0 {
                if entries[Int(i)].hash == h && entries[Int(i)].key == key {
                    let next = entries[Int(i)].next
                    if prev >= 0 { entries[Int(prev)].next = next } else if t == 0 { table0[b] = next } else { table1[b] = next }
                    let v = entries[Int(i)].value
                    entries[Int(i)] = Entry(key: [], hash: 0, value: nil, next: freeHead)
                    freeHead = i
                    if t == 0 { used0 -= 1 } else { used1 -= 1 }
                    if count == 0 { entries.removeAll(keepingCapacity: entries.count <= 256); freeHead = -1 }
                    return v
                }
                prev = i
                i = entries[Int(i)].next
            }
        }
        return nil
    }

    public func removeAll() {
        entries = []
        freeHead = -1
        table0 = []
        table1 = []
        used0 = 0
        used1 = 0
        rehashIndex = -1
    }

    private func forEachIndex(in table: [Int32], _ body: (Int) throws -> Void) rethrows {
        for head in table {
            var i = head
            while i >= 0 { let next = entries[Int(i)].next; try body(Int(i)); i = next }
        }
    }

    /// Every entry, in table order (no rehashing happens meanwhile).
    public func forEach(_ body: ([UInt8], Value) throws -> Void) rethrows {
        pauseRehashing += 1
        defer { pauseRehashing -= 1 }
        try forEachIndex(in: table0) { try body(entries[$0].key, entries[$0].value!) }
        if rehashIndex >= 0 { try forEachIndex(in: table1) { try body(entries[$0].key, entries[$0].value!) } }
    }

    /// Every entry (key, value, access metadata) in the order they sit in memory (not table
    /// order): sequential reads, for walks that visit everything and do not care about order
    /// (writing an RDB).
    public func forEachInStorageOrder(_ body: ([UInt8], Value, UInt32) throws -> Void) rethrows {
        pauseRehashing += 1
        defer { pauseRehashing -= 1 }
        try entries.withUnsafeBufferPointer { e in
            for i in e.indices { if let v = e[i].value { try body(e[i].key, v, e[i].meta) } }
        }
    }

    public var keys: [[UInt8]] {
        var out = [[UInt8]]()
        out.reserveCapacity(count)
        forEach { k, _ in out.append(k) }
        return out
    }

    /// A key chosen at random (a random non-empty bucket, then a random chain element), as
    /// Redis's `dictGetRandomKey` does.
    public func randomKey<G: RandomNumberGenerator>(using g: inout G) -> [UInt8]? {
        if count == 0 { return nil }
        while true {
            let total = table0.count + (rehashIndex >= 0 ? table1.count : 0)
            let r = Int.random(in: 0..<total, using: &g)
            var i = r < table0.count ? table0[r] : table1[r - table0.count]
            if i < 0 { continue }
            var chain = [Int32]()
            while i >= 0 { chain.append(i); i = entries[Int(i)].next }
            return entries[Int(chain[Int.random(in: 0..<chain.count, using: &g)])].key
        }
    }

    // MARK: SCAN

    /// One SCAN step from `cursor`: calls `body` for the entries of the bucket(s) the cursor
    /// names and returns the next cursor (0 when the scan is complete). Redis's algorithm: the
    /// cursor is incremented in bit-reversed order, so buckets already visited stay visited
    /// when the table doubles or halves.
    public func scan(cursor: UInt64, _ body: ([UInt8], Value) -> Void) -> UInt64 {
        if count == 0 { return 0 }
        pauseRehashing += 1
        defer { pauseRehashing -= 1 }
        var v = cursor
        func emit(_ table: [Int32], _ b: Int) {
            var i = table[b]
            while i >= 0 { body(entries[Int(i)].key, entries[Int(i)].value!); i = entries[Int(i)].next }
        }
        if rehashIndex < 0 {
            let m0 = UInt64(table0.count - 1)
            emit(table0, Int(v & m0))
            v |= ~m0
            v = (v.bitSwapped &+ 1).bitSwapped
        } else {
            let (small, big) = table0.count <= table1.count ? (table0, table1) : (table1, table0)
            let m0 = UInt64(small.count - 1)
            let m1 = UInt64(big.count - 1)
            emit(small, Int(v & m0))
            // Every bucket of the larger table that expands the smaller table's bucket.
            repeat {
                emit(big, Int(v & m1))
                v |= ~m1
                v = (v.bitSwapped &+ 1).bitSwapped
            } while v & (m0 ^ m1) != 0
        }
        return v
    }
}

extension UInt64 {
    /// The bits in reverse order (bit 0 becomes bit 63).
    var bitSwapped: UInt64 {
        var v = self
        v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return v.byteSwapped
    }
}
