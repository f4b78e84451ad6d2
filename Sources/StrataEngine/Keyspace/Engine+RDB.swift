#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

extension Engine {
    private final class LoadFailure: @unchecked Sendable { var error: Error? }

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
        if let report = try loadOnTwoThreads(from: reader, keepExpired: keepExpired) { return report }
        return try loadOnOneThread(from: reader, keepExpired: keepExpired)
    }

    /// One decoded record on its way from the reader's thread to the keyspace's.
    private struct LoadItem {
        var event: RDBEvent
        var built: LoadValueBuilder.Loaded
    }

    /// Items handed over together (a pointer and a count: the hand-off itself touches no
    /// reference count; the items are moved out by the consumer).
    private struct LoadBatch: @unchecked Sendable {
        var items: UnsafeMutablePointer<LoadItem>
        var count: Int
        /// The deferred records' bytes (`RecordBytes`), freed with the batch.
        var records: UnsafeMutableRawPointer? = nil
        static let capacity = 512
        /// A batch is handed over early once its records hold this much.
        static let recordBytes = 4 << 20

        init(capacity: Int = LoadBatch.capacity) {
            items = .allocate(capacity: capacity)
            count = 0
        }

        func dispose() {
            items.deinitialize(count: count)
            items.deallocate()
            free(records)
        }
    }

    /// `load(from:)` in two stages, as a pipeline: a worker thread reads and decodes the file
    /// (checksum, LZF, listpacks, the values' bytes) while this thread builds sets and fills
    /// the keyspace, in the file's order. The engine's objects are created on the worker and
    /// handed over whole: after a batch is queued the worker never touches what it holds (the
    /// reader drops its key, the builder its value), which the engine's non-atomic reference
    /// counts require. nil when no thread could be started.
    private func loadOnTwoThreads(from reader: RDBReader, keepExpired: Bool) throws -> LoadReport? {
        let limits = self.limits
        let queue = HandOff<LoadBatch>(limit: 4)
        // Both threads use the queue: through an unretained reference, so that neither
        // touches its (non-atomic, in this module) reference count; `queue` keeps it alive.
        let handOff = Unmanaged.passUnretained(queue)
        // Written by the worker, read here only after it has been joined.
        let failure = LoadFailure()
        let produce = {
            let builder = LoadValueBuilder(limits: limits, deferBuilding: true)
            let previousVisitor = reader.visitor
            reader.visitor = builder
            var batch = LoadBatch()
            do {
                while let ev = try reader.next() {
                    var built = LoadValueBuilder.Loaded.none
                    if case .entry = ev {
                        reader.dropCurrentKey()
                        built = builder.takeLoaded()
                    }
                    (batch.items + batch.count).initialize(to: LoadItem(event: ev, built: built))
                    batch.count += 1
                    if batch.count == LoadBatch.capacity || builder.records.count >= LoadBatch.recordBytes {
                        batch.records = builder.records.detach()
                        guard handOff._withUnsafeGuaranteedRef({ $0.put(batch) }) else {
                            batch.dispose()   // the keyspace's thread stopped at an error
                            batch = LoadBatch(capacity: 1)
                            break
                        }
                        batch = LoadBatch()
                        // Sets go to the keyspace's thread while it keeps up, and are built
                        // here while it falls behind (the queue filling up): the two threads
                        // stay about equally busy whatever the file holds.
                        builder.deferBuilding = handOff._withUnsafeGuaranteedRef({ $0.queued }) < 2
                    }
                }
            } catch {
                failure.error = error
            }
            reader.visitor = previousVisitor
            batch.records = builder.records.detach()
            if batch.count == 0 || !handOff._withUnsafeGuaranteedRef({ $0.put(batch) }) { batch.dispose() }
            handOff._withUnsafeGuaranteedRef { $0.finish() }
        }
        return try withExtendedLifetime(queue) { try withWorkerThread(produce) { () throws -> LoadReport in
            var report = LoadReport()
            let now = clock()
            var currentDB = 0
            var done = false
            let finisher = LoadValueBuilder(limits: limits)
            // Anything this thread did not take (it stopped at an error) is freed here.
            defer { if !done { for b in handOff._withUnsafeGuaranteedRef({ $0.cancel() }) { b.dispose() } } }
            while let batch = handOff._withUnsafeGuaranteedRef({ $0.take() }) {
                defer { batch.items.deallocate(); free(batch.records) }
                let records = UnsafeRawPointer(batch.records) ?? UnsafeRawPointer(batch.items)   // (no records: never read)
                var i = 0
                // The items left when one fails are deinitialised, not leaked.
                defer { (batch.items + i).deinitialize(count: batch.count - i) }
                while i < batch.count {
                    let item = (batch.items + i).move()
                    i += 1
                    // The next key's bucket is fetched while this one is added (a cache miss
                    // per key in a large keyspace otherwise).
                    if i < batch.count, case .entry(let next) = batch.items[i].event, next.db < databases.count {
                        databases[next.db].dict.prefetch(next.key)
                    }
                    switch item.event {
                    case .entry(let e):
                        let value: Value?
                        switch item.built {
                        case .none: value = nil
                        case .value(let v): value = v
                        case .set(let members): value = .set(try members.build(records: records, limits: limits, offset: e.offset))
                        case .listpack(let blob): value = try finisher.build(blob, records: records, db: e.db, key: e.key, typeByte: e.typeByte)
                        }
                        try load(entry: e, built: value, now: now, keepExpired: keepExpired, report: &report)
                    default: apply(item.event, currentDB: &currentDB, report: &report)
                    }
                }
            }
            done = true
            return report
        }.map { report in
            // The worker has been joined: its error (if any) is this thread's to read.
            if let error = failure.error { throw error }
            return report
        } }
    }

    /// A record that is not a key: functions and aux fields for the report, the current
    /// database, and a table sized as RESIZEDB asks.
    private func apply(_ ev: RDBEvent, currentDB: inout Int, report: inout LoadReport) {
        switch ev {
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

    @discardableResult
    func loadOnOneThread(from reader: RDBReader, keepExpired: Bool = false) throws -> LoadReport {
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
            default: apply(ev, currentDB: &currentDB, report: &report)
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
