import StrataFormats

extension Out {
    /// A packed element as JSON: text when it is an integer (always plain ASCII), else bytes.
    mutating func json(_ e: PackedElement) {
        switch e {
        case .int(let v): byte(UInt8(ascii: "\"")); int(v); byte(UInt8(ascii: "\""))
        case .bytes(let b): json(b.bindMemory(to: UInt8.self))
        }
    }

    /// A packed element as a RESP bulk string.
    mutating func bulk(_ e: PackedElement) {
        switch e {
        case .int(let v):
            byte(UInt8(ascii: "$")); int(Decimal.length(v)); lit("\r\n"); int(v); lit("\r\n")
        case .bytes(let b):
            byte(UInt8(ascii: "$")); int(b.count); lit("\r\n")
            bytes.append(contentsOf: b.bindMemory(to: UInt8.self)); lit("\r\n")
        }
    }
}

/// Writes lists, sets, sorted sets and hashes as the reader decodes them (no per-element
/// allocation), producing exactly what `RDBDumpCommand.writeJSON` / `writeRESP` produce from
/// materialised values.
final class DumpVisitor: RDBCollectionVisitor {
    let format: RDBDumpCommand.Format
    let filter: KeyFilter
    var out: Out
    /// RESP: the db the output last SELECTed (shared with the caller's materialised path).
    var selectedDB = -1

    private var active = false
    private var first = true
    private var key: [UInt8] = []
    private var expireMs: Int64?
    private var kind = RDBValueKind.list
    // RESP batching: items of the current command, written behind its header when it is full.
    private var side = Out(capacity: 1 << 12)
    private var inBatch = 0
    private var fieldTTLs: [([UInt8], Int64)] = []

    init(format: RDBDumpCommand.Format, filter: KeyFilter, out: Out) {
        self.format = format
        self.filter = filter
        self.out = out
    }

    func begin(db: Int, key: [UInt8], kind: RDBValueKind, expireMs: Int64?, idle: UInt64?, freq: UInt8?) {
        active = filter.accepts(db: db, key: key) && (filter.kinds?.contains(kind) ?? true)
        guard active else { return }
        self.key = key
        self.expireMs = expireMs
        self.kind = kind
        first = true
        if format == .json {
            out.lit("{\"db\":"); out.int(db)
            out.lit(",\"key\":"); out.json(key)
            out.lit(",\"type\":\""); out.raw(kind.rawValue); out.lit("\"")
            if let x = expireMs { out.lit(",\"expire_ms\":"); out.int(x) }
            if let i = idle { out.lit(",\"idle\":"); out.int(i) }
            if let f = freq { out.lit(",\"freq\":"); out.int(f) }
            out.lit(",\"value\":[")
        } else {
            if db != selectedDB { out.resp([Array("SELECT".utf8), Decimal.bytes(Int64(db))]); selectedDB = db }
            inBatch = 0
            side.bytes.removeAll(keepingCapacity: true)
            fieldTTLs.removeAll(keepingCapacity: true)
        }
    }

    @inline(__always) private func comma() {
        if first { first = false } else { out.byte(UInt8(ascii: ",")) }
    }

    private func flush() {
        guard inBatch > 0 else { return }
        let per = kind == .zset || kind == .hash ? 2 : 1
        out.respHeader(2 + inBatch * per)
        switch kind {
        case .list: out.bulk("RPUSH")
        case .set: out.bulk("SADD")
        case .zset: out.bulk("ZADD")
        default: out.bulk("HSET")
        }
        out.bulk(key)
        side.bytes.withUnsafeBytes { out.bytes.append(contentsOf: $0.bindMemory(to: UInt8.self)) }
        side.bytes.removeAll(keepingCapacity: true)
        inBatch = 0
    }

    @inline(__always) private func counted() {
        inBatch += 1
        if inBatch == RDBDumpCommand.itemsPerCommand { flush() }
    }

    func item(_ e: PackedElement) {
        guard active else { return }
        if format == .json { comma(); out.json(e) } else { side.bulk(e); counted() }
    }

    func member(_ m: PackedElement, score: Double) {
        guard active else { return }
        if format == .json {
            comma(); out.byte(UInt8(ascii: "[")); out.json(m); out.byte(UInt8(ascii: ",")); out.jsonDouble(score); out.byte(UInt8(ascii: "]"))
        } else {
            side.bulk(DoubleText.bytes(score)); side.bulk(m); counted()
        }
    }

    func field(_ f: PackedElement, value: PackedElement, expireMs: Int64?) {
        guard active else { return }
        if format == .json {
            comma(); out.byte(UInt8(ascii: "[")); out.json(f); out.byte(UInt8(ascii: ",")); out.json(value)
            if let x = expireMs { out.byte(UInt8(ascii: ",")); out.int(x) }
            out.byte(UInt8(ascii: "]"))
        } else {
            side.bulk(f); side.bulk(value)
            if let x = expireMs { fieldTTLs.append((f.materialized, x)) }
            counted()
        }
    }

    func end() {
        guard active else { return }
        if format == .json {
            out.lit("]}\n")
        } else {
            flush()
            for (f, x) in fieldTTLs {
                out.resp([Array("HPEXPIREAT".utf8), key, Decimal.bytes(x), Array("FIELDS".utf8), Array("1".utf8), f])
            }
            if let x = expireMs { out.respHeader(3); out.bulk("PEXPIREAT"); out.bulk(key); out.bulk(Decimal.bytes(x)) }
        }
        active = false
    }
}
