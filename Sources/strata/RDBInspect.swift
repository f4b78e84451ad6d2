import StrataFormats

/// `strata rdb inspect` and `strata rdb check`.
enum RDBInspectCommand {
    static let spec = CommandSpec(
        path: "rdb inspect", synopsis: "FILE [--json] [--top N]",
        summary: "Describe an RDB file: version, AUX fields, keys per db by type and encoding, TTLs, the largest keys, functions, checksum.",
        options: [
            OptionSpec(names: ["--json"], valueName: nil, help: "Print one JSON object instead of text."),
            OptionSpec(names: ["--top"], valueName: "N", help: "How many of the largest keys to list (default 10)."),
        ],
        positionals: 1...1)

    struct DBStats {
        var keys = 0
        var expires = 0
        var alreadyExpired = 0
        var byType: [String: Int] = [:]
        var byEncoding: [String: Int] = [:]
        var resizeHint: (UInt64, UInt64)?
    }

    struct BigKey { var db: Int; var key: [UInt8]; var type: String; var size: Int; var elements: Int }

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let top = try a.int("--top", usage: spec.usage, range: 0...100_000) ?? 10
        let path = a.positionals[0]
        let file = try OpenedRDB(path: path, options: RDBReader.Options(materialize: false))
        var aux = [([UInt8], [UInt8])]()
        var dbs = [Int: DBStats]()
        var functions = [[UInt8]]()
        var moduleAux = [String]()
        var slotInfos = 0
        var biggest = [BigKey]()   // kept sorted, descending, at most `top`
        var verdict = ChecksumVerdict.absent
        var trailing = 0
        let now = nowMs()
        var total = 0
        while let ev = try file.next() {
            switch ev {
            case .aux(let k, let v): aux.append((k, v))
            case .selectDB(let n): if dbs[n] == nil { dbs[n] = DBStats() }
            case .resizeDB(let k, let e): dbs[file.reader.currentDB, default: DBStats()].resizeHint = (k, e)
            case .slotInfo: slotInfos += 1
            case .moduleAux(let m): moduleAux.append(m.name)
            case .function(let code): functions.append(code)
            case .slotImport: break
            case .entry(let e):
                total += 1
                var s = dbs[e.db, default: DBStats()]
                s.keys += 1
                let kind = e.value.kind.rawValue
                s.byType[kind, default: 0] += 1
                s.byEncoding[RDBType.encodingName(e.typeByte, family: file.reader.version.family), default: 0] += 1
                if let x = e.expireMs { s.expires += 1; if x < now { s.alreadyExpired += 1 } }
                dbs[e.db] = s
                if top > 0 && (biggest.count < top || e.serializedSize > biggest.last!.size) {
                    let b = BigKey(db: e.db, key: e.key, type: kind, size: e.serializedSize, elements: e.value.summary.elements)
                    let idx = biggest.firstIndex { $0.size < b.size } ?? biggest.count
                    biggest.insert(b, at: idx)
                    if biggest.count > top { biggest.removeLast() }
                }
            case .end(let v, let t): verdict = v; trailing = t
            }
        }
        let version = file.reader.version
        var o = Out()
        if a.has("--json") {
            o.raw("{\"file\":"); o.jsonString(path)
            o.raw(",\"size\":"); o.int(file.source.offset)
            o.raw(",\"magic\":"); o.jsonString(version.description)
            o.raw(",\"family\":\""); o.raw(version.family.rawValue); o.raw("\",\"version\":"); o.int(version.number)
            o.raw(",\"checksum\":")
            switch verdict {
            case .verified(let v): o.raw("{\"status\":\"verified\",\"value\":\"0x\(String(v, radix: 16))\"}")
            case .disabled: o.raw("{\"status\":\"disabled\"}")
            case .absent: o.raw("{\"status\":\"absent\"}")
            case .mismatch: o.raw("{\"status\":\"mismatch\"}")
            }
            o.raw(",\"trailing_bytes\":"); o.int(trailing)
            o.raw(",\"aux\":{")
            for (i, (k, v)) in aux.enumerated() { if i > 0 { o.raw(",") }; o.json(k); o.raw(":"); o.json(v) }
            o.raw("},\"functions\":"); o.int(functions.count)
            o.raw(",\"function_libraries\":[")
            for (i, f) in functions.enumerated() { if i > 0 { o.raw(",") }; o.json(libraryName(f)) }
            o.raw("],\"module_aux\":[")
            for (i, m) in moduleAux.enumerated() { if i > 0 { o.raw(",") }; o.jsonString(m) }
            o.raw("],\"keys\":"); o.int(total)
            o.raw(",\"databases\":[")
            for (i, db) in dbs.keys.sorted().enumerated() {
                let s = dbs[db]!
                if i > 0 { o.raw(",") }
                o.raw("{\"db\":"); o.int(db); o.raw(",\"keys\":"); o.int(s.keys)
                o.raw(",\"expires\":"); o.int(s.expires); o.raw(",\"already_expired\":"); o.int(s.alreadyExpired)
                if let h = s.resizeHint { o.raw(",\"resize_hint\":{\"keys\":\(h.0),\"expires\":\(h.1)}") }
                o.raw(",\"types\":{")
                for (j, t) in s.byType.keys.sorted().enumerated() { if j > 0 { o.raw(",") }; o.jsonString(t); o.raw(":"); o.int(s.byType[t]!) }
                o.raw("},\"encodings\":{")
                for (j, t) in s.byEncoding.keys.sorted().enumerated() { if j > 0 { o.raw(",") }; o.jsonString(t); o.raw(":"); o.int(s.byEncoding[t]!) }
                o.raw("}}")
            }
            o.raw("],\"largest_keys\":[")
            for (i, b) in biggest.enumerated() {
                if i > 0 { o.raw(",") }
                o.raw("{\"db\":"); o.int(b.db); o.raw(",\"key\":"); o.json(b.key)
                o.raw(",\"type\":\"\(b.type)\",\"serialized_bytes\":"); o.int(b.size)
                o.raw(",\"elements\":"); o.int(b.elements); o.raw("}")
            }
            o.raw("]}\n")
        } else {
            o.raw("file:      \(path) (\(file.source.offset) bytes)\n")
            o.raw("format:    \(versionDescription(version))\n")
            o.raw("checksum:  \(checksumDescription(verdict))\n")
            if trailing > 0 { o.raw("trailing:  \(trailing) bytes after the checksum (ignored, as Redis does)\n") }
            if !aux.isEmpty {
                o.raw("aux:\n")
                for (k, v) in aux { o.raw("  "); o.raw(k); o.raw(" = "); o.raw(Array(RDBReader.printable(v, limit: 200).utf8)); o.raw("\n") }
            }
            if !functions.isEmpty {
                o.raw("functions: \(functions.count) librar\(functions.count == 1 ? "y" : "ies"):")
                for f in functions { o.raw(" "); o.raw(libraryName(f)) }
                o.raw("\n")
            }
            if !moduleAux.isEmpty { o.raw("module aux: \(moduleAux.joined(separator: ", "))\n") }
            if slotInfos > 0 { o.raw("slot info records: \(slotInfos)\n") }
            o.raw("keys:      \(total)\n")
            for db in dbs.keys.sorted() {
                let s = dbs[db]!
                o.raw("db \(db): \(s.keys) keys, \(s.expires) with a TTL")
                if s.alreadyExpired > 0 { o.raw(" (\(s.alreadyExpired) already expired)") }
                o.raw("\n")
                o.raw("  by type:     " + s.byType.keys.sorted().map { "\($0) \(s.byType[$0]!)" }.joined(separator: ", ") + "\n")
                o.raw("  by encoding: " + s.byEncoding.keys.sorted().map { "\($0) \(s.byEncoding[$0]!)" }.joined(separator: ", ") + "\n")
            }
            if !biggest.isEmpty {
                o.raw("largest keys (bytes in the file):\n")
                for b in biggest {
                    o.raw("  \(String(b.size).leftPadded(10))  db \(b.db)  \(b.type.rightPadded(6))  \(b.elements) elements  ")
                    o.raw(RDBReader.printable(b.key)); o.raw("\n")
                }
            }
        }
        let out = try OutputTarget(path: nil)
        try out.write(&o)
        try out.finish()
        return 0
    }

    /// The `name=` of a `#!lua name=mylib` shebang.
    static func libraryName(_ code: [UInt8]) -> [UInt8] {
        let firstLine = code.prefix { $0 != 10 }
        let s = String(decoding: firstLine, as: UTF8.self)
        for part in s.split(separator: " ") where part.hasPrefix("name=") {
            return Array(part.dropFirst(5).utf8)
        }
        return Array("(unnamed)".utf8)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// `strata rdb check`: structure and CRC-64 without building a keyspace.
enum RDBCheckCommand {
    static let spec = CommandSpec(
        path: "rdb check", synopsis: "FILE [--json]",
        summary: "Validate an RDB file (every length, encoding, packed blob, stream node and the CRC-64) without loading it. Exit 0 only if valid.",
        options: [OptionSpec(names: ["--json"], valueName: nil, help: "Print one JSON object instead of text.")],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let path = a.positionals[0]
        let json = a.has("--json")
        var options = RDBReader.Options(materialize: false)
        options.keepKeys = false
        let file = try OpenedRDB(path: path, options: options)
        var keys = 0, expires = 0, functions = 0, dbs = Set<Int>(), empty = 0
        var verdict = ChecksumVerdict.absent
        var o = Out()
        do {
            while let ev = try file.next() {
                switch ev {
                case .entry(let e):
                    keys += 1
                    dbs.insert(e.db)
                    if e.expireMs != nil { expires += 1 }
                    if e.value.isEmptyCollection { empty += 1 }
                case .function: functions += 1
                case .end(let v, _): verdict = v
                default: break
                }
            }
        } catch let e as RDBFileError {
            if json {
                o.raw("{\"file\":"); o.jsonString(path); o.raw(",\"valid\":false,\"offset\":"); o.int(e.error.offset)
                o.raw(",\"error\":"); o.jsonString(e.error.message)
                o.raw(",\"context\":"); o.jsonString(e.error.context ?? "")
                if let k = file.reader.currentKey { o.raw(",\"db\":"); o.int(file.reader.currentDB); o.raw(",\"key\":"); o.json(k) }
                o.raw(",\"keys_read\":"); o.int(keys); o.raw("}\n")
                let out = try OutputTarget(path: nil)
                try out.write(&o); try out.finish()
            } else {
                Console.error("strata rdb check: \(path): INVALID \(e.error.description)")
                Console.error("strata rdb check: \(keys) keys were read before the error")
            }
            return 1
        }
        let version = file.reader.version
        if json {
            o.raw("{\"file\":"); o.jsonString(path); o.raw(",\"valid\":true,\"magic\":"); o.jsonString(version.description)
            o.raw(",\"keys\":"); o.int(keys); o.raw(",\"expires\":"); o.int(expires)
            o.raw(",\"databases\":"); o.int(dbs.count); o.raw(",\"functions\":"); o.int(functions)
            o.raw(",\"checksum\":\"")
            switch verdict {
            case .verified: o.raw("verified")
            case .disabled: o.raw("disabled")
            case .absent: o.raw("absent")
            case .mismatch: o.raw("mismatch")
            }
            o.raw("\",\"bytes\":"); o.int(file.source.offset)
            o.raw(",\"empty_keys\":"); o.int(empty); o.raw("}\n")
        } else {
            o.raw("OK: \(path) is a valid \(versionDescription(version)) file: \(keys) keys (\(expires) with a TTL) in \(dbs.count) database\(dbs.count == 1 ? "" : "s")")
            if functions > 0 { o.raw(", \(functions) function librar\(functions == 1 ? "y" : "ies")") }
            o.raw("; checksum \(checksumDescription(verdict))\n")
        }
        if empty > 0 {
            Console.error("strata rdb check: warning: \(empty) empty collection(s); redis-server skips them when loading, redis-check-rdb reports them as errors")
        }
        let out = try OutputTarget(path: nil)
        try out.write(&o); try out.finish()
        return 0
    }
}

extension String {
    func rightPadded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
