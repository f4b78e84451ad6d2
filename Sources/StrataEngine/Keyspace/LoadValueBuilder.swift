import StrataFormats

/// Builds engine values straight from the elements the RDB reader decodes (it is the reader's
/// collection visitor while the engine loads a file): a small hash or sorted set goes from the
/// file's listpack into its packed buffer without an array per element on the way, a set's
/// intset elements stay integers. What the limits or the file's order rule out falls back to
/// the general constructors, so the result is what `Value.from` makes of the materialised value.
final class LoadValueBuilder: RDBCollectionVisitor {
    private let limits: EncodingLimits
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

    init(limits: EncodingLimits) { self.limits = limits }

    func begin(db: Int, key: [UInt8], kind: RDBValueKind, expireMs: Int64?, idle: UInt64?, freq: UInt8?) {
        reset()
        self.kind = kind
        if kind == .set { set = SetObject() }
    }

    /// Drops everything of the previous key (the built value's buffers are not shared longer
    /// than needed).
    private func reset() {
        value = nil
        items = []
        set = nil
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
    }

    /// Room for the packed form up front (about the size of the file's listpack).
    func expect(packedBytes: Int) {
        if kind == .hash { pairs.reserve(packedBytes) } else if kind == .zset { scores.reserve(packedBytes + packedBytes / 2) }
    }

    var takesListpacks: Bool { true }

    /// A hash's or sorted set's listpack, whole: converted in one pass when its size and
    /// elements fit the packed limits, else walked pair by pair into a table.
    func listpack(_ blob: UnsafeRawBufferPointer, pairs n: Int, textBytes: Int, largest: Int) throws {
        if kind == .hash {
            if n <= limits.hashMaxListpackEntries && largest <= limits.hashMaxListpackValue {
                pairs = try PackedPairs(listpack: blob, pairs: n, textBytes: textBytes, largest: largest)
                return
            }
        } else if n <= limits.zsetMaxListpackEntries && largest <= limits.zsetMaxListpackValue {
            scores = try PackedScores(listpack: blob, pairs: n, textBytes: textBytes, largest: largest)
            inOrder = scores.inOrder
            return
        }
        var p = Listpack.headerSize
        while let a = try Listpack.next(blob, &p), let b = try Listpack.next(blob, &p) {
            if kind == .hash {
                field(a, value: b, expireMs: nil)
            } else {
                var score: Double
                switch b {
                case .int(let v): score = Double(v)
                case .bytes(let t): score = DoubleText.parse(t) ?? .nan
                }
                member(a, score: score)
            }
        }
    }

    func item(_ e: PackedElement) {
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
}
