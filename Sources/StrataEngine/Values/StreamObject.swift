import StrataFormats

/// A stream: entries in ID order with Redis's metadata (last ID, max deleted ID, entries added)
/// and consumer groups (last delivered ID, entries read, pending entries list, consumers).
public final class StreamObject {
    public struct PendingEntry {
        public var consumer: Bytes
        public var deliveryTime: UInt64
        public var deliveryCount: UInt64
    }

    public final class Consumer {
        public var seenTime: UInt64
        public var activeTime: UInt64?
        public var pending = Set<StreamID>()
        init(seenTime: UInt64, activeTime: UInt64? = nil) { self.seenTime = seenTime; self.activeTime = activeTime }
    }

    public final class Group {
        public var lastID: StreamID
        public var entriesRead: Int64?
        public var pel: [StreamID: PendingEntry] = [:]
        public var consumers: [ByteKey: Consumer] = [:]
        init(lastID: StreamID, entriesRead: Int64?) { self.lastID = lastID; self.entriesRead = entriesRead }
    }

    public private(set) var ids: [StreamID] = []
    public private(set) var fields: [[(field: Bytes, value: Bytes)]] = []
    public var lastID = StreamID.zero
    public var maxDeletedID = StreamID.zero
    public var entriesAdded: UInt64 = 0
    public var groups: [ByteKey: Group] = [:]

    public init() {}

    public var count: Int { ids.count }
    public var firstID: StreamID { ids.first ?? .zero }

    /// Index of the first entry with ID >= `id`.
    public func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func contains(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        return i < ids.count && ids[i] == id
    }

    /// Appends an entry whose ID is greater than every other.
    public func append(_ id: StreamID, _ f: [(field: Bytes, value: Bytes)]) {
        ids.append(id)
        fields.append(f)
        lastID = id
        entriesAdded += 1
    }

    @discardableResult
    public func delete(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        guard i < ids.count, ids[i] == id else { return false }
        ids.remove(at: i)
        fields.remove(at: i)
        if maxDeletedID < id { maxDeletedID = id }
        return true
    }

    /// Removes the oldest `n` entries (trimming: unlike XDEL, not a tombstone, so the max
    /// deleted ID stays as it was, as in Redis's streamTrim).
    public func removeFirst(_ n: Int) {
        guard n > 0 else { return }
        ids.removeFirst(n)
        fields.removeFirst(n)
    }

    public func entry(at i: Int) -> (id: StreamID, fields: [(field: Bytes, value: Bytes)]) { (ids[i], fields[i]) }

    /// `streamRangeHasTombstones(s, start, NULL)`: whether a deleted entry may lie at or after `start`.
    public func rangeHasTombstones(from start: StreamID) -> Bool {
        if ids.isEmpty || maxDeletedID == .zero { return false }
        if firstID > maxDeletedID { return false }
        return start <= maxDeletedID
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`, nil when
    /// it cannot be known (-1 in Redis).
    public func estimateDistanceFromFirstEverEntry(_ id: StreamID) -> Int64? {
        if entriesAdded == 0 { return 0 }
        if ids.isEmpty && id <= lastID { return Int64(entriesAdded) }
        if id == lastID { return Int64(entriesAdded) }
        if id > lastID { return nil }
        if maxDeletedID == .zero || maxDeletedID < firstID {
            if id < firstID { return Int64(entriesAdded) - Int64(ids.count) }
            if id == firstID { return Int64(entriesAdded) - Int64(ids.count) + 1 }
        }
        return nil
    }

    // MARK: RDB

    public var rdbValue: RDBValue {
        let entries = (0..<ids.count).map { StreamValue.Entry(id: ids[$0], fields: fields[$0]) }
        var gs = [StreamGroup]()
        for (name, g) in groups.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
            let pel = g.pel.sorted { $0.key < $1.key }.map {
                StreamPendingEntry(id: $0.key, deliveryTimeMs: $0.value.deliveryTime, deliveryCount: $0.value.deliveryCount)
            }
            let consumers = g.consumers.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }.map {
                StreamConsumer(name: $0.key.bytes, seenTimeMs: $0.value.seenTime, activeTimeMs: $0.value.activeTime, pending: $0.value.pending.sorted())
            }
            gs.append(StreamGroup(name: name.bytes, lastID: g.lastID, entriesRead: g.entriesRead, pending: pel, consumers: consumers))
        }
        return .stream(StreamValue(nodes: StreamValue.packNodes(entries), length: UInt64(ids.count), lastID: lastID,
                                   firstID: firstID, maxDeletedID: maxDeletedID, entriesAdded: entriesAdded, groups: gs))
    }

    /// A stream as read from an RDB (nil when its nodes do not decode).
    public static func from(_ v: StreamValue) -> StreamObject? {
        let s = StreamObject()
        do { try v.forEachEntry { e in s.ids.append(e.id); s.fields.append(e.fields) } } catch { return nil }
        s.lastID = v.lastID
        s.maxDeletedID = v.maxDeletedID ?? .zero
        s.entriesAdded = v.entriesAdded ?? UInt64(s.ids.count)
        for g in v.groups {
            // A stream saved before Redis 7.0 (no entries-added in the file): each group's read
            // counter is estimated from its last ID, as Redis's rdbLoad does.
            let entriesRead = v.entriesAdded == nil && g.entriesRead == nil ? s.estimateDistanceFromFirstEverEntry(g.lastID) : g.entriesRead
            let group = Group(lastID: g.lastID, entriesRead: entriesRead)
            let owners = Dictionary(g.consumers.flatMap { c in c.pending.map { ($0, c.name) } }, uniquingKeysWith: { a, _ in a })
            for p in g.pending {
                group.pel[p.id] = PendingEntry(consumer: owners[p.id] ?? [], deliveryTime: p.deliveryTimeMs, deliveryCount: p.deliveryCount)
            }
            for c in g.consumers {
                let consumer = Consumer(seenTime: c.seenTimeMs, activeTime: c.activeTimeMs)
                consumer.pending = Set(c.pending)
                group.consumers[ByteKey(c.name)] = consumer
            }
            s.groups[ByteKey(g.name)] = group
        }
        return s
    }

    /// An independent copy (COPY): entries are values; groups and consumers are duplicated.
    public func copy() -> StreamObject {
        let c = StreamObject()
        c.ids = ids
        c.fields = fields
        c.lastID = lastID
        c.maxDeletedID = maxDeletedID
        c.entriesAdded = entriesAdded
        for (name, g) in groups {
            let ng = Group(lastID: g.lastID, entriesRead: g.entriesRead)
            ng.pel = g.pel
            for (cn, consumer) in g.consumers {
                let nc = Consumer(seenTime: consumer.seenTime, activeTime: consumer.activeTime)
                nc.pending = consumer.pending
                ng.consumers[cn] = nc
            }
            c.groups[name] = ng
        }
        return c
    }
}
