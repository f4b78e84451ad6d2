import StrataFormats

/// `strata rdb digest`: Redis's `DEBUG DIGEST` of the dataset an RDB file would load into,
/// computed without a server.
enum RDBDigestCommand {
    static let spec = CommandSpec(
        path: "rdb digest", synopsis: "FILE [--as redis|valkey] [--include-expired] [--json]",
        summary: "Print the DEBUG DIGEST redis-server (or valkey-server) would report after loading FILE, without starting a server.",
        options: [
            OptionSpec(names: ["--as"], valueName: "SERVER", help: "redis (Redis 7.x: hash field TTLs are marked) or valkey (Valkey 9: they are not); default: the file's family."),
            OptionSpec(names: ["--include-expired"], valueName: nil, help: "Count keys whose TTL has passed (Redis drops them when it loads the file)."),
            OptionSpec(names: ["--json"], valueName: nil, help: "Print a JSON object with the digest and what went into it."),
        ],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let path = a.positionals[0]
        let file = try OpenedRDB(path: path, options: RDBReader.Options(materialize: true))
        let version: RDBVersion
        do { version = try file.reader.readHeader() } catch let e as FormatError { throw RDBFileError(path: path, error: e) }
        let flavor = a.value("--as") ?? (version.family == .valkey ? "valkey" : "redis")
        guard flavor == "redis" || flavor == "valkey" else {
            throw UsageError(message: "--as takes redis or valkey, got '\(flavor)'", usage: spec.usage)
        }
        var dataset = RedisDigest.Dataset(fieldTTLMarker: flavor == "redis")
        var keys = 0, expiredSkipped = 0, emptySkipped = 0
        let now = nowMs()
        while let ev = try file.next() {
            guard case .entry(let e) = ev else { continue }
            if e.value.isEmptyCollection { emptySkipped += 1; continue }
            if let x = e.expireMs, x < now, !a.has("--include-expired") { expiredSkipped += 1; continue }
            do {
                try dataset.add(db: e.db, key: e.key, value: e.value, hasExpire: e.expireMs != nil)
            } catch let u as RedisDigest.Unsupported {
                throw CommandFailure(message: "\(path): db \(e.db) key \(RDBReader.printable(e.key)): \(u.description)")
            }
            keys += 1
        }
        var o = Out()
        if a.has("--json") {
            o.lit("{\"file\":"); o.jsonString(path); o.lit(",\"digest\":\""); o.raw(dataset.hex)
            o.lit("\",\"keys\":"); o.int(keys); o.lit(",\"expired_skipped\":"); o.int(expiredSkipped)
            o.lit(",\"empty_skipped\":"); o.int(emptySkipped); o.lit("}\n")
        } else {
            o.raw(dataset.hex); o.byte(10)
        }
        let out = try OutputTarget(path: nil)
        try out.write(&o)
        try out.finish()
        return 0
    }
}
