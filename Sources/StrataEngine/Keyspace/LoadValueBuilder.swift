#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// Builds engine values straight from the elements the RDB reader decodes (it is the reader's
/// collection visitor while the engine loads a file): a small hash or sorted set goes from the
/// file's listpack into its packed buffer without an array per element on the way, a set's
/// intset elements stay integers. What the limits or the file's order rule out falls back to
/// the general constructors, so the result is what `Value.from` makes of the materialised value.
final class LoadValueBuilder: RDBCollectionVisitor {
    private let limits: EncodingLimits
    /// Sets and listpacks are recorded (`DeferredSet`, `DeferredListpack`) rather than built:
    /// a loader on two threads builds them on the thread that fills the keyspace while that
    /// thread would otherwise wait on the reader (it changes between keys).
    var deferBuilding: Bool
    private var setRecord: DeferredSet?
    private var listpackRecord: DeferredListpack?
    /// Where deferred records keep their bytes: one buffer per hand-off batch (`detach`), so
    /// the thread that builds them frees one block per batch, not one per value (a free
    /// from another thread's malloc arena waits on that arena's lock).
    var records = RecordBytes()
    private var kind = RDBValueKind.string
    private var items: [[UInt8]] = []          // list elements; set or zset members off the fast path
    private var set: SetObject?
    private var pairs = PackedPairs()
    private var hash: HashObject?              // once the packed limits are passed
    private var fieldsWithTTL: [HashField]?    // a hash with field TTLs is kept as the file has it
    private var scores = PackedScores()
    private var lastStart = -1
    private var inOrder = true
    private var unpacked: [(member: [UInt8], score: Double)]?
    private var expected = 0
    /// The value of the key just visited, taken once by the loader.
    private(set) var value: Value?

    /// Where listpacks are converted before their records are copied out at their size.
    private var scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    private var scratchCapacity = 4096

    init(limits: EncodingLimits, deferBuilding: Bool = false) {
        self.limits = limits
        self.deferBuilding = deferBuilding
    }
    deinit { scratch.deallocate() }

    func begin(db: Int, key: [UInt8], kind: RDBValueKind, expireMs: Int64?, idle: UInt64?, freq: UInt8?) {
        reset()
        self.kind = kind
        if kind == .set {
            if deferBuilding { setRecord = DeferredSet(start: records.count) } else { set = SetObject() }
        }
    }

    /// Drops everything of the previous key (the built value's buffers are not shared longer
    /// than needed).
    private func reset() {
        value = nil
        items = []
        set = nil
        setRecord = nil
        listpackRecord = nil
        pairs = PackedPairs()
        hash = nil
        fieldsWithTTL = nil
        scores = PackedScores()
        lastStart = -1
        inOrder = true
        unpacked = nil
        expected = 0
    }

    /// A set the file says is larger than an intset may be becomes a table sized for it (as
    /// Redis's rdbLoad does); a smaller one sizes its table if a non-integer member converts it.
    func expect(_ count: Int) {
        expected = count
        if kind == .set && count > limits.setMaxIntsetEntries { set?.forceTable(reserving: count) }
        setRecord?.expected = count
    }

    /// Room for the packed form up front (about the size of the file's listpack).
    func expect(packedBytes: Int) {
        if kind == .hash { pairs.reserve(packedBytes) } else if kind == .zset { scores.reserve(packedBytes + packedBytes / 2) }
    }

    var takesListpacks: Bool { true }

    /// A listpack kept as bytes while building is deferred (its header read: a count the
    /// summary can give); else converted now.
    func listpack(_ blob: UnsafeRawBufferPointer, zset: Bool, at offset: Int) throws -> ValueSummary {
        if deferBuilding {
            let declared = try Listpack.header(blob)
            if declared != 65535 && declared > 0 {
                let start = records.count
                records.append(blob)
                listpackRecord = DeferredListpack(start: start, length: blob.count, zset: zset, offset: offset)
                var s = ValueSummary()
                s.elements = declared / 2
                return s
            }
        }
        return try listpack(blob, zset: zset)
    }

    /// Makes the value of a listpack recorded by a deferring builder, with the error the
    /// reader gives for a corrupt one (same offset, message and context).
    func build(_ d: DeferredListpack, records: UnsafeRawPointer, db: Int, key: [UInt8], typeByte: UInt8) throws -> Value? {
        begin(db: db, key: key, kind: d.zset ? .zset : .hash, expireMs: nil, idle: nil, freq: nil)
        do {
            _ = try listpack(UnsafeRawBufferPointer(start: records + d.start, count: d.length), zset: d.zset)
        } catch let e as PackedError {
            reset()
            throw FormatError(offset: d.offset, "corrupt \(d.zset ? "zset listpack" : "hash listpack"): \(e.description)",
                              context: RDBReader.valueContext(db: db, key: key, typeByte: typeByte))
        }
        end()
        return take()
    }

    struct DeferredListpack {
        var start: Int
        var length: Int
        var zset: Bool
        var offset: Int
    }

    /// A hash's or sorted set's listpack, whole: converted in one pass when it fits the packed
    /// limits, else walked pair by pair into a table (checked as it goes either way).
    func listpack(_ blob: UnsafeRawBufferPointer, zset: Bool) throws -> ValueSummary {
        let declared = try Listpack.header(blob)
        let maxEntries = zset ? limits.zsetMaxListpackEntries : limits.hashMaxListpackEntries
        let maxValue = zset ? limits.zsetMaxListpackValue : limits.hashMaxListpackValue
        // Past these sizes the packed form cannot hold it: no scratch that large is needed.
        if declared != 65535 && declared / 2 <= maxEntries && blob.count <= (maxEntries * 2 + 1) * (maxValue + 16) {
            let need = Pack.listpackBound(blob.count)
            if need > scratchCapacity {
                scratch.deallocate()
                scratchCapacity = max(need, scratchCapacity * 2)
                scratch = .allocate(capacity: scratchCapacity)
            }
            if zset {
                if let z = try PackedScores.converting(listpack: blob, maxValue: maxValue, scratch: scratch) {
                    scores = z.scores
                    inOrder = z.inOrder
                    return z.summary
                }
            } else if let (h, s) = try PackedPairs.converting(listpack: blob, maxValue: maxValue, scratch: scratch) {
                pairs = h
                return s
            }
        }
        var s = ValueSummary()
        _ = try Pack.forEachPair(blob, zset: zset) { a, b in
            let n = a.stringLength
            s.elements += 1
            if n > s.largestElement { s.largestElement = n }
            if zset {
                let score = try b.score()
                s.elementBytes += n + 8
                member(a, score: score)
            } else {
                s.elementBytes += n + b.stringLength
                field(a, value: b, expireMs: nil)
            }
            return true
        }
        return s
    }

    func item(_ e: PackedElement) {
        if setRecord != nil {
            setRecord!.count += 1
            records.append(e)
            return
        }
        if kind == .set, let s = set {
            switch e {
            case .int(let v): s.add(int: v, limits: limits)
            case .bytes(let b):
                if s.isIntset {
                    if let v = Decimal.parseCanonical(b) { s.add(int: v, limits: limits); return }
                    if expected > 0 { s.forceTable(reserving: expected) }
                }
                s.add([UInt8](b), limits: limits)
            }
        } else {
            items.append(e.materialized)
        }
    }

    var detectsSetDuplicates: Bool { true }

    /// A plain set's member, added as `item` adds it; false when the set already held it.
    func setMember(_ m: UnsafeRawBufferPointer) -> Bool {
        if setRecord != nil {
            setRecord!.plain = true
            item(.bytes(m))
            return true
        }
        guard kind == .set, let s = set else { item(.bytes(m)); return true }
        if s.isIntset {
            if let v = Decimal.parseCanonical(m) { return s.add(int: v, limits: limits) }
            if expected > 0 { s.forceTable(reserving: expected) }
        }
        return s.add([UInt8](m), limits: limits)
    }

    func member(_ m: PackedElement, score: Double) {
        if unpacked == nil && (scores.count == limits.zsetMaxListpackEntries || m.stringLength > limits.zsetMaxListpackValue) {
            unpacked = scores.members
        }
        if unpacked != nil {
            unpacked!.append((m.materialized, score))
            return
        }
        let r = scores.appendLoaded(m, score, after: lastStart)
        lastStart = r.start
        if !r.inOrder { inOrder = false }
    }

    func field(_ f: PackedElement, value v: PackedElement, expireMs: Int64?) {
        if fieldsWithTTL == nil && expireMs != nil {
            fieldsWithTTL = (hash?.pairs ?? pairs.pairs).map { HashField(field: $0.field, value: $0.value) }
        }
        if fieldsWithTTL != nil {
            fieldsWithTTL!.append(HashField(field: f.materialized, value: v.materialized, expireMs: expireMs))
            return
        }
        if let h = hash {
            h.set(f.materialized, v.materialized, limits: limits)
            return
        }
        if pairs.count == limits.hashMaxListpackEntries || f.stringLength > limits.hashMaxListpackValue || v.stringLength > limits.hashMaxListpackValue {
            let h = HashObject.loaded(pairs)
            h.forceTable()
            h.set(f.materialized, v.materialized, limits: limits)
            hash = h
            pairs = PackedPairs()
            return
        }
        pairs.appendLoaded(f, v)
    }

    func end() {
        if listpackRecord != nil { return }   // made later, by `build`
        switch kind {
        case .list: value = .list(ListObject(items))
        case .set: value = set.map { .set($0) }
        case .hash:
            if let f = fieldsWithTTL { value = .stored(.hash(f)) }
            else if let h = hash { value = .hash(h) }
            else { pairs.fit(); value = .hash(HashObject.loaded(pairs)) }
        case .zset:
            if let u = unpacked { value = .zset(ZSetObject.from(u, limits: limits)) }
            else {
                scores.fit()
                value = .zset(ZSetObject.loaded(inOrder ? scores : scores.sortedAgain()))
            }
        default: value = nil
        }
    }

    /// The value built for the entry just read, once.
    func take() -> Value? {
        defer { reset() }
        return value
    }

    /// What was made of the entry just read, once: its value, or a set's recorded members.
    func takeLoaded() -> Loaded {
        defer { reset() }
        if let value { return .value(value) }
        if var setRecord {
            setRecord.end = records.count
            return .set(setRecord)
        }
        if let listpackRecord { return .listpack(listpackRecord) }
        return .none
    }

    enum Loaded {
        case none
        case value(Value)
        case set(DeferredSet)
        case listpack(DeferredListpack)
    }

    /// A set's members as the file gave them (packed: length, bytes), to be made into a
    /// `SetObject` by `build`, exactly as the builder would have made it.
    struct DeferredSet {
        var start: Int
        var end = 0
        var count = 0
        var expected = 0
        /// A plain set (RDB type 2): a repeated member is an error, as the reader's own check.
        var plain = false

        func build(records: UnsafeRawPointer, limits: EncodingLimits, offset: Int) throws -> SetObject {
            let s = SetObject()
            if expected > limits.setMaxIntsetEntries { s.forceTable(reserving: expected) }
            do {
                let p = UnsafeBufferPointer(start: (records + start).assumingMemoryBound(to: UInt8.self), count: end - start)
                var i = 0
                while i < p.count {
                    let n = Pack.readLength(p, &i)
                    let m = UnsafeBufferPointer(rebasing: p[i..<i + n])
                    i += n
                    let added: Bool
                    if s.isIntset, let v = Decimal.parseCanonical(UnsafeRawBufferPointer(m)) {
                        added = s.add(int: v, limits: limits)
                    } else {
                        if s.isIntset && expected > 0 { s.forceTable(reserving: expected) }
                        added = s.add([UInt8](m), limits: limits)
                    }
                    if !added && plain {
                        throw FormatError(offset: offset, "duplicate set member \(RDBReader.printable([UInt8](m)))")
                    }
                }
            }
            return s
        }
    }
}

/// A growable byte buffer (malloc'd, handed whole to another thread by `detach`).
struct RecordBytes {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let wanted = max(capacity * 2, count + extra, 64 << 10)
        guard let grown = realloc(base, wanted) else { fatalError("out of memory (\(wanted) bytes for records)") }
        base = grown
        capacity = wanted
    }

    /// An element as the packed form keeps it (length, then its bytes or decimal text).
    mutating func append(_ e: PackedElement) {
        reserve(e.stringLength + 10)
        count = Pack.write(e, base!.assumingMemoryBound(to: UInt8.self), count)
    }

    mutating func append(_ b: UnsafeRawBufferPointer) {
        reserve(b.count)
        if b.count > 0 { memcpy(base! + count, b.baseAddress!, b.count) }
        count += b.count
    }

    /// The buffer, for the caller to `free`; this starts empty again.
    mutating func detach() -> UnsafeMutableRawPointer? {
        defer { base = nil; count = 0; capacity = 0 }
        return base
    }
}
