import StrataFormats

extension Engine {
    public struct LoadReport: Sendable {
        public var keys = 0
        public var expiredSkipped = 0
        public var emptySkipped = 0
        public var functions: [[UInt8]] = []
        public var aux: [([UInt8], [UInt8])] = []
    }

    /// Loads every key of an RDB stream into the keyspace, as redis-server does at startup:
    /// keys already expired are dropped (unless `keepExpired`, as for an AOF preamble), empty
    /// collections skipped, a database number beyond the configured count is an error.
    @discardableResult
    public func load(from reader: RDBReader, keepExpired: Bool = false) throws -> LoadReport {
        var report = LoadReport()
        let now = clock()
        while let ev = try reader.next() {
            switch ev {
            case .entry(let e):
                guard e.db < databases.count else {
                    throw FormatError(offset: e.offset, "database \(e.db) is beyond the \(databases.count) configured (databases)")
                }
                if e.value.isEmptyCollection { report.emptySkipped += 1; continue }
                if let x = e.expireMs, x < now, !keepExpired { report.expiredSkipped += 1; continue }
                let db = databases[e.db]
                if db.dict[e.key] != nil {
                    throw FormatError(offset: e.offset, "duplicate key \(RDBReader.printable(e.key)) in db \(e.db)")
                }
                db.dict.set(e.key, Value.from(e.value, limits: limits))
                if let x = e.expireMs { db.expires.set(e.key, x) }
                report.keys += 1
            case .function(let code): report.functions.append(code)
            case .aux(let k, let v): report.aux.append((k, v))
            default: break
            }
        }
        return report
    }

    /// Writes the keyspace as an RDB for `target` (no partial state is visible: callers write
    /// through an AtomicFile).
    public func save(to writer: RDBWriter, functions: [[UInt8]] = []) throws {
        try writer.writeHeader()
        try writer.writeStandardAux(ctime: clock() / 1000)
        for f in functions { try writer.writeFunction(f) }
        for db in databases where db.count > 0 {
            try writer.writeSelectDB(db.id)
            try writer.writeResizeDB(keys: UInt64(db.count), expires: UInt64(db.expires.count))
            var failure: Error?
            db.dict.forEach { k, v in
                guard failure == nil else { return }
                do { try writer.writeEntry(key: k, value: v.rdbValue, expireMs: db.expires[k]) } catch { failure = error }
            }
            if let failure { throw failure }
        }
        try writer.finish()
    }
}
