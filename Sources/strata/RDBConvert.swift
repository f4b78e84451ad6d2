import StrataFormats

/// `strata rdb convert`: re-encode an RDB for another Redis or Valkey version, optionally filtered.
enum RDBConvertCommand {
    static let spec = CommandSpec(
        path: "rdb convert", synopsis: "INPUT -o OUT.rdb [--target T | --rdb-version N] [--drop-unsupported] [--db N] [--match GLOB] [--type T]",
        summary: "Re-encode an RDB file for a target Redis or Valkey version, optionally keeping only some keys. OUT is written atomically.",
        options: [
            OptionSpec(names: ["--output", "-o"], valueName: "OUT", help: "The RDB file to write (required)."),
            OptionSpec(names: ["--target"], valueName: "T", help: "redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-8 or valkey-9 (default: the input's own version)."),
            OptionSpec(names: ["--rdb-version"], valueName: "N", help: "Target RDB version 1-12 (Redis) or 80 (Valkey 9)."),
            OptionSpec(names: ["--drop-unsupported"], valueName: nil, help: "Leave out (and list on stderr) what the target cannot hold instead of failing."),
            OptionSpec(names: ["--no-compression"], valueName: nil, help: "Do not LZF-compress strings (rdbcompression no)."),
        ] + KeyFilter.options,
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        guard let outPath = a.value("--output") else { throw UsageError(message: "-o OUT is required", usage: spec.usage) }
        if a.value("--target") != nil && a.value("--rdb-version") != nil {
            throw UsageError(message: "--target and --rdb-version exclude each other", usage: spec.usage)
        }
        var target: RDBTarget?
        if let t = a.value("--target") {
            guard let x = RDBTarget.named(t) else {
                throw UsageError(message: "unknown target '\(t)' (\(RDBTarget.named.map(\.name).joined(separator: ", ")))", usage: spec.usage)
            }
            target = x
        }
        if let n = try a.int("--rdb-version", usage: spec.usage, range: 1...80) {
            guard let x = RDBTarget.forVersion(n) else {
                throw UsageError(message: "RDB version \(n) cannot be written (1-12 or 80)", usage: spec.usage)
            }
            target = x
        }
        let filter = try KeyFilter(a, usage: spec.usage)
        let input = a.positionals[0]
        if input == outPath || FileIO.sameFile(input, outPath) { throw UsageError(message: "OUT must not be INPUT", usage: spec.usage) }
        let file = try OpenedRDB(path: input, options: RDBReader.Options(materialize: true))
        let version: RDBVersion
        do { version = try file.reader.readHeader() } catch let e as FormatError { throw RDBFileError(path: input, error: e) }
        let chosen = target ?? RDBTarget.matching(version)!
        let out = try AtomicFile(path: outPath)
        let sink = ByteSink(fileDescriptor: out.fd)
        let writer = RDBWriter(sink: sink, target: chosen)
        writer.compression = !a.has("--no-compression")
        let drop = a.has("--drop-unsupported")
        var dropped = [String]()
        var written = 0
        var emptySkipped = 0
        do {
            try writer.writeHeader()
            try writer.writeStandardAux(ctime: nowMs() / 1000)
            var selected = -1
            var pendingResize: (UInt64, UInt64)?
            while let ev = try file.next() {
                switch ev {
                case .aux(let k, let v):
                    let ks = String(decoding: k, as: UTF8.self)
                    if ["redis-ver", "valkey-ver", "redis-bits", "ctime", "used-mem"].contains(ks) { continue }
                    try writer.writeAux(k, v)
                case .function(let code):
                    guard filter.isEmpty else { continue }
                    do { try writer.writeFunction(code) } catch let u as RDBWriter.Unsupported {
                        guard drop else { throw CommandFailure(message: "\(input): the target \(chosen.name) cannot hold function library \(String(decoding: RDBInspectCommand.libraryName(code), as: UTF8.self)): \(u.description) (use --drop-unsupported to leave it out)") }
                        dropped.append("function library \(String(decoding: RDBInspectCommand.libraryName(code), as: UTF8.self)): \(u.description)")
                    }
                case .moduleAux(let m):
                    do { try writer.writeModuleAux(m) } catch let u as RDBWriter.Unsupported {
                        guard drop else { throw CommandFailure(message: "\(input): module aux data of \(m.name): \(u.description) (use --drop-unsupported)") }
                        dropped.append("module aux data of \(m.name): \(u.description)")
                    }
                case .resizeDB(let k, let e):
                    if filter.isEmpty { pendingResize = (k, e) }
                case .entry(var e):
                    guard filter.accepts(e) else { continue }
                    if e.value.isEmptyCollection {
                        // Redis skips these when loading ("empty keys skipped"); so does convert.
                        emptySkipped += 1
                        continue
                    }
                    if let reason = writer.unsupportedReason(e.value, expireMs: e.expireMs) {
                        let name = "db \(e.db) key \(RDBReader.printable(e.key))"
                        guard drop else {
                            throw CommandFailure(message: "\(input): the target \(chosen.name) cannot hold \(name): \(reason) (use --drop-unsupported to leave it out)")
                        }
                        if case .hash(var fields) = e.value, fields.contains(where: { $0.expireMs != nil }) {
                            for i in fields.indices { fields[i].expireMs = nil }
                            e.value = .hash(fields)
                        }
                        if let still = writer.unsupportedReason(e.value, expireMs: e.expireMs) {
                            dropped.append("\(name): left out (\(still))")
                            continue
                        }
                        dropped.append("\(name): field TTLs removed (\(reason))")
                    }
                    if e.db != selected {
                        try writer.writeSelectDB(e.db)
                        if let r = pendingResize, e.db == file.reader.currentDB { try writer.writeResizeDB(keys: r.0, expires: r.1) }
                        selected = e.db
                    }
                    pendingResize = nil
                    try writer.writeEntry(key: e.key, value: e.value, expireMs: e.expireMs, idle: e.idle, freq: e.freq)
                    written += 1
                case .selectDB: pendingResize = nil
                case .end: break
                case .slotInfo, .slotImport: break   // cluster bookkeeping; the target server recomputes it
                }
            }
            try writer.finish()
            try out.commit()
        } catch {
            out.abandon()
            throw error
        }
        for d in dropped { Console.error("strata rdb convert: dropped \(d)") }
        if emptySkipped > 0 { Console.error("strata rdb convert: skipped \(emptySkipped) empty key(s), as Redis does when loading") }
        if Console.stderrIsTerminal {
            Console.error("strata rdb convert: wrote \(written) keys to \(outPath) as \(chosen.version) (\(chosen.name))")
        }
        return 0
    }
}

/// `strata rdb salvage`: recover every readable key of a damaged file into a valid RDB.
enum RDBSalvageCommand {
    static let spec = CommandSpec(
        path: "rdb salvage", synopsis: "DAMAGED -o OUT.rdb [--target T] [--json]",
        summary: "Recover every key that can still be read from a damaged RDB file, write them as a valid RDB, and report what was lost.",
        options: [
            OptionSpec(names: ["--output", "-o"], valueName: "OUT", help: "The RDB file to write (required)."),
            OptionSpec(names: ["--target"], valueName: "T", help: "Version to write (default: the damaged file's own)."),
            OptionSpec(names: ["--json"], valueName: nil, help: "Print the report as JSON."),
        ],
        positionals: 1...1)

    struct LostRegion { var start: Int; var end: Int; var key: [UInt8]?; var db: Int; var reason: String }

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        guard let outPath = a.value("--output") else { throw UsageError(message: "-o OUT is required", usage: spec.usage) }
        let input = a.positionals[0]
        if input == outPath || FileIO.sameFile(input, outPath) { throw UsageError(message: "OUT must not be DAMAGED", usage: spec.usage) }
        var target: RDBTarget?
        if let t = a.value("--target") {
            guard let x = RDBTarget.named(t) else { throw UsageError(message: "unknown target '\(t)'", usage: spec.usage) }
            target = x
        }
        let data: [UInt8]
        do { data = try FileIO.readFile(input) } catch let e as SystemError { throw CommandFailure(message: e.description) }
        let src = ByteSource(bytes: data)
        // One more view of the same bytes for trying resynchronisation points (seeked, never copied per try).
        let probe = ByteSource(bytes: data)
        let reader = RDBReader(source: src, options: RDBReader.Options(materialize: true, verifyChecksum: false))
        let version: RDBVersion
        do { version = try reader.readHeader() } catch let e as FormatError {
            throw CommandFailure(message: "\(input): \(e.description); nothing can be salvaged without a valid header")
        }
        let chosen = target ?? RDBTarget.matching(version)!
        let out = try AtomicFile(path: outPath)
        let writer = RDBWriter(sink: ByteSink(fileDescriptor: out.fd), target: chosen)
        var lost = [LostRegion]()
        var recovered = 0
        var seen = Set<[UInt8]>()   // db number + key, so a resync never writes a key twice
        var reachedEnd = false
        var checksumMismatch = false
        var dropped = 0
        do {
            try writer.writeHeader()
            try writer.writeStandardAux(ctime: nowMs() / 1000)
            var selected = -1
            var lastGood = src.offset
            while !reachedEnd {
                do {
                    guard let ev = try reader.next() else { break }
                    switch ev {
                    case .entry(let e):
                        var tag = Decimal.bytes(Int64(e.db)); tag.append(0); tag += e.key
                        if seen.insert(tag).inserted {
                            if writer.unsupportedReason(e.value, expireMs: e.expireMs) != nil { dropped += 1 } else {
                                if e.db != selected { try writer.writeSelectDB(e.db); selected = e.db }
                                try writer.writeEntry(key: e.key, value: e.value, expireMs: e.expireMs, idle: e.idle, freq: e.freq)
                                recovered += 1
                            }
                        }
                    case .function(let code): try? writer.writeFunction(code)
                    case .end(let v, _):
                        reachedEnd = true
                        if case .mismatch = v { checksumMismatch = true }
                    default: break
                    }
                    lastGood = src.offset
                } catch let e as FormatError {
                    let key = reader.currentKey
                    let damagedDB = reader.currentDB
                    // Resynchronise: the first later offset where a record and the one after it both parse.
                    var p = lastGood + 1
                    var found: Int?
                    while p < data.count {
                        if plausibleRecord(at: p, probe: probe, version: version, db: damagedDB) { found = p; break }
                        p += 1
                    }
                    lost.append(LostRegion(start: lastGood, end: found ?? data.count, key: key, db: damagedDB, reason: e.message))
                    guard let f = found else { break }
                    src.seek(to: f)
                    reader.resume(version: version, db: damagedDB)
                    lastGood = f
                }
            }
            try writer.finish()
            try out.commit()
        } catch {
            out.abandon()
            throw error
        }
        var o = Out()
        if a.has("--json") {
            o.raw("{\"input\":"); o.jsonString(input); o.raw(",\"output\":"); o.jsonString(outPath)
            o.raw(",\"recovered_keys\":"); o.int(recovered); o.raw(",\"reached_eof\":\(reachedEnd)")
            o.raw(",\"unwritable_keys\":"); o.int(dropped)
            o.raw(",\"checksum_mismatch\":\(checksumMismatch)")
            o.raw(",\"lost_regions\":[")
            for (i, r) in lost.enumerated() {
                if i > 0 { o.raw(",") }
                o.raw("{\"start\":"); o.int(r.start); o.raw(",\"end\":"); o.int(r.end); o.raw(",\"db\":"); o.int(r.db)
                if let k = r.key { o.raw(",\"key\":"); o.json(k) }
                o.raw(",\"error\":"); o.jsonString(r.reason); o.raw("}")
            }
            o.raw("]}\n")
        } else {
            o.raw("recovered \(recovered) keys from \(input) into \(outPath) (\(chosen.version))\n")
            if lost.isEmpty { o.raw("no damaged region found\n") }
            for r in lost {
                o.raw("lost bytes \(r.start)-\(r.end) (\(r.end - r.start) bytes) in db \(r.db)")
                if let k = r.key { o.raw(", including key "); o.raw(RDBReader.printable(k)) }
                o.raw(": \(r.reason)\n")
            }
            if !reachedEnd { o.raw("the end of the file (EOF opcode) was not reached\n") }
            if dropped > 0 { o.raw("\(dropped) keys could not be written in the target version\n") }
            if checksumMismatch && lost.isEmpty {
                o.raw("the structure is intact but the CRC-64 does not match: some value bytes changed; every key was kept, check the data\n")
            }
        }
        let so = try OutputTarget(path: nil)
        try so.write(&o); try so.finish()
        return lost.isEmpty && reachedEnd && !checksumMismatch ? 0 : 3
    }

    /// True when records parse at `p` three in a row (or up to a real end of file), each key
    /// non-empty and each value non-empty: what a resynchronisation point must show before
    /// anything read from it is trusted. Random bytes and the insides of compressed values
    /// rarely pass; passing is still evidence, not proof, which the report says.
    static func plausibleRecord(at p: Int, probe src: ByteSource, version: RDBVersion, db: Int) -> Bool {
        src.seek(to: p)
        guard let t = try? src.peekByte() else { return false }
        // Only start at a type byte or an opcode that begins a record.
        guard t <= 25 || t == RDBOpcode.selectDB || t == RDBOpcode.expireTimeMS || t == RDBOpcode.eof || t == RDBOpcode.aux else { return false }
        // An EOF opcode only counts where exactly its checksum follows to the end of the file
        // (decided by arithmetic: 0xFF bytes are common inside values).
        if t == RDBOpcode.eof { return p + 1 + (version.hasChecksum ? 8 : 0) == src.knownSize }
        let r = RDBReader(source: src, options: RDBReader.Options(materialize: false, verifyChecksum: false))
        r.resume(version: version, db: db)
        do {
            for _ in 0..<3 {
                guard let ev = try r.next() else { return false }
                switch ev {
                case .end(_, let trailing): return trailing == 0
                case .entry(let e): if e.key.isEmpty || e.value.summary.elements == 0 { return false }
                default: break
                }
            }
            return true
        } catch {
            return false
        }
    }
}
