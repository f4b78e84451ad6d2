import StrataFormats

enum KeyCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    static let all: [Command] = [
        cmd("del", -2, [.write], 1, -1, 1) { c in try del(&c) },
        cmd("unlink", -2, [.write, .fast], 1, -1, 1) { c in try del(&c) },
        cmd("exists", -2, [.readonly, .fast], 1, -1, 1) { c in
            .integer(Int64(c.args.dropFirst().filter { c.lookup($0) != nil }.count))
        },
        cmd("touch", -2, [.readonly, .fast], 1, -1, 1) { c in
            .integer(Int64(c.args.dropFirst().filter { c.lookup($0) != nil }.count))
        },
        cmd("type", 2, [.readonly, .fast], 1, 1, 1) { c in
            .status(c.lookup(c.arg(1))?.typeName ?? "none")
        },
        cmd("rename", 3, [.write], 1, 2, 1) { c in try rename(&c, nx: false) },
        cmd("renamenx", 3, [.write, .fast], 1, 2, 1) { c in try rename(&c, nx: true) },
        cmd("expire", -3, [.write, .fast], 1, 1, 1) { c in try expire(&c, base: c.now, unitMs: 1000, name: "expire") },
        cmd("pexpire", -3, [.write, .fast], 1, 1, 1) { c in try expire(&c, base: c.now, unitMs: 1, name: "pexpire") },
        cmd("expireat", -3, [.write, .fast], 1, 1, 1) { c in try expire(&c, base: 0, unitMs: 1000, name: "expireat") },
        cmd("pexpireat", -3, [.write, .fast], 1, 1, 1) { c in try expire(&c, base: 0, unitMs: 1, name: "pexpireat") },
        cmd("ttl", 2, [.readonly, .fast], 1, 1, 1) { c in ttl(&c, ms: false, absolute: false) },
        cmd("pttl", 2, [.readonly, .fast], 1, 1, 1) { c in ttl(&c, ms: true, absolute: false) },
        cmd("expiretime", 2, [.readonly, .fast], 1, 1, 1) { c in ttl(&c, ms: false, absolute: true) },
        cmd("pexpiretime", 2, [.readonly, .fast], 1, 1, 1) { c in ttl(&c, ms: true, absolute: true) },
        cmd("persist", 2, [.write, .fast], 1, 1, 1) { c in
            guard c.lookup(c.arg(1)) != nil, c.db.expires.remove(c.arg(1)) != nil else { return .integer(0) }
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("keys", 2, [.readonly], 0, 0, 0) { c in
            let pattern = c.arg(1)
            let all = pattern == B("*")
            let now = c.now
            var out = [Reply]()
            c.db.dict.forEach { k, _ in
                if let w = c.db.expires[k], now > w { return }
                if all || Glob.matches(pattern, k) { out.append(.bulk(k)) }
            }
            return .array(out)
        },
        cmd("scan", -2, [.readonly], 0, 0, 0) { c in try scan(&c) },
        cmd("randomkey", 1, [.readonly], 0, 0, 0) { c in
            for _ in 0..<100 {
                guard let k = c.db.dict.randomKey(using: &c.engine.rng) else { return .null }
                if c.lookup(k) != nil { return .bulk(k) }
            }
            return .null
        },
        cmd("dbsize", 1, [.readonly, .fast], 0, 0, 0) { c in .integer(Int64(c.db.count)) },
        cmd("select", 2, [.fast], 0, 0, 0) { c in
            guard let n = Decimal.parseCanonical(c.arg(1)) else { throw CommandError.notInteger }
            guard n >= 0 && n < Int64(c.engine.databases.count) else { throw CommandError.dbOutOfRange }
            c.client.db = Int(n)
            return .ok
        },
        cmd("swapdb", 3, [.write, .fast], 0, 0, 0) { c in
            guard let a = Decimal.parseCanonical(c.arg(1)) else { throw CommandError("ERR invalid first DB index") }
            guard let b = Decimal.parseCanonical(c.arg(2)) else { throw CommandError("ERR invalid second DB index") }
            let n = Int64(c.engine.databases.count)
            guard a >= 0 && a < n && b >= 0 && b < n else { throw CommandError.dbOutOfRange }
            c.engine.swapDatabases(Int(a), Int(b))
            c.db = c.engine.databases[c.client.db]
            c.propagateAsIs()
            return .ok
        },
        cmd("move", 3, [.write, .fast], 1, 1, 1) { c in
            guard let n = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
            guard n >= 0 && n < Int64(c.engine.databases.count) else { throw CommandError.dbOutOfRange }
            let target = c.engine.databases[Int(n)]
            if target === c.db { throw CommandError("ERR source and destination objects are the same") }
            guard let v = c.lookup(c.arg(1)) else { return .integer(0) }
            if c.engine.lookup(target, c.arg(1)) != nil { return .integer(0) }
            let ttl = c.db.expires[c.arg(1)]
            c.engine.store(target, c.arg(1), v)
            if let ttl { c.engine.setExpire(target, c.arg(1), ttl) }
            c.engine.delete(c.db, c.arg(1))
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("copy", -3, [.write, .denyoom], 1, 2, 1) { c in try copy(&c) },
        cmd("dump", 2, [.readonly], 1, 1, 1) { c in
            guard let v = c.lookup(c.arg(1)) else { return .null }
            do {
                return .bulk(try RDBWriter.dumpPayload(v.rdbValue, target: Engine.dumpTarget))
            } catch {
                throw CommandError("ERR \(error)")
            }
        },
        cmd("restore", -4, [.write, .denyoom], 1, 1, 1) { c in try restore(&c) },
        cmd("object", -2, [.readonly], 2, 2, 1) { c in
            let sub = c.argString(1)
            if sub == "help" {
                guard c.args.count == 2 else { throw CommandError("ERR wrong number of arguments for 'object|help' command") }
                return .array(["OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                               "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
                               "    associated with a <key>.",
                               "FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
                               "    proportional to the logarithm of the recent access frequency of the key.",
                               "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
                               "    seconds elapsed since the last access to the key.",
                               "REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
                               "    <key>.",
                               "HELP", "    Prints this help."].map { .status($0) })
            }
            guard ["encoding", "freq", "idletime", "refcount"].contains(sub) else {
                throw CommandError("ERR unknown subcommand '\(c.argText(1))'. Try OBJECT HELP.")
            }
            guard c.args.count == 3 else { throw CommandError("ERR wrong number of arguments for 'object|\(sub)' command") }
            guard let v = c.lookup(c.arg(2)) else { return .null }
            let policy = c.engine.maxmemoryPolicy
            switch sub {
            case "encoding": return .bulk(v.encoding)
            case "idletime":
                if policy.isLFU {
                    throw CommandError("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
                }
                return .integer(c.engine.idleMilliseconds(c.db.dict.meta(c.arg(2)) ?? 0) / 1000)
            case "freq":
                if !policy.isLFU {
                    throw CommandError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
                }
                return .integer(Int64(c.engine.lfuDecayed(c.db.dict.meta(c.arg(2)) ?? 0)))
            default:
                // Small integers are shared objects in Redis (refcount INT_MAX) unless an LRU/LFU
                // policy with maxmemory needs per-key access data.
                if case .string(let sv) = v, sv.encodingKind == .int, !c.engine.sharedIntegersDisabled,
                   let n = Decimal.parseCanonical(sv.bytes), n >= 0, n < 10000 {
                    return .integer(2147483647)
                }
                return .integer(1)
            }
        },
    ]

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checks in Redis's order.
    static func restore(_ c: inout CommandContext) throws -> Reply {
        var replace = false, absTTL = false
        var idle: Int64 = -1, freq: Int64 = -1
        var j = 4
        while j < c.args.count {
            let additional = c.args.count - j - 1
            switch c.argString(j) {
            case "replace": replace = true
            case "absttl": absTTL = true
            case "idletime" where additional >= 1 && freq == -1:
                guard let v = Decimal.parseCanonical(c.arg(j + 1)) else { throw CommandError.notInteger }
                guard v >= 0 else { throw CommandError("ERR Invalid IDLETIME value, must be >= 0") }
                idle = v
                j += 1
            case "freq" where additional >= 1 && idle == -1:
                guard let v = Decimal.parseCanonical(c.arg(j + 1)) else { throw CommandError.notInteger }
                guard v >= 0 && v <= 255 else { throw CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255") }
                freq = v
                j += 1
            default: throw CommandError.syntax
            }
            j += 1
        }
        let key = c.arg(1)
        if !replace && c.lookup(key) != nil { throw CommandError("BUSYKEY Target key name already exists.") }
        guard var ttl = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
        guard ttl >= 0 else { throw CommandError("ERR Invalid TTL value, must be >= 0") }
        let decoded: RDBValue
        do {
            decoded = try RDBReader.readDumpPayload(c.arg(3), maxVersion: Engine.dumpTarget.version.number).value
        } catch RDBReader.DumpPayloadError.versionOrChecksum {
            throw CommandError("ERR DUMP payload version or checksum are wrong")
        } catch {
            throw CommandError("ERR Bad data format")
        }
        if decoded.isEmptyCollection { throw CommandError("ERR Bad data format") }
        let deleted = replace && c.engine.delete(c.db, key)
        if ttl != 0 && !absTTL { ttl += c.now }
        if ttl != 0 && ttl <= c.now {
            if deleted { c.propagate([B("DEL"), key]) }
            return .ok
        }
        c.engine.store(c.db, key, Value.from(decoded, limits: c.engine.limits),
                       meta: c.engine.accessMeta(idleSeconds: idle >= 0 ? idle : nil, frequency: freq >= 0 ? freq : nil))
        if ttl != 0 && !absTTL {
            // A relative TTL goes out as the absolute time, ABSTTL appended (Redis rewrites
            // argument 2 and appends it; the other arguments stay as sent).
            c.engine.setExpire(c.db, key, ttl)
            var args = c.args
            args[2] = Decimal.bytes(ttl)
            c.propagate(args + [B("ABSTTL")])
        } else {
            if ttl != 0 { c.engine.setExpire(c.db, key, ttl) }
            c.propagateAsIs()
        }
        return .ok
    }

    static func del(_ c: inout CommandContext) throws -> Reply {
        var n: Int64 = 0
        for k in c.args.dropFirst() {
            c.engine.expireIfNeeded(c.db, k)
            if c.engine.delete(c.db, k) { n += 1; c.propagate([c.args[0], k]) }
        }
        return .integer(n)
    }

    static func rename(_ c: inout CommandContext, nx: Bool) throws -> Reply {
        let src = c.arg(1), dst = c.arg(2)
        guard let v = c.lookup(src) else { throw CommandError.noSuchKey }
        if src == dst { return nx ? .integer(0) : .ok }
        let ttl = c.db.expires[src]
        if c.lookup(dst) != nil {
            if nx { return .integer(0) }
            c.engine.delete(c.db, dst)
        }
        c.engine.store(c.db, dst, v)
        if let ttl { c.engine.setExpire(c.db, dst, ttl) }
        c.engine.delete(c.db, src)
        c.propagateAsIs()
        return nx ? .integer(1) : .ok
    }

    static func expire(_ c: inout CommandContext, base: Int64, unitMs: Int64, name: String) throws -> Reply {
        var nx = false, xx = false, gt = false, lt = false
        for i in 3..<c.args.count {
            switch c.argString(i) {
            case "nx": nx = true
            case "xx": xx = true
            case "gt": gt = true
            case "lt": lt = true
            default: throw CommandError("ERR Unsupported option \(String(decoding: c.arg(i), as: UTF8.self))")
            }
        }
        if nx && (xx || gt || lt) { throw CommandError("ERR NX and XX, GT or LT options at the same time are not compatible") }
        if gt && lt { throw CommandError("ERR GT and LT options at the same time are not compatible") }
        guard var when = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
        let invalid = CommandError("ERR invalid expire time in '\(name)' command")
        if unitMs == 1000 {
            guard when <= Int64.max / 1000 && when >= Int64.min / 1000 else { throw invalid }
            when *= 1000
        }
        guard when <= Int64.max - base else { throw invalid }
        when += base
        guard c.lookup(c.arg(1)) != nil else { return .integer(0) }
        let current = c.db.expires[c.arg(1)]
        if nx && current != nil { return .integer(0) }
        if xx && current == nil { return .integer(0) }
        if gt, current == nil || when <= current! { return .integer(0) }
        if lt, let cur = current, when >= cur { return .integer(0) }
        c.applyExpire(c.arg(1), at: when)
        return .integer(1)
    }

    static func ttl(_ c: inout CommandContext, ms: Bool, absolute: Bool) -> Reply {
        guard c.lookup(c.arg(1)) != nil else { return .integer(-2) }
        guard let when = c.db.expires[c.arg(1)] else { return .integer(-1) }
        if absolute { return .integer(ms ? when : when / 1000) }
        var t = when - c.now
        if t < 0 { t = 0 }
        return .integer(ms ? t : (t + 500) / 1000)
    }

    static func scan(_ c: inout CommandContext) throws -> Reply {
        guard let cursor = UInt64(String(decoding: c.arg(1), as: UTF8.self)) else { throw CommandError("ERR invalid cursor") }
        var pattern: Bytes?
        var count = 10
        var type: String?
        var i = 2
        while i < c.args.count {
            let o = c.argString(i)
            guard i + 1 < c.args.count else { throw CommandError.syntax }
            switch o {
            case "match": pattern = c.arg(i + 1)
            case "count":
                guard let n = Decimal.parseCanonical(c.arg(i + 1)) else { throw CommandError.notInteger }
                guard n >= 1 else { throw CommandError.syntax }
                count = Int(min(n, Int64(Int32.max)))
            case "type": type = String(decoding: c.arg(i + 1), as: UTF8.self).lowercased()
            default: throw CommandError.syntax
            }
            i += 2
        }
        var keys = [Bytes]()
        var next = cursor
        var visits = 0
        repeat {
            next = c.db.dict.scan(cursor: next) { k, _ in keys.append(k) }
            visits += 1
        } while next != 0 && keys.count < count && visits < count * 10
        let now = c.now
        var out = [Reply]()
        for k in keys {
            if let w = c.db.expires[k], now > w { _ = c.lookup(k); continue }
            if let pattern, !Glob.matches(pattern, k) { continue }
            if let type, c.db.dict[k]?.typeName != type { continue }
            out.append(.bulk(k))
        }
        return .array([.bulk(Array(String(next).utf8)), .array(out)])
    }

    static func copy(_ c: inout CommandContext) throws -> Reply {
        var targetDB = c.db
        var replace = false
        var i = 3
        while i < c.args.count {
            switch c.argString(i) {
            case "replace": replace = true
            case "db" where i + 1 < c.args.count:
                guard let n = Decimal.parseCanonical(c.arg(i + 1)) else { throw CommandError.notInteger }
                guard n >= 0 && n < Int64(c.engine.databases.count) else { throw CommandError.dbOutOfRange }
                targetDB = c.engine.databases[Int(n)]
                i += 1
            default: throw CommandError.syntax
            }
            i += 1
        }
        let src = c.arg(1), dst = c.arg(2)
        if targetDB === c.db && src == dst { throw CommandError("ERR source and destination objects are the same") }
        guard let v = c.lookup(src) else { return .integer(0) }
        if c.engine.lookup(targetDB, dst) != nil {
            if !replace { return .integer(0) }
            c.engine.delete(targetDB, dst)
        }
        c.engine.store(targetDB, dst, v.deepCopy(limits: c.engine.limits))
        if let ttl = c.db.expires[src] { c.engine.setExpire(targetDB, dst, ttl) }
        c.propagateAsIs()
        return .integer(1)
    }
}

extension Value {
    /// An independent copy (COPY must not share mutable collections).
    func deepCopy(limits: EncodingLimits) -> Value {
        switch self {
        case .string, .stored: return self
        case .stream(let st): return .stream(st.copy())
        case .list(let l): return .list(ListObject(l.items.elements))
        case .hash(let h): return .hash(HashObject.from(h.pairs.map { ($0.field, $0.value) }, limits: limits).keepingEncoding(of: h))
        case .set(let s):
            // Redis's setDup copies an intset as an intset and a table as a table.
            let copy = SetObject.from(s.members, limits: limits)
            if s.ints == nil { copy.forceTable() }
            return .set(copy)
        case .zset(let z):
            // zsetDup keeps the encoding too: a skiplist that shrank stays a skiplist.
            let copy = ZSetObject.from(z.members, limits: limits)
            if !z.packed { copy.forceSkiplist() }
            return .zset(copy)
        }
    }
}

extension HashObject {
    /// Copies keep the source's encoding (a converted hash stays a table).
    func keepingEncoding(of other: HashObject) -> HashObject {
        if !other.isPacked && isPacked { forceTable() }
        return self
    }
}

extension Engine {
    func swapDatabases(_ a: Int, _ b: Int) {
        databases.swapAt(a, b)
        databases[a].id = a
        databases[b].id = b
    }
}
