import StrataFormats

enum ServerCommands {
    static let all: [Command] = [
        cmd("ping", -1, [.fast], 0, 0, 0) { c in
            if c.args.count > 2 { throw CommandError("ERR wrong number of arguments for 'ping' command") }
            return c.args.count == 2 ? .bulk(c.arg(1)) : .status("PONG")
        },
        cmd("echo", 2, [.fast], 0, 0, 0) { c in .bulk(c.arg(1)) },
        cmd("flushdb", -1, [.write], 0, 0, 0) { c in
            try checkFlushArgs(c)
            c.db.dict.removeAll(); c.db.expires.removeAll()
            c.propagate([Array("FLUSHDB".utf8)])
            return .ok
        },
        cmd("flushall", -1, [.write], 0, 0, 0) { c in
            try checkFlushArgs(c)
            for db in c.engine.databases { db.dict.removeAll(); db.expires.removeAll() }
            c.propagate([Array("FLUSHALL".utf8)])
            return .ok
        },
        cmd("debug", -2, [.admin], 0, 0, 0) { c in
            switch c.argString(1) {
            case "digest":
                return .status(c.engine.digest())
            case "digest-value":
                var out = [Reply]()
                for k in c.args.dropFirst(2) {
                    var d = RedisDigest.zero
                    if let v = c.db.dict[k] { d = (try? RedisDigest.valueDigest(v.rdbValue)) ?? d }
                    out.append(.status(d.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()))
                }
                return .array(out)
            default:
                throw CommandError("ERR unknown subcommand '\(String(decoding: c.arg(1), as: UTF8.self))'. Try DEBUG HELP.")
            }
        },
    ]

    static func checkFlushArgs(_ c: CommandContext) throws {
        if c.args.count > 2 { throw CommandError.syntax }
        if c.args.count == 2 && !["async", "sync"].contains(c.argString(1)) { throw CommandError.syntax }
    }
}

extension Engine {
    /// `DEBUG DIGEST`: Redis's dataset fingerprint of what the engine holds (logically expired
    /// keys included, as Redis's own digest walks the dict without expiring).
    public func digest() -> String {
        var d = RedisDigest.Dataset()
        for db in databases {
            db.dict.forEach { k, v in
                try? d.add(db: db.id, key: k, value: v.rdbValue, hasExpire: db.expires[k] != nil)
            }
        }
        return d.hex
    }
}
