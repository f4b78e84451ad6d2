import StrataFormats

extension CommandContext {
    func getHash(_ key: Bytes) throws -> HashObject? {
        guard let v = lookup(key) else { return nil }
        guard case .hash(let h) = v else { throw CommandError.wrongType }
        return h
    }

    func getSet(_ key: Bytes) throws -> SetObject? {
        guard let v = lookup(key) else { return nil }
        guard case .set(let s) = v else { throw CommandError.wrongType }
        return s
    }

    func hashForWrite(_ key: Bytes) throws -> HashObject {
        if let h = try getHash(key) { return h }
        let h = HashObject()
        engine.store(db, key, .hash(h))
        return h
    }
}

enum HashCommands {
    static let all: [Command] = [
        cmd("hset", -4, [.write, .denyoom, .fast], 1, 1, 1) { c in
            guard c.args.count % 2 == 0 else { throw CommandError("ERR wrong number of arguments for 'hset' command") }
            let h = try c.hashForWrite(c.arg(1))
            var added: Int64 = 0
            for i in stride(from: 2, to: c.args.count, by: 2) where h.set(c.arg(i), c.arg(i + 1), limits: c.engine.limits) { added += 1 }
            c.propagateAsIs()
            return .integer(added)
        },
        cmd("hmset", -4, [.write, .denyoom, .fast], 1, 1, 1) { c in
            guard c.args.count % 2 == 0 else { throw CommandError("ERR wrong number of arguments for 'hmset' command") }
            let h = try c.hashForWrite(c.arg(1))
            for i in stride(from: 2, to: c.args.count, by: 2) { h.set(c.arg(i), c.arg(i + 1), limits: c.engine.limits) }
            c.propagateAsIs()
            return .ok
        },
        cmd("hsetnx", 4, [.write, .denyoom, .fast], 1, 1, 1) { c in
            if let h = try c.getHash(c.arg(1)), h.get(c.arg(2)) != nil { return .integer(0) }
            try c.hashForWrite(c.arg(1)).set(c.arg(2), c.arg(3), limits: c.engine.limits)
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("hget", 3, [.readonly, .fast], 1, 1, 1) { c in .bulk(try c.getHash(c.arg(1))?.get(c.arg(2))) },
        cmd("hmget", -3, [.readonly, .fast], 1, 1, 1) { c in
            let h = try c.getHash(c.arg(1))
            return .array(c.args.dropFirst(2).map { .bulk(h?.get($0)) })
        },
        cmd("hdel", -3, [.write, .fast], 1, 1, 1) { c in
            guard let h = try c.getHash(c.arg(1)) else { return .integer(0) }
            return c.removeMembers(remaining: { h.count }) { h.remove($0) }
        },
        cmd("hlen", 2, [.readonly, .fast], 1, 1, 1) { c in .integer(Int64(try c.getHash(c.arg(1))?.count ?? 0)) },
        cmd("hstrlen", 3, [.readonly, .fast], 1, 1, 1) { c in .integer(Int64(try c.getHash(c.arg(1))?.get(c.arg(2))?.count ?? 0)) },
        cmd("hexists", 3, [.readonly, .fast], 1, 1, 1) { c in .integer(try c.getHash(c.arg(1))?.get(c.arg(2)) != nil ? 1 : 0) },
        cmd("hkeys", 2, [.readonly], 1, 1, 1) { c in .array((try c.getHash(c.arg(1))?.pairs ?? []).map { .bulk($0.field) }) },
        cmd("hvals", 2, [.readonly], 1, 1, 1) { c in .array((try c.getHash(c.arg(1))?.pairs ?? []).map { .bulk($0.value) }) },
        cmd("hgetall", 2, [.readonly], 1, 1, 1) { c in
            .map((try c.getHash(c.arg(1))?.pairs ?? []).flatMap { [Reply.bulk($0.field), .bulk($0.value)] })
        },
        cmd("hincrby", 4, [.write, .denyoom, .fast], 1, 1, 1) { c in
            guard let by = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
            let existing = try c.getHash(c.arg(1))
            var v: Int64 = 0
            if let cur = existing?.get(c.arg(2)) {
                guard let x = Decimal.parseCanonical(cur) else { throw CommandError("ERR hash value is not an integer") }
                v = x
            }
            let (r, o) = v.addingReportingOverflow(by)
            if o { throw CommandError.overflow }
            try c.hashForWrite(c.arg(1)).set(c.arg(2), Decimal.bytes(r), limits: c.engine.limits)
            c.propagateAsIs()
            return .integer(r)
        },
        cmd("hincrbyfloat", 4, [.write, .denyoom, .fast], 1, 1, 1) { c in
            guard let by = StringCommands.parseLongDouble(c.arg(3)) else { throw CommandError.notFloat }
            guard by.isFinite else { throw CommandError("ERR value is NaN or Infinity") }   // as t_hash.c, before the key
            let existing = try c.getHash(c.arg(1))
            var v: Float80 = 0
            if let cur = existing?.get(c.arg(2)) {
                guard let x = StringCommands.parseLongDouble(cur) else { throw CommandError("ERR hash value is not a float") }
                v = x
            }
            let r = v + by
            guard r.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
            let text = StringCommands.formatLongDouble(r)
            try c.hashForWrite(c.arg(1)).set(c.arg(2), text, limits: c.engine.limits)
            c.propagate([Array("HSET".utf8), c.arg(1), c.arg(2), text])
            return .bulk(text)
        },
    ]
}

enum SetCommands {
    static let all: [Command] = [
        cmd("sadd", -3, [.write, .denyoom, .fast], 1, 1, 1) { c in
            var s = try c.getSet(c.arg(1))
            if s == nil { let n = SetObject(); c.engine.store(c.db, c.arg(1), .set(n)); s = n }
            var added: Int64 = 0
            let set = s!, limits = c.engine.limits
            for i in 2..<c.args.count where set.add(c.args[i], limits: limits) { added += 1 }
            c.propagateAsIs()
            return .integer(added)
        },
        cmd("srem", -3, [.write, .fast], 1, 1, 1) { c in
            guard let s = try c.getSet(c.arg(1)) else { return .integer(0) }
            return c.removeMembers(remaining: { s.count }) { s.remove($0) }
        },
        cmd("scard", 2, [.readonly, .fast], 1, 1, 1) { c in .integer(Int64(try c.getSet(c.arg(1))?.count ?? 0)) },
        cmd("sismember", 3, [.readonly, .fast], 1, 1, 1) { c in .integer(try c.getSet(c.arg(1))?.contains(c.arg(2)) == true ? 1 : 0) },
        cmd("smismember", -3, [.readonly, .fast], 1, 1, 1) { c in
            let s = try c.getSet(c.arg(1))
            return .array(c.args.dropFirst(2).map { .integer(s?.contains($0) == true ? 1 : 0) })
        },
        cmd("smembers", 2, [.readonly], 1, 1, 1) { c in .set((try c.getSet(c.arg(1))?.members ?? []).map { .bulk($0) }) },
        cmd("smove", 4, [.write, .fast], 1, 2, 1) { c in
            guard let src = try c.getSet(c.arg(1)) else { return .integer(0) }
            let dst = try c.getSet(c.arg(2))
            if src === dst { return .integer(src.contains(c.arg(3)) ? 1 : 0) }
            guard src.remove(c.arg(3)) else { return .integer(0) }
            if src.count == 0 { c.engine.delete(c.db, c.arg(1)) }
            let d = dst ?? { let n = SetObject(); c.engine.store(c.db, c.arg(2), .set(n)); return n }()
            d.add(c.arg(3), limits: c.engine.limits)
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("sinter", -2, [.readonly], 1, -1, 1) { c in .set(try combine(&c, .inter, keys: Array(c.args.dropFirst())).map { .bulk($0) }) },
        cmd("sunion", -2, [.readonly], 1, -1, 1) { c in .set(try combine(&c, .union, keys: Array(c.args.dropFirst())).map { .bulk($0) }) },
        cmd("sdiff", -2, [.readonly], 1, -1, 1) { c in .set(try combine(&c, .diff, keys: Array(c.args.dropFirst())).map { .bulk($0) }) },
        cmd("sinterstore", -3, [.write, .denyoom], 1, -1, 1) { c in try store(&c, .inter) },
        cmd("sunionstore", -3, [.write, .denyoom], 1, -1, 1) { c in try store(&c, .union) },
        cmd("sdiffstore", -3, [.write, .denyoom], 1, -1, 1) { c in try store(&c, .diff) },
        cmd("sintercard", -3, [.readonly], 0, 0, 0) { c in
            guard let n = Decimal.parseCanonical(c.arg(1)), n > 0 else { throw CommandError("ERR numkeys should be greater than 0") }
            guard Int64(c.args.count - 2) >= n else { throw CommandError("ERR Number of keys can't be greater than number of args") }
            var limit: Int64 = 0
            var i = 2 + Int(n)
            while i < c.args.count {
                guard c.argString(i) == "limit", i + 1 < c.args.count else { throw CommandError.syntax }
                guard let l = Decimal.parseCanonical(c.arg(i + 1)), l >= 0 else { throw CommandError("ERR LIMIT can't be negative") }
                limit = l
                i += 2
            }
            let r = try combine(&c, .inter, keys: Array(c.args[2..<(2 + Int(n))]))
            return .integer(limit == 0 ? Int64(r.count) : min(Int64(r.count), limit))
        },
    ]

    enum Op { case inter, union, diff }

    static func combine(_ c: inout CommandContext, _ op: Op, keys: [Bytes]) throws -> [Bytes] {
        var sets = [SetObject?]()
        for k in keys { sets.append(try c.getSet(k)) }
        switch op {
        case .union:
            var seen = Set<Bytes>(), out = [Bytes]()
            for s in sets { for m in s?.members ?? [] where seen.insert(m).inserted { out.append(m) } }
            return out
        case .inter:
            if sets.contains(where: { $0 == nil }) { return [] }
            let ordered = sets.map { $0! }.sorted { $0.count < $1.count }
            return ordered[0].members.filter { m in ordered.dropFirst().allSatisfy { $0.contains(m) } }
        case .diff:
            guard let first = sets[0] else { return [] }
            return first.members.filter { m in !sets.dropFirst().contains { $0?.contains(m) == true } }
        }
    }

    static func store(_ c: inout CommandContext, _ op: Op) throws -> Reply {
        let members = try combine(&c, op, keys: Array(c.args.dropFirst(2)))
        c.engine.delete(c.db, c.arg(1))
        if !members.isEmpty { c.engine.store(c.db, c.arg(1), .set(SetObject.from(members, limits: c.engine.limits))) }
        c.propagateAsIs()
        return .integer(Int64(members.count))
    }
}
