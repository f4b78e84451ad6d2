#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

extension CommandContext {
    /// The key's string bytes; nil when absent; WRONGTYPE for another type.
    func getString(_ key: Bytes) throws -> StringValue? {
        guard let v = lookup(key) else { return nil }
        guard case .string(let s) = v else { throw CommandError.wrongType }
        return s
    }
}

enum StringCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    static let all: [Command] = [
        cmd("get", 2, [.readonly, .fast], 1, 1, 1) { c in
            .bulk(try c.getString(c.arg(1))?.bytes)
        },
        cmd("set", -3, [.write, .denyoom], 1, 1, 1) { c in try set(&c) },
        cmd("setnx", 3, [.write, .denyoom, .fast], 1, 1, 1) { c in
            if c.lookup(c.arg(1)) != nil { return .integer(0) }
            c.engine.store(c.db, c.arg(1), .string(StringValue(c.arg(2))))
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("setex", 4, [.write, .denyoom], 1, 1, 1) { c in try setWithTTL(&c, unitMs: 1000) },
        cmd("psetex", 4, [.write, .denyoom], 1, 1, 1) { c in try setWithTTL(&c, unitMs: 1) },
        cmd("getdel", 2, [.write, .fast], 1, 1, 1) { c in
            guard let s = try c.getString(c.arg(1)) else { return .null }
            c.engine.delete(c.db, c.arg(1))
            c.propagate([B("DEL"), c.arg(1)])
            return .bulk(s.bytes)
        },
        cmd("getset", 3, [.write, .denyoom, .fast], 1, 1, 1) { c in
            let old = try c.getString(c.arg(1))
            c.engine.store(c.db, c.arg(1), .string(StringValue(c.arg(2))))
            c.propagate([B("SET"), c.arg(1), c.arg(2)])
            return .bulk(old?.bytes)
        },
        cmd("getex", -2, [.write, .fast], 1, 1, 1) { c in try getex(&c) },
        cmd("mget", -2, [.readonly, .fast], 1, -1, 1) { c in
            .array(c.args.dropFirst().map { k in
                if case .string(let s)? = c.lookup(k) { return .bulk(s.bytes) }
                return .null
            })
        },
        cmd("mset", -3, [.write, .denyoom], 1, -1, 2) { c in
            guard c.args.count % 2 == 1 else { throw CommandError("ERR wrong number of arguments for 'mset' command") }
            for i in stride(from: 1, to: c.args.count, by: 2) { c.engine.store(c.db, c.arg(i), .string(StringValue(c.arg(i + 1)))) }
            c.propagateAsIs()
            return .ok
        },
        cmd("msetnx", -3, [.write, .denyoom], 1, -1, 2) { c in
            guard c.args.count % 2 == 1 else { throw CommandError("ERR wrong number of arguments for 'msetnx' command") }
            for i in stride(from: 1, to: c.args.count, by: 2) where c.lookup(c.arg(i)) != nil { return .integer(0) }
            for i in stride(from: 1, to: c.args.count, by: 2) { c.engine.store(c.db, c.arg(i), .string(StringValue(c.arg(i + 1)))) }
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("append", 3, [.write, .denyoom, .fast], 1, 1, 1) { c in
            var s = try c.getString(c.arg(1)) ?? StringValue([])
            let existed = c.lookup(c.arg(1)) != nil
            guard s.bytes.count + c.arg(2).count <= c.engine.maxBulkLength else { throw CommandError.tooBig }
            s.bytes += c.arg(2)
            if existed { s.encodingKind = .raw } else { s = StringValue(s.bytes) }
            c.engine.store(c.db, c.arg(1), .string(s), keepTTL: true)
            c.propagateAsIs()
            return .integer(Int64(s.bytes.count))
        },
        cmd("strlen", 2, [.readonly, .fast], 1, 1, 1) { c in
            .integer(Int64(try c.getString(c.arg(1))?.bytes.count ?? 0))
        },
        cmd("getrange", 4, [.readonly], 1, 1, 1) { c in try getrange(&c) },
        cmd("substr", 4, [.readonly], 1, 1, 1) { c in try getrange(&c) },
        cmd("setrange", 4, [.write, .denyoom], 1, 1, 1) { c in try setrange(&c) },
        cmd("incr", 2, [.write, .denyoom, .fast], 1, 1, 1) { c in try incrBy(&c, 1) },
        cmd("decr", 2, [.write, .denyoom, .fast], 1, 1, 1) { c in try incrBy(&c, -1) },
        cmd("incrby", 3, [.write, .denyoom, .fast], 1, 1, 1) { c in try incrBy(&c, try c.int(2)) },
        cmd("decrby", 3, [.write, .denyoom, .fast], 1, 1, 1) { c in
            let v = try c.int(2)
            guard v != .min else { throw CommandError("ERR decrement would overflow") }
            return try incrBy(&c, -v)
        },
        cmd("incrbyfloat", 3, [.write, .denyoom, .fast], 1, 1, 1) { c in try incrByFloat(&c) },
    ]

    /// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
    static func set(_ c: inout CommandContext) throws -> Reply {
        // Plain `SET key value` in a db without expiries and without LFU: nothing can expire on
        // the lookup and nothing of the old value is kept, so one probe does it (Redis's
        // lookupKeyWrite would only stamp an LRU clock the overwrite replaces anyway).
        if c.args.count == 3 && c.db.expires.count == 0 && !c.engine.maxmemoryPolicy.isLFU {
            let key = c.args[1], value = c.args[2]
            c.engine.store(c.db, key, .string(StringValue(value)))
            c.propagate([B("SET"), key, value])
            return .ok
        }
        var nx = false, xx = false, get = false, keepTTL = false
        var expireArg: (kind: String, value: Bytes)?
        var i = 3
        while i < c.args.count {
            let o = c.argString(i)
            let hasNext = i + 1 < c.args.count
            switch o {
            case "nx" where !xx: nx = true
            case "xx" where !nx: xx = true
            case "get": get = true
            case "keepttl" where expireArg == nil: keepTTL = true
            case "ex", "px", "exat", "pxat":
                guard expireArg == nil, !keepTTL, hasNext else { throw CommandError.syntax }
                expireArg = (o, c.arg(i + 1))
                i += 1
            default: throw CommandError.syntax
            }
            i += 1
        }
        var when: Int64?
        if let e = expireArg {
            guard let v = Decimal.parseCanonical(e.value) else { throw CommandError.notInteger }
            when = try absoluteExpire(kind: e.kind, v, now: c.now, command: "set")
        }
        let key = c.arg(1)
        let current = c.lookup(key)
        var old: Bytes?
        if get, let current {
            guard case .string(let s) = current else { throw CommandError.wrongType }
            old = s.bytes
        }
        if (nx && current != nil) || (xx && current == nil) {
            return get ? .bulk(old) : .null
        }
        c.engine.store(c.db, key, .string(StringValue(c.arg(2))), keepTTL: keepTTL)
        if let when { c.engine.setExpire(c.db, key, when) }
        // Redis 7.0 propagates relative expiries as an absolute PXAT.
        c.propagate({
            var prop = [B("SET"), key, c.arg(2)]
            if let when { prop += [B("PXAT"), Decimal.bytes(when)] } else if keepTTL { prop.append(B("KEEPTTL")) }
            return prop
        }())
        return get ? .bulk(old) : .ok
    }

    /// Turns EX/PX/EXAT/PXAT into absolute ms, with Redis's range checks.
    static func absoluteExpire(kind: String, _ v: Int64, now: Int64, command: String) throws -> Int64 {
        let invalid = CommandError("ERR invalid expire time in '\(command)' command")
        guard v > 0 else { throw invalid }
        switch kind {
        case "ex", "exat":
            guard v <= Int64.max / 1000 else { throw invalid }
            let ms = v * 1000
            if kind == "exat" { return ms }
            guard ms <= Int64.max - now else { throw invalid }
            return now + ms
        case "px":
            guard v <= Int64.max - now else { throw invalid }
            return now + v
        default:
            return v
        }
    }

    static func setWithTTL(_ c: inout CommandContext, unitMs: Int64) throws -> Reply {
        guard let v = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
        let cmdName = unitMs == 1000 ? "setex" : "psetex"
        let when = try absoluteExpire(kind: unitMs == 1000 ? "ex" : "px", v, now: c.now, command: cmdName)
        c.engine.store(c.db, c.arg(1), .string(StringValue(c.arg(3))))
        c.engine.setExpire(c.db, c.arg(1), when)
        c.propagate([B("SET"), c.arg(1), c.arg(3), B("PXAT"), Decimal.bytes(when)])
        return .ok
    }

    static func getex(_ c: inout CommandContext) throws -> Reply {
        // Redis: options are parsed for syntax first, then the key is looked up, then the
        // expire value is validated.
        var expireArg: (kind: String, value: Bytes)?
        var persist = false
        var i = 2
        while i < c.args.count {
            let o = c.argString(i)
            switch o {
            case "ex", "px", "exat", "pxat":
                guard expireArg == nil, !persist, i + 1 < c.args.count else { throw CommandError.syntax }
                expireArg = (o, c.arg(i + 1))
                i += 1
            case "persist":
                guard expireArg == nil else { throw CommandError.syntax }
                persist = true
            default: throw CommandError.syntax
            }
            i += 1
        }
        guard let s = try c.getString(c.arg(1)) else { return .null }
        var when: Int64?
        if let e = expireArg {
            guard let v = Decimal.parseCanonical(e.value) else { throw CommandError.notInteger }
            when = try absoluteExpire(kind: e.kind, v, now: c.now, command: "getex")
        }
        if let when {
            c.applyExpire(c.arg(1), at: when)
        } else if persist, c.db.expires.remove(c.arg(1)) != nil {
            c.propagate([B("PERSIST"), c.arg(1)])
        }
        return .bulk(s.bytes)
    }

    static func getrange(_ c: inout CommandContext) throws -> Reply {
        guard let s0 = Decimal.parseCanonical(c.arg(2)), let e0 = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
        guard let s = try c.getString(c.arg(1)) else { return .bulk([]) }
        let n = Int64(s.bytes.count)
        var start = s0, end = e0
        if start < 0 && end < 0 && start > end { return .bulk([]) }
        if start < 0 { start = n + start }
        if end < 0 { end = n + end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= n { end = n - 1 }
        if start > end || n == 0 { return .bulk([]) }
        return .bulk(Array(s.bytes[Int(start)...Int(end)]))
    }

    static func setrange(_ c: inout CommandContext) throws -> Reply {
        guard let off = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
        guard off >= 0 else { throw CommandError("ERR offset is out of range") }
        let value = c.arg(3)
        let existing = try c.getString(c.arg(1))
        if value.isEmpty { return .integer(Int64(existing?.bytes.count ?? 0)) }
        // (Written so that a huge offset cannot overflow: `off + count` could.)
        guard off <= Int64(c.engine.maxBulkLength) - Int64(value.count) else { throw CommandError.tooBig }
        var s = existing ?? StringValue([])
        let o = Int(off)
        if s.bytes.count < o + value.count { s.bytes += [UInt8](repeating: 0, count: o + value.count - s.bytes.count) }
        s.bytes.replaceSubrange(o..<(o + value.count), with: value)
        s.encodingKind = .raw
        c.engine.store(c.db, c.arg(1), .string(s), keepTTL: true)
        c.propagateAsIs()
        return .integer(Int64(s.bytes.count))
    }

    static func incrBy(_ c: inout CommandContext, _ by: Int64) throws -> Reply {
        // A present string is updated where it lies, its digits rewritten in its own buffer (as
        // Redis updates an unshared integer object in place): one probe, no allocation.
        let key = c.arg(1)
        let engine = c.engine
        if c.db.expires.count > 0 { engine.expireIfNeeded(c.db, key) }
        let updated = try c.db.dict.modify(key, touch: { engine.touch(&$0) }) { v -> Int64 in
            guard case .string(var s) = v else { throw CommandError.wrongType }
            guard let x = Decimal.parseCanonical(s.bytes) else { throw CommandError.notInteger }
            let (r, o) = x.addingReportingOverflow(by)
            if o { throw CommandError.overflow }
            v = .string(StringValue([], encoding: .int))   // the slot lets go: `s` owns its bytes alone
            s.bytes.removeAll(keepingCapacity: true)
            Decimal.append(r, to: &s.bytes)
            s.encodingKind = .int
            v = .string(s)
            return r
        }
        if let r = updated {
            c.propagateAsIs()
            return .integer(r)
        }
        // Absent (or just expired): the key starts at 0.
        c.engine.store(c.db, key, .string(StringValue(Decimal.bytes(by), encoding: .int)), keepTTL: true)
        c.propagateAsIs()
        return .integer(by)
    }

    /// Redis's long double text (`ld2string` in human mode): `%.17Lf`, trailing zeros and a
    /// trailing point dropped, "-0" as "0".
    static func formatLongDouble(_ d: Float80) -> Bytes {
        var buf = [CChar](repeating: 0, count: 5200)
        let n = withVaList([d]) { vsnprintf(&buf, 5200, "%.17Lf", $0) }
        var s = Array(buf[0..<Int(min(n, 5199))].map { UInt8(bitPattern: $0) })
        if s.contains(UInt8(ascii: ".")) {
            while s.last == UInt8(ascii: "0") { s.removeLast() }
            if s.last == UInt8(ascii: ".") { s.removeLast() }
        }
        if s == Array("-0".utf8) { s = Array("0".utf8) }
        return s
    }

    /// Redis's `string2ld`: strtold over the whole text, no leading space, no NaN.
    static func parseLongDouble(_ b: Bytes) -> Float80? {
        guard !b.isEmpty, b.count < 5120, b.first.map({ $0 != 32 && !($0 >= 9 && $0 <= 13) }) == true, !b.contains(0) else { return nil }
        return (b + [0]).withUnsafeBufferPointer { p -> Float80? in
            p.withMemoryRebound(to: CChar.self) { cp -> Float80? in
                var end: UnsafeMutablePointer<CChar>?
                errno = 0
                let v = strtold(cp.baseAddress!, &end)
                guard let end, end == UnsafeMutablePointer(mutating: cp.baseAddress! + b.count), errno != ERANGE, !v.isNaN else { return nil }
                return v
            }
        }
    }

    static func incrByFloat(_ c: inout CommandContext) throws -> Reply {
        let cur = try c.getString(c.arg(1))
        var v: Float80 = 0
        if let cur {
            guard let x = parseLongDouble(cur.bytes) else { throw CommandError.notFloat }
            v = x
        }
        guard let by = parseLongDouble(c.arg(2)) else { throw CommandError.notFloat }
        let r = v + by
        guard r.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
        let text = formatLongDouble(r)
        c.engine.store(c.db, c.arg(1), .string(.created(text)), keepTTL: true)
        // Propagated as SET ... KEEPTTL so replicas and the AOF do not redo float arithmetic.
        c.propagate([B("SET"), c.arg(1), text, B("KEEPTTL")])
        return .bulk(text)
    }
}
