/// A stream entry or consumer-group ID: milliseconds and sequence.
public struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var ms: UInt64
    public var seq: UInt64
    public init(ms: UInt64, seq: UInt64) { self.ms = ms; self.seq = seq }
    public static let zero = StreamID(ms: 0, seq: 0)
    public static func < (a: StreamID, b: StreamID) -> Bool { a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq }
    public var description: String { "\(ms)-\(seq)" }

    /// The 16-byte big-endian form used as rax keys and in PELs.
    public var rawBytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        withUnsafeBytes(of: ms.bigEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: seq.bigEndian) { out.append(contentsOf: $0) }
        return out
    }

    public init?(raw: [UInt8]) {
        guard raw.count == 16 else { return nil }
        var m: UInt64 = 0, s: UInt64 = 0
        for i in 0..<8 { m = (m << 8) | UInt64(raw[i]) }
        for i in 8..<16 { s = (s << 8) | UInt64(raw[i]) }
        self.ms = m; self.seq = s
    }
}

public struct HashField: Sendable, Equatable {
    public var field: [UInt8]
    public var value: [UInt8]
    /// Absolute expiry in Unix ms of this field (Redis 7.4 HFE, Valkey 9 HASH_2), nil = none.
    public var expireMs: Int64?
    public init(field: [UInt8], value: [UInt8], expireMs: Int64? = nil) {
        self.field = field; self.value = value; self.expireMs = expireMs
    }
}

public struct ZSetMember: Sendable, Equatable {
    public var member: [UInt8]
    public var score: Double
    public init(member: [UInt8], score: Double) { self.member = member; self.score = score }
}

public struct StreamPendingEntry: Sendable, Equatable {
    public var id: StreamID
    public var deliveryTimeMs: UInt64
    public var deliveryCount: UInt64
    public init(id: StreamID, deliveryTimeMs: UInt64, deliveryCount: UInt64) {
        self.id = id; self.deliveryTimeMs = deliveryTimeMs; self.deliveryCount = deliveryCount
    }
}

public struct StreamConsumer: Sendable, Equatable {
    public var name: [UInt8]
    public var seenTimeMs: UInt64
    /// RDB 11+ (stream v3): last time the consumer did something that counts as activity.
    public var activeTimeMs: UInt64?
    public var pending: [StreamID]
    public init(name: [UInt8], seenTimeMs: UInt64, activeTimeMs: UInt64?, pending: [StreamID]) {
        self.name = name; self.seenTimeMs = seenTimeMs; self.activeTimeMs = activeTimeMs; self.pending = pending
    }
}

public struct StreamGroup: Sendable, Equatable {
    public var name: [UInt8]
    public var lastID: StreamID
    /// RDB 10+; -1 (stored as 2^64-1) means "unknown" (SCG_INVALID_ENTRIES_READ).
    public var entriesRead: Int64?
    public var pending: [StreamPendingEntry]
    public var consumers: [StreamConsumer]
    public init(name: [UInt8], lastID: StreamID, entriesRead: Int64?, pending: [StreamPendingEntry], consumers: [StreamConsumer]) {
        self.name = name; self.lastID = lastID; self.entriesRead = entriesRead; self.pending = pending; self.consumers = consumers
    }
}

/// A stream as stored: its listpack nodes (kept verbatim so a conversion round-trips them),
/// then its metadata and consumer groups.
public struct StreamValue: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var masterID: StreamID
        public var listpack: [UInt8]
        public init(masterID: StreamID, listpack: [UInt8]) { self.masterID = masterID; self.listpack = listpack }
    }
    public var nodes: [Node]
    public var length: UInt64
    public var lastID: StreamID
    /// RDB 10+ fields (stream v2).
    public var firstID: StreamID?
    public var maxDeletedID: StreamID?
    public var entriesAdded: UInt64?
    public var groups: [StreamGroup]

    public init(nodes: [Node], length: UInt64, lastID: StreamID, firstID: StreamID?, maxDeletedID: StreamID?,
                entriesAdded: UInt64?, groups: [StreamGroup]) {
        self.nodes = nodes; self.length = length; self.lastID = lastID; self.firstID = firstID
        self.maxDeletedID = maxDeletedID; self.entriesAdded = entriesAdded; self.groups = groups
    }

    public struct Entry {
        public var id: StreamID
        public var fields: [(field: [UInt8], value: [UInt8])]
        public init(id: StreamID, fields: [(field: [UInt8], value: [UInt8])]) { self.id = id; self.fields = fields }
    }

    /// Decodes every live entry in ID order, validating each node's layout
    /// (master entry, flags, ID deltas, field counts, the trailing lp-count).
    public func forEachEntry(_ body: (Entry) throws -> Void) throws {
        for node in nodes {
            try StreamValue.decodeNode(node, body)
        }
    }

    static func decodeNode(_ node: Node, _ body: (Entry) throws -> Void) throws {
        var els = [PackedElementValue]()
        try node.listpack.withUnsafeBytes { blob in
            try Listpack.forEach(blob) { e in
                switch e {
                case .int(let v): els.append(.int(v))
                case .bytes(let b): els.append(.bytes([UInt8](b)))
                }
            }
        }
        var i = 0
        func nextInt(_ what: String) throws -> Int64 {
            guard i < els.count else { throw PackedError("stream node ended while reading \(what)") }
            defer { i += 1 }
            guard case .int(let v) = els[i] else { throw PackedError("stream node: \(what) is not an integer") }
            return v
        }
        func nextBytes() throws -> [UInt8] {
            guard i < els.count else { throw PackedError("stream node ended while reading a field") }
            defer { i += 1 }
            return els[i].bytes
        }
        let count = try nextInt("master count")
        let deleted = try nextInt("master deleted count")
        let masterFieldCount = try nextInt("master field count")
        guard count >= 0, deleted >= 0, masterFieldCount >= 0, masterFieldCount <= els.count else {
            throw PackedError("stream node master entry has impossible counts")
        }
        if count + deleted == 0 { throw PackedError("stream node holds no entries") }
        var masterFields = [[UInt8]]()
        for _ in 0..<masterFieldCount { masterFields.append(try nextBytes()) }
        guard try nextInt("master terminator") == 0 else { throw PackedError("stream master entry not terminated by 0") }
        var live: Int64 = 0
        var dead: Int64 = 0
        while i < els.count {
            let start = i
            let flags = try nextInt("entry flags")
            let msDelta = try nextInt("entry ms delta")
            let seqDelta = try nextInt("entry seq delta")
            let id = StreamID(ms: node.masterID.ms &+ UInt64(bitPattern: msDelta),
                              seq: node.masterID.seq &+ UInt64(bitPattern: seqDelta))
            var fields = [(field: [UInt8], value: [UInt8])]()
            if flags & 2 != 0 {   // STREAM_ITEM_FLAG_SAMEFIELDS
                for f in masterFields { fields.append((f, try nextBytes())) }
            } else {
                let n = try nextInt("entry field count")
                // Compared without multiplying: a hostile count must not overflow.
                guard n >= 0, n <= Int64((els.count - i) / 2) else { throw PackedError("stream entry field count \(n) runs past the node") }
                for _ in 0..<n {
                    let f = try nextBytes()
                    fields.append((f, try nextBytes()))
                }
            }
            let lpCount = try nextInt("entry lp-count")
            guard lpCount == Int64(i - start - 1) else {
                throw PackedError("stream entry lp-count \(lpCount) does not match its \(i - start - 1) elements")
            }
            if flags & 1 != 0 {  // STREAM_ITEM_FLAG_DELETED
                dead += 1
            } else {
                live += 1
                try body(Entry(id: id, fields: fields))
            }
        }
        guard live == count, dead == deleted else {
            throw PackedError("stream node master entry says \(count) live / \(deleted) deleted, found \(live) / \(dead)")
        }
    }
}

enum PackedElementValue {
    case int(Int64)
    case bytes([UInt8])
    var bytes: [UInt8] {
        switch self {
        case .int(let v): return Decimal.bytes(v)
        case .bytes(let b): return b
        }
    }
}

/// One operation of a module value as the module wrote it (`RDB_MODULE_OPCODE_*`).
public enum ModuleOp: Sendable, Equatable {
    case sint(Int64)
    case uint(UInt64)
    case float(UInt32)      // IEEE bits, kept exact
    case double(UInt64)     // IEEE bits, kept exact
    case string([UInt8])
}

/// A module value or module aux record, carried losslessly (module-v2 opcode sequences).
public struct ModuleValue: Sendable, Equatable {
    public var moduleID: UInt64
    public var ops: [ModuleOp]
    /// For MODULE_AUX records: 1 = before keys, 2 = after keys.
    public var when: UInt64?

    /// The module's 9-character name (`moduleTypeNameByID`).
    public var name: String {
        let charset = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var id = moduleID >> 10
        var chars = [Character](repeating: " ", count: 9)
        for j in stride(from: 8, through: 0, by: -1) {
            chars[j] = charset[Int(id & 63)]
            id >>= 6
        }
        return String(chars)
    }

    public var encodingVersion: Int { Int(moduleID & 1023) }
}

/// Size statistics of a value read without keeping it (check / inspect mode).
public struct ValueSummary: Sendable, Equatable {
    public var elements: Int = 0
    public var largestElement: Int = 0
    public var elementBytes: Int = 0
    public init(elements: Int = 0, largestElement: Int = 0, elementBytes: Int = 0) {
        self.elements = elements
        self.largestElement = largestElement
        self.elementBytes = elementBytes
    }
}

/// A decoded value.
public enum RDBValue: Sendable, Equatable {
    case string([UInt8])
    case list([[UInt8]])
    case set([[UInt8]])
    case sortedSet([ZSetMember])
    case hash([HashField])
    indirect case stream(StreamValue)
    indirect case module(ModuleValue)
    /// Only counted, not kept (readers opened without `materialize`).
    case summary(kind: RDBValueKind, ValueSummary)

    public var kind: RDBValueKind {
        switch self {
        case .string: return .string
        case .list: return .list
        case .set: return .set
        case .sortedSet: return .zset
        case .hash: return .hash
        case .stream: return .stream
        case .module: return .module
        case .summary(let k, _): return k
        }
    }

    /// A list, set, sorted set or hash with no element. Redis never holds one; its loader skips
    /// them ("empty keys skipped") and redis-check-rdb rejects them.
    public var isEmptyCollection: Bool {
        switch self {
        case .list(let x), .set(let x): return x.isEmpty
        case .sortedSet(let z): return z.isEmpty
        case .hash(let h): return h.isEmpty
        case .summary(let k, let s): return s.elements == 0 && [.list, .set, .zset, .hash].contains(k)
        default: return false
        }
    }

    /// Element count and sizes, from either form.
    public var summary: ValueSummary {
        var s = ValueSummary()
        func add(_ n: Int) { s.elements += 1; s.elementBytes += n; s.largestElement = max(s.largestElement, n) }
        switch self {
        case .string(let b): s.elements = 1; s.elementBytes = b.count; s.largestElement = b.count
        case .list(let l), .set(let l): for e in l { add(e.count) }
        case .sortedSet(let z): for m in z { add(m.member.count) }; s.elementBytes += 8 * z.count
        case .hash(let h):
            for f in h { add(f.field.count); s.elements -= 1; s.elementBytes += f.value.count; s.largestElement = max(s.largestElement, f.value.count) }
            s.elements = h.count
        case .stream(let st): s.elements = Int(st.length); s.elementBytes = st.nodes.reduce(0) { $0 + $1.listpack.count }
        case .module(let m): s.elements = m.ops.count
        case .summary(_, let x): return x
        }
        return s
    }
}

public enum RDBValueKind: String, Sendable, CaseIterable {
    case string, list, set, zset, hash, stream, module
}

/// One key read from an RDB file, with its per-key modifiers.
public struct RDBEntry: Sendable {
    public var db: Int
    public var key: [UInt8]
    public var value: RDBValue
    /// Absolute expiry in Unix milliseconds.
    public var expireMs: Int64?
    /// LRU idle seconds (RDB_OPCODE_IDLE).
    public var idle: UInt64?
    /// LFU counter (RDB_OPCODE_FREQ).
    public var freq: UInt8?
    /// The type byte in the file.
    public var typeByte: UInt8
    /// Absolute offset of the first byte of this key's record (its first modifier opcode).
    public var offset: Int
    /// Bytes the record takes in the file, modifiers included.
    public var serializedSize: Int

    public init(db: Int, key: [UInt8], value: RDBValue, expireMs: Int64?, idle: UInt64? = nil, freq: UInt8? = nil,
                typeByte: UInt8 = 0, offset: Int = 0, serializedSize: Int = 0) {
        self.db = db; self.key = key; self.value = value; self.expireMs = expireMs; self.idle = idle; self.freq = freq
        self.typeByte = typeByte; self.offset = offset; self.serializedSize = serializedSize
    }
}

public enum ChecksumVerdict: Sendable, Equatable {
    /// The stored CRC-64 matches the computed one.
    case verified(UInt64)
    /// Stored as zero: written with `rdbchecksum no`; nothing to verify.
    case disabled
    /// RDB versions before 5 carry no checksum.
    case absent
    /// The stored and computed checksums differ. Only a reader opened with
    /// `verifyChecksum: false` (salvage) reports this; any other reader throws instead.
    case mismatch(stored: UInt64, computed: UInt64)
}

/// What an `RDBReader` produces, in file order.
public enum RDBEvent: Sendable {
    case aux(key: [UInt8], value: [UInt8])
    case selectDB(Int)
    case resizeDB(keys: UInt64, expires: UInt64)
    case slotInfo(slot: UInt64, keys: UInt64, expires: UInt64)
    indirect case moduleAux(ModuleValue)
    case function([UInt8])
    /// Valkey 9 RDB_OPCODE_SLOT_IMPORT: a job name and slot ranges.
    indirect case slotImport(name: [UInt8], ranges: [(UInt64, UInt64)])
    case entry(RDBEntry)
    case end(ChecksumVerdict, trailingBytes: Int)
}

extension StreamValue {
    /// Packs entries (in ID order) into listpack nodes as Redis's `streamAppendItem` does: at
    /// most `maxEntries` entries and about `maxBytes` bytes per node, the first entry's fields as
    /// the node's master fields, SAMEFIELDS entries storing only their values.
    /// Where each node starts when `count` entries are packed: a node takes entries until it
    /// holds `maxEntries` or about `maxBytes` (`entryBytes(i)` is entry i's estimated size).
    public static func nodeStarts(count: Int, maxEntries: Int = 100, maxBytes: Int = 4096,
                                  entryBytes: (Int) -> Int) -> [Int] {
        var starts = [Int]()
        var i = 0
        while i < count {
            starts.append(i)
            var n = 0, size = 0
            while i < count && n < maxEntries && (n == 0 || size < maxBytes) {
                size += entryBytes(i); n += 1; i += 1
            }
        }
        return starts
    }

    /// The estimated listpack bytes of an entry with these fields.
    public static func entryBytes(_ fields: [(field: [UInt8], value: [UInt8])]) -> Int {
        fields.reduce(16) { $0 + $1.field.count + $1.value.count + 4 }
    }

    public static func packNodes(_ entries: [Entry], maxEntries: Int = 100, maxBytes: Int = 4096) -> [Node] {
        var nodes = [Node]()
        let starts = nodeStarts(count: entries.count, maxEntries: maxEntries, maxBytes: maxBytes) { entryBytes(entries[$0].fields) }
        for (n, first) in starts.enumerated() {
            let master = entries[first].id
            let masterFields = entries[first].fields.map(\.field)
            let items = Array(first..<(n + 1 < starts.count ? starts[n + 1] : entries.count))
            let size = items.reduce(0) { $0 + entryBytes(entries[$1].fields) }
            var lp = Listpack.Builder(capacity: size + 32)
            lp.append(int: Int64(items.count))
            lp.append(int: 0)
            lp.append(int: Int64(masterFields.count))
            for f in masterFields { lp.append(f) }
            lp.append(int: 0)
            for k in items {
                let e = entries[k]
                let same = e.fields.count == masterFields.count && zip(e.fields, masterFields).allSatisfy { $0.field == $1 }
                lp.append(int: same ? 2 : 0)
                lp.append(int: Int64(bitPattern: e.id.ms &- master.ms))
                lp.append(int: Int64(bitPattern: e.id.seq &- master.seq))
                if same {
                    for fv in e.fields { lp.append(fv.value) }
                } else {
                    lp.append(int: Int64(e.fields.count))
                    for fv in e.fields { lp.append(fv.field); lp.append(fv.value) }
                }
                lp.append(int: Int64(e.fields.count + 3 + (same ? 0 : e.fields.count + 1)))
            }
            nodes.append(Node(masterID: master, listpack: lp.finish()))
        }
        return nodes
    }
}
