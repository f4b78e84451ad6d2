import StrataFormats

public typealias Bytes = [UInt8]

/// Size thresholds that decide encodings (Redis 7.0 defaults; the `*-ziplist-*` names of
/// older configs map onto these).
public struct EncodingLimits: Sendable {
    public var hashMaxListpackEntries = 512   // redis-server 7.0's built-in default (its sample redis.conf says 128)
    public var hashMaxListpackValue = 64
    public var setMaxIntsetEntries = 512
    public var zsetMaxListpackEntries = 128
    public var zsetMaxListpackValue = 64
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog grows to this size, then turns dense.
    public var hllSparseMaxBytes = 3000
    public init() {}
}

/// A list: a deque of byte strings. Redis 7.0 reports every list as "quicklist".
public final class ListObject {
    public var items = Ring<Bytes>()
    public init() {}
    public init(_ e: [Bytes]) { items = Ring(e) }
}

/// A hash: insertion-ordered pairs packed in one buffer while small (Redis's listpack, whose
/// order HGETALL shows), a table once it outgrows the limits (and never back, as in Redis).
public final class HashObject {
    private var packed: PackedPairs? = PackedPairs()
    private var table: [ByteKey: Bytes]?

    public init() {}

    public var count: Int { packed?.count ?? table!.count }
    public var isPacked: Bool { packed != nil }
    public var encoding: String { packed != nil ? "listpack" : "hashtable" }
    /// Bytes of the packed buffer (MEMORY USAGE), nil for a table.
    var packedBytes: Int? { packed.map { $0.buf.capacity } }

    public func get(_ f: Bytes) -> Bytes? {
        if packed != nil { return packed!.get(f) }
        return table![ByteKey(f)]
    }

    /// Sets a field; returns true when it is new.
    @discardableResult
    public func set(_ f: Bytes, _ v: Bytes, limits: EncodingLimits) -> Bool {
        if packed != nil {
            if f.count > limits.hashMaxListpackValue || v.count > limits.hashMaxListpackValue {
                convert()
                return table!.updateValue(v, forKey: ByteKey(f)) == nil
            }
            let isNew = packed!.set(f, v)
            if packed!.count > limits.hashMaxListpackEntries { convert() }
            return isNew
        }
        return table!.updateValue(v, forKey: ByteKey(f)) == nil
    }

    @discardableResult
    public func remove(_ f: Bytes) -> Bool {
        if packed != nil { return packed!.remove(f) }
        return table!.removeValue(forKey: ByteKey(f)) != nil
    }

    func forceTable() { if packed != nil { convert() } }

    private func convert() {
        var t = [ByteKey: Bytes](minimumCapacity: packed!.count)
        // A field a file repeated keeps its first value, as packed lookups found it.
        for (f, v) in packed!.pairs where t[ByteKey(f)] == nil { t[ByteKey(f)] = v }
        table = t
        packed = nil
    }

    public var pairs: [(field: Bytes, value: Bytes)] {
        if let p = packed { return p.pairs }
        return table!.map { ($0.key.bytes, $0.value) }
    }

    /// A packed hash built by the RDB loader.
    static func loaded(_ p: PackedPairs) -> HashObject {
        let h = HashObject()
        h.packed = p
        return h
    }

    /// Builds from a loaded value, choosing the encoding Redis would after loading.
    public static func from(_ fields: [(Bytes, Bytes)], limits: EncodingLimits) -> HashObject {
        let h = HashObject()
        if fields.count > limits.hashMaxListpackEntries
            || fields.contains(where: { $0.0.count > limits.hashMaxListpackValue || $0.1.count > limits.hashMaxListpackValue }) {
            h.packed = nil
            var t = [ByteKey: Bytes](minimumCapacity: fields.count)
            for (f, v) in fields { t[ByteKey(f)] = v }
            h.table = t
        } else {
            if !Pack.hasRepeats(fields.count, { fields[$0].0 }) {
                h.packed = PackedPairs(fields.map { (field: $0.0, value: $0.1) })
            } else {
                for (f, v) in fields { _ = h.packed!.set(f, v) }   // a repeated field: the last wins
            }
        }
        return h
    }
}

/// A set: sorted integers while every member is a canonical integer and there are at most
/// `set-max-intset-entries` (Redis's intset, which SMEMBERS lists in ascending order), then a
/// table.
public final class SetObject {
    public private(set) var ints: [Int64]? = []
    public private(set) var table: Set<ByteKey>?

    public init() {}

    public var count: Int { ints?.count ?? table!.count }
    public var encoding: String { ints != nil ? "intset" : "hashtable" }
    var isIntset: Bool { ints != nil }

    public func contains(_ m: Bytes) -> Bool {
        if let i = ints {
            guard let v = Decimal.parseCanonical(m) else { return false }
            return binarySearch(i, v).found
        }
        return table!.contains(ByteKey(m))
    }

    private func binarySearch(_ a: [Int64], _ v: Int64) -> (found: Bool, index: Int) {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return (lo < a.count && a[lo] == v, lo)
    }

    @discardableResult
    public func add(_ m: Bytes, limits: EncodingLimits) -> Bool {
        if var i = ints {
            if let v = Decimal.parseCanonical(m) {
                let (found, idx) = binarySearch(i, v)
                if found { return false }
                if i.count + 1 > limits.setMaxIntsetEntries {
                    convert()
                    return table!.insert(ByteKey(m)).inserted
                }
                ints = nil
                i.insert(v, at: idx)
                ints = i
                return true
            }
            convert()
        }
        return table!.insert(ByteKey(m)).inserted
    }

    @discardableResult
    public func remove(_ m: Bytes) -> Bool {
        if var i = ints {
            guard let v = Decimal.parseCanonical(m) else { return false }
            let (found, idx) = binarySearch(i, v)
            if !found { return false }
            ints = nil
            i.remove(at: idx)
            ints = i
            return true
        }
        return table!.remove(ByteKey(m)) != nil
    }

    /// A hashtable from now on (a copy of a converted set stays converted, as in Redis).
    func forceTable() { if ints != nil { convert() } }

    /// A table with room for `n` members (loading a set whose size the file gives), as Redis
    /// sizes the dict up front.
    func forceTable(reserving n: Int) {
        if ints != nil { convert(reserving: n) } else { table!.reserveCapacity(n) }
    }

    private func convert(reserving n: Int = 0) {
        var t = Set<ByteKey>(minimumCapacity: max(n, ints!.count))
        for v in ints! { t.insert(ByteKey(Decimal.bytes(v))) }
        table = t
        ints = nil
    }

    public var members: [Bytes] {
        if let i = ints { return i.map { Decimal.bytes($0) } }
        return table!.map(\.bytes)
    }

    /// Adds an integer member (an intset element from a file): no decimal text while the set
    /// is an intset, and members arriving in ascending order (as an intset holds them) append.
    @discardableResult
    func add(int v: Int64, limits: EncodingLimits) -> Bool {
        if ints != nil, ints!.count < limits.setMaxIntsetEntries, let last = ints!.last, last < v {
            ints!.append(v)
            return true
        }
        return add(Decimal.bytes(v), limits: limits)
    }

    public static func from(_ members: [Bytes], limits: EncodingLimits) -> SetObject {
        let s = SetObject()
        for m in members { s.add(m, limits: limits) }
        return s
    }
}

/// A string value and the encoding Redis would report for it, which depends on how it was
/// made: `tryObjectEncoding` (SET, MSET, GETSET, RDB load: "int" for canonical integers),
/// `createStringObject` (INCRBYFLOAT: never "int"), or modified in place (APPEND, SETRANGE:
/// "raw").
public struct StringValue {
    public enum Encoding: String { case int, embstr, raw }
    public var bytes: Bytes
    public var encodingKind: Encoding

    /// As `tryObjectEncoding` leaves a freshly set value.
    public init(_ b: Bytes) {
        bytes = b
        if b.count <= 20, Decimal.parseCanonical(b) != nil { encodingKind = .int }
        else { encodingKind = b.count <= 44 ? .embstr : .raw }
    }

    public init(_ b: Bytes, encoding: Encoding) { bytes = b; encodingKind = encoding }

    /// As `createStringObject` makes it (no integer encoding).
    public static func created(_ b: Bytes) -> StringValue { StringValue(b, encoding: b.count <= 44 ? .embstr : .raw) }

    public var encoding: String { encodingKind.rawValue }
}

/// A value in the keyspace.
public enum Value {
    case string(StringValue)
    case list(ListObject)
    case hash(HashObject)
    case set(SetObject)
    case zset(ZSetObject)
    case stream(StreamObject)
    /// Kinds whose commands are not implemented yet are held as read from RDB, so they load,
    /// save, digest and DUMP unchanged. Boxed, so the common cases keep `Value` (and every
    /// keyspace slot) small.
    indirect case stored(RDBValue)

    public var typeName: String {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .hash: return "hash"
        case .set: return "set"
        case .zset: return "zset"
        case .stream: return "stream"
        case .stored(let v):
            switch v.kind {
            case .zset: return "zset"
            case .stream: return "stream"
            case .module: return "none"
            default: return v.kind.rawValue
            }
        }
    }

    public var encoding: String {
        switch self {
        case .string(let s): return s.encoding
        case .list: return "quicklist"
        case .hash(let h): return h.encoding
        case .set(let s): return s.encoding
        case .zset(let z): return z.encoding
        case .stream: return "stream"
        case .stored(let v):
            switch v {
            case .sortedSet(let z): return z.count <= 128 && z.allSatisfy({ $0.member.count <= 64 }) ? "listpack" : "skiplist"
            case .stream: return "stream"
            default: return "raw"
            }
        }
    }

    /// The value in the form the RDB writer and the digest take.
    public var rdbValue: RDBValue {
        switch self {
        case .string(let s): return .string(s.bytes)
        case .list(let l): return .list(l.items.elements)
        case .hash(let h): return .hash(h.pairs.map { HashField(field: $0.field, value: $0.value) })
        case .set(let s): return .set(s.members)
        case .zset(let z): return .sortedSet(z.members.map { ZSetMember(member: $0.member, score: $0.score) })
        case .stream(let st): return st.rdbValue
        case .stored(let v): return v
        }
    }

    /// A value as loaded from RDB, in the engine's form.
    public static func from(_ v: RDBValue, limits: EncodingLimits) -> Value {
        switch v {
        case .string(let b): return .string(StringValue(b))
        case .list(let l): return .list(ListObject(l))
        case .hash(let h) where !h.contains(where: { $0.expireMs != nil }):
            return .hash(HashObject.from(h.map { ($0.field, $0.value) }, limits: limits))
        case .set(let s): return .set(SetObject.from(s, limits: limits))
        case .sortedSet(let z): return .zset(ZSetObject.from(z.map { (member: $0.member, score: $0.score) }, limits: limits))
        case .stream(let sv): return StreamObject.from(sv).map { .stream($0) } ?? .stored(v)
        default: return .stored(v)
        }
    }
}
