import StrataFormats

/// MEMORY USAGE: the bytes a key and its value take in this engine's structures, estimated the
/// way Redis's objectComputeSize does (exact for small values, sampled elements extrapolated
/// for large ones; `samples` 0 = every element).
extension Engine {
    /// A byte array's heap block: 32 bytes of header plus the bytes, in 16-byte steps.
    static func arrayBytes(_ n: Int) -> Int { n == 0 ? 0 : (32 + n + 15) / 16 * 16 }

    public func memoryUsage(_ db: Database, _ key: Bytes, samples: Int) -> Int? {
        guard let v = lookup(db, key) else { return nil }
        let slot = 48 + (db.expires.count > 0 && db.expires.contains(key) ? 48 : 0)
        return slot + Engine.arrayBytes(key.count) + valueBytes(v, samples: samples)
    }

    /// Sum of `size(i)` over a sample of `count` elements, scaled to all of them.
    private static func sampled(_ count: Int, _ samples: Int, _ size: (Int) -> Int) -> Int {
        if count == 0 { return 0 }
        let n = samples <= 0 ? count : min(count, samples)
        var total = 0
        for i in 0..<n { total += size(i) }
        return total * count / n
    }

    func valueBytes(_ v: Value, samples: Int) -> Int {
        switch v {
        case .string(let s): return Engine.arrayBytes(s.bytes.count)
        case .list(let l):
            let items = l.items
            return 32 + items.count * 8 + Engine.sampled(items.count, samples) { Engine.arrayBytes(items[$0].count) }
        case .hash(let h):
            if let packed = h.packedBytes { return 64 + Engine.arrayBytes(packed) }
            let pairs = h.pairs
            return 64 + Engine.sampled(pairs.count, samples) { 48 + Engine.arrayBytes(pairs[$0].field.count) + Engine.arrayBytes(pairs[$0].value.count) }
        case .set(let s):
            if s.encoding == "intset" { return 32 + s.count * 8 }
            let members = s.members
            return 64 + Engine.sampled(members.count, samples) { 40 + Engine.arrayBytes(members[$0].count) }
        case .zset(let z):
            if let packed = z.packedBytes { return 64 + Engine.arrayBytes(packed) }
            let members = z.members
            return 64 + Engine.sampled(members.count, samples) { 96 + Engine.arrayBytes(members[$0].member.count) }
        case .stream(let st):
            return 128 + st.count * 16 + Engine.sampled(st.count, samples) { i in
                st.fields[i].reduce(48) { $0 + Engine.arrayBytes($1.field.count) + Engine.arrayBytes($1.value.count) }
            }
        case .stored(let r):
            return ((try? RDBWriter.dumpPayload(r, target: Engine.dumpTarget))?.count ?? 0) + 32
        }
    }
}
