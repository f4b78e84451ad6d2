import StrataFormats

extension Engine {
    public struct LoadReport: Sendable {
        public var keys = 0
        public var expiredSkipped = 0
        public var emptySkipped = 0
        public var functions: [[UInt8]] = []
        public var aux: [([UInt8], [UInt8])] = []
        public init() {}
    }

    /// Loads every key of an RDB stream into the keyspace, as redis-server does at startup:
    /// keys already expired are dropped (unless `keepExpired`, as for an AOF preamble), empty
    /// collections skipped, a database number beyond the configured count is an error.
    @discardableResult
    public func load(from reader: RDBReader, keepExpired: Bool = false) throws -> LoadReport {
        var report = LoadReport()
        let now = clock()
        var currentDB = 0
        // Collections are built as the reader decodes them (their entry carries a summary).
        let builder = LoadValueBuilder(limits: limits)
        let previousVisitor = reader.visitor
        reader.visitor = builder
        defer { reader.visitor = previousVisitor }
        // Each key is added to the keyspace once the next record is decoded, its bucket fetched
        // meanwhile (a cache miss per key in a large keyspace otherwise).
        var pending: (entry: RDBEntry, built: Value?)?
        while let ev = try reader.next() {
            switch ev {
            case .entry(let e):
                if e.db < databases.count { databases[e.db].dict.prefetch(e.key) }
                if let p = pending { try load(entry: p.entry, built: p.built, now: now, keepExpired: keepExpired, report: &report) }
                pending = (e, builder.take())
            case .function(let code): report.functions.append(code)
            case .aux(let k, let v): report.aux.append((k, v))
            case .selectDB(let n): currentDB = n
            case .resizeDB(let keys, let expires):
                if currentDB < databases.count, keys < 1 << 32 {
                    databases[currentDB].dict.reserve(Int(keys))
                    databases[currentDB].expires.reserve(Int(min(expires, keys)))
                }
            default: break
            }
        }
        if let p = pending { try load(entry: p.entry, built: p.built, now: now, keepExpired: keepExpired, report: &report) }
        return report
    }

    /// Adds one key read from an RDB (or an AOF's RDB preamble) to the keyspace, with Redis's
    /// load rules: expired keys dropped unless `keepExpired`, empty collections skipped, a
    /// duplicate key or a db beyond the configured count refused.
    public func load(entry e: RDBEntry, now: Int64, keepExpired: Bool, report: inout LoadReport) throws {
        try load(entry: e, built: nil, now: now, keepExpired: keepExpired, report: &report)
    }

    /// `built`: the value already made from the entry's elements (when it carries a summary).
    func load(entry e: RDBEntry, built: Value?, now: Int64, keepExpired: Bool, report: inout LoadReport) throws {
        guard e.db < databases.count else {
            throw FormatError(offset: e.offset, "database \(e.db) is beyond the \(databases.count) configured (databases)")
        }
        if e.value.isEmptyCollection { report.emptySkipped += 1; return }
        if let x = e.expireMs, x < now, !keepExpired { report.expiredSkipped += 1; return }
        let db = databases[e.db]
        // One lookup: set says whether the key was new (a duplicate fails the whole load).
        // The key's access metadata: the file's IDLE/FREQ when it has them, else loaded now.
        let meta = accessMeta(idleSeconds: e.idle.map { Int64(clamping: $0) }, frequency: e.freq.map { Int64($0) })
        if !db.dict.set(e.key, built ?? Value.from(e.value, limits: limits), meta: meta) {
            throw FormatError(offset: e.offset, "duplicate key \(RDBReader.printable(e.key)) in db \(e.db)")
        }
        if let x = e.expireMs { db.expires.set(e.key, x) }
        report.keys += 1
    }

    /// Writes the keyspace as an RDB for `target` (no partial state is visible: callers write
    /// through an AtomicFile).
    public func save(to writer: RDBWriter, functions: [[UInt8]] = [], aux: [([UInt8], [UInt8])] = []) throws {
        try writer.writeHeader()
        try writer.writeStandardAux(ctime: clock() / 1000)
        for (k, v) in aux { try writer.writeAux(k, v) }
        for f in functions { try writer.writeFunction(f) }
        for db in databases where db.count > 0 {
            try writer.writeSelectDB(db.id)
            try writer.writeResizeDB(keys: UInt64(db.count), expires: UInt64(db.expires.count))
            var failure: Error?
            let anyExpires = db.expires.count > 0
            // Under an LRU or LFU policy each key's idle time or frequency is saved too (IDLE and
            // FREQ opcodes), as Redis's rdbSaveKeyValuePair does.
            let lru = maxmemoryPolicy.isLRU, lfu = maxmemoryPolicy.isLFU
            db.dict.forEachInStorageOrder { k, v, meta in
                guard failure == nil else { return }
                do {
                    try writer.writeEntry(key: k, value: v.rdbValue, expireMs: anyExpires ? db.expires[k] : nil,
                                          idle: lru ? UInt64(idleMilliseconds(meta) / 1000) : nil,
                                          freq: lfu ? UInt8(lfuDecayed(meta)) : nil)
                } catch { failure = error }
            }
            if let failure { throw failure }
        }
        try writer.finish()
    }

    /// The dataset as the commands that recreate it, as Redis writes an AOF base with
    /// `aof-use-rdb-preamble no`: FUNCTION LOAD for each library, then per database SELECT and
    /// each key's commands (RESPRewrite). `write` receives the bytes in chunks of about 1 MB.
    public func writeCommands(functions: [[UInt8]], _ write: ([UInt8]) throws -> Void) throws {
        var o = RESPBytes()
        o.bytes.reserveCapacity(1 << 20 + 4096)
        for f in functions { o.resp([Array("FUNCTION".utf8), Array("LOAD".utf8), f]) }
        for db in databases where db.count > 0 {
            o.resp([Array("SELECT".utf8), Decimal.bytes(Int64(db.id))])
            let anyExpires = db.expires.count > 0
            try db.dict.forEach { k, v in
                try RESPRewrite.write(RDBEntry(db: db.id, key: k, value: v.rdbValue, expireMs: anyExpires ? db.expires[k] : nil), into: &o)
                if o.bytes.count >= 1 << 20 {
                    try write(o.bytes)
                    o.bytes.removeAll(keepingCapacity: true)
                }
            }
        }
        try write(o.bytes)
    }
}
