#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// `strata rdb dump`: every key as JSON Lines, RESP commands, key names or a memory CSV.
enum RDBDumpCommand {
    static let spec = CommandSpec(
        path: "rdb dump", synopsis: "FILE [--format json|resp|keys|memory] [--db N] [--match GLOB] [--type T] [-o OUT]",
        summary: "Print the keys of an RDB file.",
        options: [
            OptionSpec(names: ["--format", "-f"], valueName: "F", help: "json (default; one JSON object per key), resp (for redis-cli --pipe), keys, memory (CSV)."),
            OptionSpec(names: ["--output", "-o"], valueName: "OUT", help: "Write to OUT (atomically) instead of standard output."),
        ] + KeyFilter.options,
        positionals: 1...1)

    enum Format: String { case json, resp, keys, memory }

    /// Redis batches at most 64 items per command when it rewrites an AOF (AOF_REWRITE_ITEMS_PER_CMD).
    static let itemsPerCommand = RESPRewrite.itemsPerCommand

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let fmtName = a.value("--format") ?? "json"
        guard let format = Format(rawValue: fmtName) else {
            throw UsageError(message: "unknown format '\(fmtName)' (json, resp, keys, memory)", usage: spec.usage)
        }
        let filter = try KeyFilter(a, usage: spec.usage)
        let path = a.positionals[0]
        if let o = a.value("--output"), o != "-", o == path || FileIO.sameFile(path, o) {
            throw UsageError(message: "OUT must not be FILE", usage: spec.usage)
        }
        // The keys and memory formats never need the values themselves.
        let materialize = format == .json || format == .resp
        let file = try OpenedRDB(path: path, options: RDBReader.Options(materialize: materialize))
        let out = try OutputTarget(path: a.value("--output"))
        var o = Out(capacity: 1 << 16)
        var selectedDB = -1
        var skippedModules = 0
        if format == .memory { o.lit("database,type,key,size_in_bytes,encoding,num_elements,len_largest_element,expiry\n") }
        // JSON and RESP stream collections straight from the reader's buffers (no arrays built);
        // STRATA_DUMP_MATERIALIZE=1 keeps the value-building path (the tests compare the two).
        let streaming = materialize && getenv("STRATA_DUMP_MATERIALIZE") == nil
        let visitor = streaming ? DumpVisitor(format: format, filter: filter, out: o) : nil
        file.reader.visitor = visitor
        do {
            while let ev = try file.next() {
                if let visitor { selectedDB = visitor.selectedDB }
                switch ev {
                case .entry(let e):
                    if case .summary = e.value, visitor != nil { continue }   // already written by the visitor
                    guard filter.accepts(e) else { continue }
                    switch format {
                    case .keys: o.bytes.append(contentsOf: e.key); o.byte(10)
                    case .json: writeJSON(e, &o)
                    case .memory: MemoryReport.write(e, family: file.reader.version.family, &o)
                    case .resp:
                        if case .module = e.value { skippedModules += 1; continue }
                        if e.db != selectedDB { o.resp([Array("SELECT".utf8), Decimal.bytes(Int64(e.db))]); selectedDB = e.db }
                        try writeRESP(e, &o)
                    }
                case .function(let code):
                    if format == .resp && filter.isEmpty { o.resp([Array("FUNCTION".utf8), Array("LOAD".utf8), code]) }
                    if format == .json && filter.isEmpty { o.lit("{\"function\":"); o.json(code); o.lit("}\n") }
                default: break
                }
                if let visitor { visitor.selectedDB = selectedDB }
                if o.bytes.count >= 1 << 16 { try out.write(&o) }
            }
            try out.write(&o)
            try out.finish()
        } catch {
            out.abandon()
            throw error
        }
        if skippedModules > 0 {
            Console.error("strata rdb dump: \(skippedModules) module value(s) have no command form and were left out of the RESP output")
        }
        return 0
    }

    // MARK: JSON

    static func writeJSON(_ e: RDBEntry, _ o: inout Out) {
        o.lit("{\"db\":"); o.int(e.db)
        o.lit(",\"key\":"); o.json(e.key)
        o.lit(",\"type\":\""); o.raw(e.value.kind.rawValue); o.lit("\"")
        if let x = e.expireMs { o.lit(",\"expire_ms\":"); o.int(x) }
        if let i = e.idle { o.lit(",\"idle\":"); o.int(i) }
        if let f = e.freq { o.lit(",\"freq\":"); o.int(f) }
        o.lit(",\"value\":")
        switch e.value {
        case .string(let s): o.json(s)
        case .list(let l), .set(let l):
            o.lit("[")
            for (i, x) in l.enumerated() { if i > 0 { o.lit(",") }; o.json(x) }
            o.lit("]")
        case .sortedSet(let z):
            o.lit("[")
            for (i, m) in z.enumerated() { if i > 0 { o.lit(",") }; o.lit("["); o.json(m.member); o.lit(","); o.jsonDouble(m.score); o.lit("]") }
            o.lit("]")
        case .hash(let h):
            o.lit("[")
            for (i, f) in h.enumerated() {
                if i > 0 { o.lit(",") }
                o.lit("["); o.json(f.field); o.lit(","); o.json(f.value)
                if let x = f.expireMs { o.lit(","); o.int(x) }
                o.lit("]")
            }
            o.lit("]")
        case .stream(let s): writeStreamJSON(s, &o)
        case .module(let m):
            o.lit("{\"module\":\""); o.raw(m.name); o.lit("\",\"encver\":"); o.int(m.encodingVersion)
            o.lit(",\"module_id\":"); o.int(m.moduleID); o.lit(",\"ops\":[")
            for (i, op) in m.ops.enumerated() {
                if i > 0 { o.lit(",") }
                switch op {
                case .sint(let v): o.lit("{\"sint\":"); o.int(v); o.lit("}")
                case .uint(let v): o.lit("{\"uint\":"); o.int(v); o.lit("}")
                case .float(let b): o.lit("{\"float_bits\":"); o.int(b); o.lit("}")
                case .double(let b): o.lit("{\"double_bits\":"); o.int(b); o.lit("}")
                case .string(let s): o.lit("{\"string\":"); o.json(s); o.lit("}")
                }
            }
            o.lit("]}")
        case .summary: o.lit("null")
        }
        o.lit("}\n")
    }

    static func writeStreamJSON(_ s: StreamValue, _ o: inout Out) {
        o.lit("{\"length\":"); o.int(s.length)
        o.raw(",\"last_id\":\"\(s.lastID)\"")
        if let f = s.firstID { o.raw(",\"first_id\":\"\(f)\"") }
        if let m = s.maxDeletedID { o.raw(",\"max_deleted_id\":\"\(m)\"") }
        if let a = s.entriesAdded { o.lit(",\"entries_added\":"); o.int(a) }
        o.lit(",\"entries\":[")
        var first = true
        try? s.forEachEntry { entry in
            if !first { o.lit(",") }
            first = false
            o.raw("{\"id\":\"\(entry.id)\",\"fields\":[")
            for (i, fv) in entry.fields.enumerated() {
                if i > 0 { o.lit(",") }
                o.lit("["); o.json(fv.field); o.lit(","); o.json(fv.value); o.lit("]")
            }
            o.lit("]}")
        }
        o.lit("],\"groups\":[")
        for (gi, g) in s.groups.enumerated() {
            if gi > 0 { o.lit(",") }
            o.lit("{\"name\":"); o.json(g.name); o.raw(",\"last_id\":\"\(g.lastID)\"")
            if let r = g.entriesRead { o.lit(",\"entries_read\":"); o.int(r) }
            let owner = ownerMap(g)
            o.lit(",\"pending\":[")
            for (i, p) in g.pending.enumerated() {
                if i > 0 { o.lit(",") }
                o.raw("{\"id\":\"\(p.id)\",\"delivery_time_ms\":"); o.int(p.deliveryTimeMs)
                o.lit(",\"delivery_count\":"); o.int(p.deliveryCount)
                if let c = owner[p.id] { o.lit(",\"consumer\":"); o.json(c) }
                o.lit("}")
            }
            o.lit("],\"consumers\":[")
            for (i, c) in g.consumers.enumerated() {
                if i > 0 { o.lit(",") }
                o.lit("{\"name\":"); o.json(c.name); o.lit(",\"seen_time_ms\":"); o.int(c.seenTimeMs)
                if let t = c.activeTimeMs { o.lit(",\"active_time_ms\":"); o.int(t) }
                o.lit(",\"pending\":[")
                for (j, id) in c.pending.enumerated() { if j > 0 { o.lit(",") }; o.raw("\"\(id)\"") }
                o.lit("]}")
            }
            o.lit("]}")
        }
        o.lit("]}")
    }

    static func ownerMap(_ g: StreamGroup) -> [StreamID: [UInt8]] {
        var m = [StreamID: [UInt8]]()
        for c in g.consumers { for id in c.pending { m[id] = c.name } }
        return m
    }

    // MARK: RESP

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Commands that recreate the key, in the form Redis's AOF rewrite uses.
    static func writeRESP(_ e: RDBEntry, _ o: inout Out) throws { try RESPRewrite.write(e, into: &o) }
}

/// Per-key memory estimate in the spirit of rdbtools' memory report: what the key costs in a
/// Redis 7 process (jemalloc size classes, object headers, dict entries), computed from the
/// encoding the file holds. An estimate, documented as such.
enum MemoryReport {
    static func write(_ e: RDBEntry, family: RDBFamily, _ o: inout Out) {
        let s = e.value.summary
        let enc = RDBType.encodingName(e.typeByte, family: family)
        let size = estimate(e, s, enc)
        o.int(e.db); o.lit(","); o.raw(e.value.kind.rawValue); o.lit(",")
        csvField(e.key, &o)
        o.lit(","); o.int(size); o.lit(","); o.raw(enc); o.lit(","); o.int(s.elements); o.lit(",")
        o.int(s.largestElement); o.lit(",")
        if let x = e.expireMs { o.raw(isoTime(x)) }
        o.lit("\n")
    }

    static func csvField(_ b: [UInt8], _ o: inout Out) {
        if b.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }) {
            o.byte(UInt8(ascii: "\""))
            for c in b { if c == UInt8(ascii: "\"") { o.byte(c) }; o.byte(c) }
            o.byte(UInt8(ascii: "\""))
        } else {
            o.raw(b)
        }
    }

    /// jemalloc's size classes.
    static func malloc(_ n: Int) -> Int {
        if n <= 8 { return 8 }
        if n <= 128 { return (n + 15) / 16 * 16 }
        var group = 128
        while group * 2 < n { group *= 2 }
        let step = group / 4
        return (n + step - 1) / step * step
    }

    static func sds(_ len: Int) -> Int { malloc(len + (len < 256 ? 3 : (len < 65536 ? 5 : 9)) + 1) }

    static func estimate(_ e: RDBEntry, _ s: ValueSummary, _ enc: String) -> Int {
        let robj = 16, dictEntry = 24
        var total = dictEntry + sds(e.key.count) + robj
        if e.expireMs != nil { total += dictEntry }
        let n = s.elements
        switch e.value.kind {
        case .string:
            total += s.elementBytes <= 44 ? malloc(robj + 3 + s.elementBytes + 1) - robj : sds(s.elementBytes)
        case .list:
            total += 48 + (s.elementBytes + 2 * n) + 32 * max(1, (s.elementBytes + 2 * n) / 8192 + 1)
        case .set:
            if enc == "intset" { total += malloc(8 + 8 * n) }
            else if enc == "listpack" { total += malloc(7 + s.elementBytes + 2 * n) }
            else { total += 64 + n * (dictEntry + 8) + (s.elementBytes + 4 * n) + 8 * n }
        case .zset:
            if enc == "listpack" || enc == "ziplist" { total += malloc(7 + s.elementBytes + 4 * n) }
            else { total += 64 + n * (dictEntry + 8 + 48) + (s.elementBytes - 8 * n + 4 * n) }
        case .hash:
            if enc == "listpack" || enc == "ziplist" || enc == "zipmap" { total += malloc(7 + s.elementBytes + 4 * n) }
            else { total += 64 + n * (dictEntry + 8) + s.elementBytes + 8 * n }
        case .stream:
            total += 64 + s.elementBytes + 64 * max(1, s.elementBytes / 4096)
        case .module:
            total += 64 + s.elementBytes
        }
        return total
    }

    static func isoTime(_ ms: Int64) -> String {
        // Civil date from days since the epoch (Howard Hinnant's algorithm), UTC.
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = Int(ms - secs * 1000)
        var days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        days += 719468
        let era = (days >= 0 ? days : days - 146096) / 146097
        let doe = days - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        func p3(_ v: Int) -> String { v < 10 ? "00\(v)" : (v < 100 ? "0\(v)" : "\(v)") }
        return "\(y)-\(p2(Int(m)))-\(p2(Int(d)))T\(p2(rem / 3600)):\(p2(rem / 60 % 60)):\(p2(rem % 60)).\(p3(millis))Z"
    }
}
