import StrataFormats

/// `maxmemory-policy`: which keys eviction may take and how it ranks them.
public enum MaxmemoryPolicy: String, Sendable, CaseIterable {
    case noeviction
    case allkeysLRU = "allkeys-lru", allkeysLFU = "allkeys-lfu", allkeysRandom = "allkeys-random"
    case volatileLRU = "volatile-lru", volatileLFU = "volatile-lfu", volatileRandom = "volatile-random"
    case volatileTTL = "volatile-ttl"

    public var isLFU: Bool { self == .allkeysLFU || self == .volatileLFU }
    public var isLRU: Bool { self == .allkeysLRU || self == .volatileLRU }
    var isVolatile: Bool { [.volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL].contains(self) }
    var isRandom: Bool { self == .allkeysRandom || self == .volatileRandom }
}

/// Redis's object access bookkeeping (`robj->lru`, evict.c): 24 bits per key holding either
/// the LRU clock (seconds) of the last access, or, under an LFU policy, the minute of the last
/// decrement (16 bits) and a logarithmic access counter (8 bits).
extension Engine {
    static let lruClockMax: UInt32 = (1 << 24) - 1
    static let lfuInitValue: UInt32 = 5

    /// LRU_CLOCK(): seconds, 24 bits (the server's cached value when it keeps one).
    var lruClockNow: UInt32 {
        UInt32(truncatingIfNeeded: (accessClockMs / 1000)) & Engine.lruClockMax
    }

    /// The time access bookkeeping uses: the server's cached time, else the time a load or
    /// replay started (one clock read for the whole load, not one per key), else the clock.
    private var accessClockMs: Int64 { cachedUnixMs ?? loadStartMs ?? clock() }

    /// LFUGetTimeInMinutes(): 16 bits of minutes.
    var lfuMinutesNow: UInt32 {
        UInt32(truncatingIfNeeded: (accessClockMs / 1000) / 60) & 0xFFFF
    }

    /// The metadata of an object created now (`createObject`).
    @inline(__always)
    func freshMeta() -> UInt32 {
        maxmemoryPolicy.isLFU ? (lfuMinutesNow << 8) | Engine.lfuInitValue : lruClockNow
    }

    /// An access (`lookupKey` without NOTOUCH): LFU decays then maybe increments the counter;
    /// LRU stamps the clock.
    @inline(__always)
    func touch(_ meta: inout UInt32) {
        if maxmemoryPolicy.isLFU {
            var counter = lfuDecayed(meta)
            counter = lfuLogIncrement(counter)
            meta = (lfuMinutesNow << 8) | counter
        } else {
            meta = lruClockNow
        }
    }

    /// LFUDecrAndReturn: the counter less one per `lfu-decay-time` minutes since its minute.
    func lfuDecayed(_ meta: UInt32) -> UInt32 {
        let ldt = meta >> 8, counter = meta & 255
        let now = lfuMinutesNow
        let elapsed = now >= ldt ? now - ldt : 65535 - ldt + now
        let periods = lfuDecayTime > 0 ? elapsed / UInt32(lfuDecayTime) : 0
        return periods > counter ? 0 : counter - periods
    }

    /// LFULogIncr: increments with probability 1 / ((counter - 5) * lfu-log-factor + 1).
    func lfuLogIncrement(_ counter: UInt32) -> UInt32 {
        if counter == 255 { return 255 }
        let r = Double.random(in: 0..<1, using: &rng)
        let base = max(0, Double(counter) - Double(Engine.lfuInitValue))
        return r < 1.0 / (base * Double(lfuLogFactor) + 1) ? counter + 1 : counter
    }

    /// estimateObjectIdleTime, in milliseconds.
    func idleMilliseconds(_ meta: UInt32) -> Int64 {
        let now = lruClockNow, lru = meta & Engine.lruClockMax
        let seconds = now >= lru ? now - lru : now + (Engine.lruClockMax - lru)
        return Int64(seconds) * 1000
    }

    /// objectSetLRUOrLFU (RESTORE IDLETIME/FREQ, RDB IDLE/FREQ opcodes): the metadata of an
    /// object with that idle time or frequency; only the kind the policy tracks applies, the
    /// other leaves a fresh object's.
    func accessMeta(idleSeconds: Int64?, frequency: Int64?) -> UInt32 {
        if let f = frequency, maxmemoryPolicy.isLFU {
            return (lfuMinutesNow << 8) | UInt32(min(255, max(0, f)))
        }
        if let idle = idleSeconds, !maxmemoryPolicy.isLFU, idle >= 0 {
            // The clock moved back by the idle time (wrapping at 24 bits), as Redis does.
            let now = Int64(lruClockNow)
            var lru = now - idle
            if lru < 0 { lru = Int64(Engine.lruClockMax) - ((-lru) % Int64(Engine.lruClockMax)) }
            return UInt32(lru) & Engine.lruClockMax
        }
        return freshMeta()
    }

    // MARK: eviction

    /// One eviction under the policy (Redis's performEvictions, one key per call): the best of
    /// a pool of candidates sampled `maxmemory-samples` at a time from every database (LRU:
    /// the longest idle; LFU: the least frequent; TTL: the nearest expiry), or a random key
    /// from the databases in turn. The key is deleted and DEL propagated. False when there is
    /// nothing the policy may evict.
    public func evictOne() -> (db: Int, key: Bytes)? {
        let policy = maxmemoryPolicy
        if policy == .noeviction { return nil }
        if policy.isRandom {
            for _ in 0..<databases.count {
                let db = databases[nextEvictionDB % databases.count]
                nextEvictionDB += 1
                let key = policy.isVolatile ? db.expires.randomKey(using: &rng) : db.dict.randomKey(using: &rng)
                if let key { evictKey(db, key); return (db.id, key) }
            }
            return nil
        }
        while true {
            for db in databases {
                let source = policy.isVolatile ? db.expires.count : db.dict.count
                if source == 0 { continue }
                for _ in 0..<max(1, maxmemorySamples) {
                    guard let key = policy.isVolatile ? db.expires.randomKey(using: &rng) : db.dict.randomKey(using: &rng) else { break }
                    let score: UInt64
                    switch policy {
                    case .volatileTTL: score = UInt64.max - UInt64(max(0, db.expires[key] ?? 0))
                    case .allkeysLFU, .volatileLFU: score = 255 - UInt64(lfuDecayed(db.dict.meta(key) ?? 0))
                    default: score = UInt64(idleMilliseconds(db.dict.meta(key) ?? 0))
                    }
                    insertInEvictionPool(EvictionCandidate(score: score, db: db.id, key: key))
                }
            }
            if evictionPool.isEmpty { return nil }
            // The best candidate that still exists (pool entries can be stale).
            while let best = evictionPool.popLast() {
                let db = databases[best.db]
                let present = policy.isVolatile ? db.expires.contains(best.key) : db.dict.contains(best.key)
                if present { evictKey(db, best.key); return (db.id, best.key) }
            }
        }
    }

    private func insertInEvictionPool(_ c: EvictionCandidate) {
        if let i = evictionPool.firstIndex(where: { $0.db == c.db && $0.key == c.key }) { evictionPool.remove(at: i) }
        // Ascending by score; when full, a candidate must beat the worst to get in.
        if evictionPool.count >= Engine.evictionPoolSize {
            guard c.score > evictionPool[0].score else { return }
            evictionPool.removeFirst()
        }
        let at = evictionPool.firstIndex(where: { $0.score > c.score }) ?? evictionPool.count
        evictionPool.insert(c, at: at)
    }

    private func evictKey(_ db: Database, _ key: Bytes) {
        delete(db, key)
        dirty += 1
        propagate?([Array("DEL".utf8), key], db.id)
        if notify != nil { notifyEvent(.evicted, "evicted", key, db.id) }
    }

    static let evictionPoolSize = 16
}

struct EvictionCandidate {
    var score: UInt64
    var db: Int
    var key: Bytes
}
