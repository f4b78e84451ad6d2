import StrataFormats

/// A chained hash table keyed by byte strings, with Redis's incremental rehashing (`dict.c`):
/// growing or shrinking allocates the new table and then moves one bucket per operation, so no
/// single command pays for a 10M-key resize. SCAN uses Redis's reverse-binary cursor, which
/// returns every key present for the whole scan at least once, across resizes.
public final class HashTable<Value> {
    final class Node {
        let key: [UInt8]
        let hash: UInt64
        var value: Value
        var next: Node?
        init(key: [UInt8], hash: UInt64, value: Value, next: Node?) {
            self.key = key; self.hash = hash; self.value = value; self.next = next
        }
    }

    private var tables: [[Node?]] = [[], []]
    private var used = [0, 0]
    /// Next bucket of table 0 to move into table 1; -1 when not rehashing.
    private var rehashIndex = -1
    /// Non-zero while a scan or iteration must see a stable layout.
    private var pauseRehashing = 0
    private let hasher: SeededHash

    public init(hasher: SeededHash = SeededHash()) {
        self.hasher = hasher
    }

    public var count: Int { used[0] + used[1] }
    public var isEmpty: Bool { count == 0 }
    public var isRehashing: Bool { rehashIndex >= 0 }
    /// Buckets in the main table (tests and INFO).
    public var bucketCount: Int { tables[0].count }

    // MARK: rehashing

    /// Moves up to `n` buckets from the old table to the new one (visiting at most 10·n
    /// empty buckets). Returns true while more remain.
    @discardableResult
    public func rehash(steps n: Int) -> Bool {
        guard rehashIndex >= 0 else { return false }
        var emptyVisits = n * 10
        var left = n
        while left > 0 && used[0] != 0 {
            while tables[0][rehashIndex] == nil {
                rehashIndex += 1
                emptyVisits -= 1
                if emptyVisits == 0 { return true }
            }
            var node = tables[0][rehashIndex]
            let mask = UInt64(tables[1].count - 1)
            while let x = node {
                node = x.next
                let idx = Int(x.hash & mask)
                x.next = tables[1][idx]
                tables[1][idx] = x
                used[0] -= 1
                used[1] += 1
            }
            tables[0][rehashIndex] = nil
            rehashIndex += 1
            left -= 1
        }
        if used[0] == 0 {
            tables[0] = tables[1]
            tables[1] = []
            used[0] = used[1]
            used[1] = 0
            rehashIndex = -1
            return false
        }
        return true
    }

    /// Rehashes for up to `milliseconds` (what the server cron does with spare time).
    public func rehash(forMilliseconds ms: Int, now: () -> Int64) -> Int {
        let start = now()
        var moved = 0
        while rehash(steps: 100) {
            moved += 100
            if now() - start > Int64(ms) { break }
        }
        return moved
    }

    @inline(__always) private func step() {
        if pauseRehashing == 0 && rehashIndex >= 0 { rehash(steps: 1) }
    }

    private func resize(to size: Int) {
        var real = 4
        while real < size { real *= 2 }
        if real == tables[0].count { return }
        let fresh = [Node?](repeating: nil, count: real)
        if tables[0].isEmpty {
            tables[0] = fresh
            return
        }
        tables[1] = fresh
        rehashIndex = 0
    }

    private func expandIfNeeded() {
        if rehashIndex >= 0 { return }
        if tables[0].isEmpty { resize(to: 4); return }
        // Redis grows at a load factor of 1 (5 while a child process is saving).
        if used[0] >= tables[0].count { resize(to: used[0] + 1) }
    }

    /// Shrinks a table that fell below 10% full (Redis's `htNeedsResize`), called from the cron.
    public func shrinkIfNeeded() {
        guard rehashIndex < 0, tables[0].count > 4, used[0] * 100 / tables[0].count < 10 else { return }
        resize(to: max(used[0], 4))
    }

    // MARK: lookup

    private func findNode(_ key: [UInt8], _ h: UInt64) -> Node? {
        if count == 0 { return nil }
        for t in 0...1 {
            let table = tables[t]
            if table.isEmpty { continue }
            var node = table[Int(h & UInt64(table.count - 1))]
            while let x = node {
                if x.hash == h && x.key == key { return x }
                node = x.next
            }
            if rehashIndex < 0 { break }
        }
        return nil
    }

    public subscript(key: [UInt8]) -> Value? {
        get {
            step()
            return findNode(key, hasher.hash(key))?.value
        }
    }

    public func contains(_ key: [UInt8]) -> Bool { self[key] != nil }

    /// Inserts or replaces; returns true when the key is new.
    @discardableResult
    public func set(_ key: [UInt8], _ value: Value) -> Bool {
        step()
        let h = hasher.hash(key)
        if let n = findNode(key, h) { n.value = value; return false }
        expandIfNeeded()
        let t = rehashIndex >= 0 ? 1 : 0
        let idx = Int(h & UInt64(tables[t].count - 1))
        tables[t][idx] = Node(key: key, hash: h, value: value, next: tables[t][idx])
        used[t] += 1
        return true
    }

    /// Updates a value in place when present; returns false when the key is absent.
    @discardableResult
    public func update(_ key: [UInt8], _ body: (inout Value) -> Void) -> Bool {
        step()
        guard let n = findNode(key, hasher.hash(key)) else { return false }
        body(&n.value)
        return true
    }

    @discardableResult
    public func remove(_ key: [UInt8]) -> Value? {
        step()
        if count == 0 { return nil }
        let h = hasher.hash(key)
        for t in 0...1 {
            if tables[t].isEmpty { continue }
            let idx = Int(h & UInt64(tables[t].count - 1))
            var prev: Node?
            var node = tables[t][idx]
            while let x = node {
                if x.hash == h && x.key == key {
                    if let prev { prev.next = x.next } else { tables[t][idx] = x.next }
                    used[t] -= 1
                    return x.value
                }
                prev = x
                node = x.next
            }
            if rehashIndex < 0 { break }
        }
        return nil
    }

    public func removeAll() {
        tables = [[], []]
        used = [0, 0]
        rehashIndex = -1
    }

    /// Every entry, in table order (no rehashing happens meanwhile).
    public func forEach(_ body: ([UInt8], Value) throws -> Void) rethrows {
        pauseRehashing += 1
        defer { pauseRehashing -= 1 }
        for t in 0...1 {
            for var node in tables[t] {
                while let x = node { try body(x.key, x.value); node = x.next }
            }
        }
    }

    public var keys: [[UInt8]] {
        var out = [[UInt8]]()
        out.reserveCapacity(count)
        forEach { k, _ in out.append(k) }
        return out
    }

    /// A key chosen at random (a random non-empty bucket, then a random chain element), as
    /// Redis's `dictGetFairRandomKey` approximates.
    public func randomKey<G: RandomNumberGenerator>(using g: inout G) -> [UInt8]? {
        if count == 0 { return nil }
        while true {
            let t: Int
            let idx: Int
            if rehashIndex >= 0 {
                let total = tables[0].count + tables[1].count
                let r = Int.random(in: 0..<total, using: &g)
                if r < tables[0].count { t = 0; idx = r } else { t = 1; idx = r - tables[0].count }
            } else {
                t = 0; idx = Int.random(in: 0..<tables[0].count, using: &g)
            }
            guard var node = tables[t][idx] else { continue }
            var chain = [Node]()
            while true { chain.append(node); guard let n = node.next else { break }; node = n }
            return chain[Int.random(in: 0..<chain.count, using: &g)].key
        }
    }

    // MARK: SCAN

    @inline(__always) private static func reverse(_ v: UInt64) -> UInt64 { v.bitSwapped }

    /// One SCAN step from `cursor`: calls `body` for the entries of the bucket(s) the cursor
    /// names and returns the next cursor (0 when the scan is complete). Redis's algorithm: the
    /// cursor is incremented in bit-reversed order, so buckets already visited stay visited
    /// when the table doubles or halves.
    public func scan(cursor: UInt64, _ body: ([UInt8], Value) -> Void) -> UInt64 {
        if count == 0 { return 0 }
        pauseRehashing += 1
        defer { pauseRehashing -= 1 }
        var v = cursor
        func emit(_ t: Int, _ idx: Int) {
            var node = tables[t][idx]
            while let x = node { body(x.key, x.value); node = x.next }
        }
        if rehashIndex < 0 {
            let m0 = UInt64(tables[0].count - 1)
            emit(0, Int(v & m0))
            v |= ~m0
            v = HashTable.reverse(HashTable.reverse(v) &+ 1)
        } else {
            var small = 0, big = 1
            if tables[0].count > tables[1].count { small = 1; big = 0 }
            let m0 = UInt64(tables[small].count - 1)
            let m1 = UInt64(tables[big].count - 1)
            emit(small, Int(v & m0))
            // Every bucket of the larger table that expands the smaller table's bucket.
            repeat {
                emit(big, Int(v & m1))
                v |= ~m1
                v = HashTable.reverse(HashTable.reverse(v) &+ 1)
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
