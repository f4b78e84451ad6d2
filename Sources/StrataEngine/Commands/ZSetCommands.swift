#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

extension CommandContext {
    func getZSet(_ key: Bytes) throws -> ZSetObject? {
        guard let v = lookup(key) else { return nil }
        guard case .zset(let z) = v else { throw CommandError.wrongType }
        return z
    }
}

enum ZSetCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    /// Scores as Redis 7.0 replies with them (`addReplyDouble`: "%.17g", "inf", "-inf").
    static func scoreReply(_ d: Double) -> Reply { .double(RedisDigest.scoreText(d)) }

    /// `string2d` as `getDoubleFromObject` uses it: strtod over the whole text, no leading
    /// space, no NaN, and no overflow to ±inf or underflow to 0 (ERANGE).
    static func parseScore(_ b: Bytes) -> Double? {
        let n = b.count
        guard n > 0, let f = b.first, f != 32, !(f >= 9 && f <= 13) else { return nil }
        // Plain integers of up to 15 digits (exact as doubles, what strtod would give, "-0"
        // included) without copying for strtod.
        if n <= 15 {
            var i = f == UInt8(ascii: "-") ? 1 : 0
            if i < n {
                let neg = i == 1
                var v: Int64 = 0
                while i < n {
                    let d = b[i] &- 48
                    if d > 9 { break }
                    v = v * 10 + Int64(d)
                    i += 1
                }
                if i == n { return neg ? -Double(v) : Double(v) }
            }
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
            for i in 0..<n { if b[i] == 0 { return nil }; buf[i] = CChar(bitPattern: b[i]) }
            buf[n] = 0
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let v = strtod(buf.baseAddress!, &end)
            guard let end, end == buf.baseAddress! + n, !v.isNaN else { return nil }
            if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
            return v
        }
    }

    struct ScoreBound { var value: Double; var exclusive: Bool }

    /// `zslParseRange` item: "(1.5" exclusive, "1.5" inclusive, "-inf", "+inf".
    static func parseScoreBound(_ b: Bytes) -> ScoreBound? {
        if b.first == UInt8(ascii: "(") {
            guard let v = parseScore(Array(b.dropFirst())) else { return nil }
            return ScoreBound(value: v, exclusive: true)
        }
        guard let v = parseScore(b) else { return nil }
        return ScoreBound(value: v, exclusive: false)
    }

    enum LexBound { case minusInf, plusInf, value(Bytes, exclusive: Bool) }

    static func parseLexBound(_ b: Bytes) -> LexBound? {
        guard let f = b.first else { return nil }
        switch f {
        case UInt8(ascii: "+") where b.count == 1: return .plusInf
        case UInt8(ascii: "-") where b.count == 1: return .minusInf
        case UInt8(ascii: "("): return .value(Array(b.dropFirst()), exclusive: true)
        case UInt8(ascii: "["): return .value(Array(b.dropFirst()), exclusive: false)
        default: return nil
        }
    }

    // Rank windows [lo, hi) for score and lex ranges.
    static func scoreWindow(_ z: ZSetObject, _ min: ScoreBound, _ max: ScoreBound) -> Range<Int> {
        if min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive)) { return 0..<0 }
        let lo = z.countBefore(score: { min.exclusive ? $0 > min.value : $0 >= min.value })
        let hi = z.countBefore(score: { max.exclusive ? $0 >= max.value : $0 > max.value })
        return lo < hi ? lo..<hi : 0..<0
    }

    static func lexGteMin(_ m: Bytes, _ b: LexBound) -> Bool {
        switch b {
        case .minusInf: return true
        case .plusInf: return false
        case .value(let v, let ex): return ex ? bytesLess(v, m) : !bytesLess(m, v)
        }
    }

    static func lexLteMax(_ m: Bytes, _ b: LexBound) -> Bool {
        switch b {
        case .minusInf: return false
        case .plusInf: return true
        case .value(let v, let ex): return ex ? bytesLess(m, v) : !bytesLess(v, m)
        }
    }

    /// `zslIsInLexRange` / `zzlIsInLexRange`: a non-empty range that overlaps [first, last].
    static func lexRangeOverlaps(_ z: ZSetObject, _ min: LexBound, _ max: LexBound) -> Bool {
        switch (min, max) {
        case (.plusInf, _), (_, .minusInf): return false
        case (.value(let a, let ax), .value(let b, let bx)):
            if bytesLess(b, a) || (a == b && (ax || bx)) { return false }
        default: break
        }
        guard let first = z.firstMember, let last = z.lastMember else { return false }
        return lexGteMin(last, min) && lexLteMax(first, max)
    }

    /// The rank window a lex range selects. Redis defines lex ranges only for members of equal
    /// score; on other sets its listpack code scans linearly (forward for ascending commands,
    /// backward for the REV ones), which is what a packed set gets here, exactly.
    static func lexWindow(_ z: ZSetObject, _ min: LexBound, _ max: LexBound, reverse: Bool = false) -> Range<Int> {
        guard lexRangeOverlaps(z, min, max) else { return 0..<0 }
        if z.packed {
            let items = z.members
            if !reverse {
                guard let start = items.firstIndex(where: { lexGteMin($0.member, min) }), lexLteMax(items[start].member, max) else { return 0..<0 }
                var end = start
                while end < items.count && lexLteMax(items[end].member, max) { end += 1 }
                return start..<end
            }
            guard let last = items.lastIndex(where: { lexLteMax($0.member, max) }), lexGteMin(items[last].member, min) else { return 0..<0 }
            var start = last
            while start > 0 && lexGteMin(items[start - 1].member, min) { start -= 1 }
            return start..<(last + 1)
        }
        let lo = z.countBefore(member: { lexGteMin($0, min) })
        let hi = z.countBefore(member: { !lexLteMax($0, max) })
        return lo < hi ? lo..<hi : 0..<0
    }

    static func rankWindow(_ count: Int, _ s0: Int64, _ e0: Int64) -> Range<Int> {
        ListCommands.range(s0, e0, count: count) ?? 0..<0
    }

    static let all: [Command] = [
        cmd("zadd", -4, [.write, .denyoom, .fast], 1, 1, 1) { c in try zadd(&c, incrOnly: false) },
        cmd("zincrby", 4, [.write, .denyoom, .fast], 1, 1, 1) { c in try zadd(&c, incrOnly: true) },
        cmd("zrem", -3, [.write, .fast], 1, 1, 1) { c in
            guard let z = try c.getZSet(c.arg(1)) else { return .integer(0) }
            return c.removeMembers(remaining: { z.count }) { z.remove($0) }
        },
        cmd("zcard", 2, [.readonly, .fast], 1, 1, 1) { c in .integer(Int64(try c.getZSet(c.arg(1))?.count ?? 0)) },
        cmd("zscore", 3, [.readonly, .fast], 1, 1, 1) { c in
            guard let s = try c.getZSet(c.arg(1))?.score(c.arg(2)) else { return .null }
            return scoreReply(s)
        },
        cmd("zmscore", -3, [.readonly, .fast], 1, 1, 1) { c in
            let z = try c.getZSet(c.arg(1))
            return .array(c.args.dropFirst(2).map { m in z?.score(m).map(scoreReply) ?? .null })
        },
        cmd("zrank", 3, [.readonly, .fast], 1, 1, 1) { c in
            guard let z = try c.getZSet(c.arg(1)), let r = z.rank(c.arg(2)) else { return .null }
            return .integer(Int64(r))
        },
        cmd("zrevrank", 3, [.readonly, .fast], 1, 1, 1) { c in
            guard let z = try c.getZSet(c.arg(1)), let r = z.rank(c.arg(2)) else { return .null }
            return .integer(Int64(z.count - 1 - r))
        },
        cmd("zcount", 4, [.readonly, .fast], 1, 1, 1) { c in
            guard let min = parseScoreBound(c.arg(2)), let max = parseScoreBound(c.arg(3)) else { throw CommandError("ERR min or max is not a float") }
            guard let z = try c.getZSet(c.arg(1)) else { return .integer(0) }
            return .integer(Int64(scoreWindow(z, min, max).count))
        },
        cmd("zlexcount", 4, [.readonly, .fast], 1, 1, 1) { c in
            guard let min = parseLexBound(c.arg(2)), let max = parseLexBound(c.arg(3)) else { throw CommandError("ERR min or max not valid string range item") }
            guard let z = try c.getZSet(c.arg(1)) else { return .integer(0) }
            return .integer(Int64(lexWindow(z, min, max).count))
        },
        cmd("zrange", -4, [.readonly], 1, 1, 1) { c in try zrange(&c, mode: .auto, rev: false, from: 2) },
        cmd("zrevrange", -4, [.readonly], 1, 1, 1) { c in try zrange(&c, mode: .rank, rev: true, from: 2) },
        cmd("zrangebyscore", -4, [.readonly], 1, 1, 1) { c in try zrange(&c, mode: .score, rev: false, from: 2) },
        cmd("zrevrangebyscore", -4, [.readonly], 1, 1, 1) { c in try zrange(&c, mode: .score, rev: true, from: 2) },
        cmd("zrangebylex", -4, [.readonly], 1, 1, 1) { c in try zrange(&c, mode: .lex, rev: false, from: 2) },
        cmd("zrevrangebylex", -4, [.readonly], 1, 1, 1) { c in try zrange(&c, mode: .lex, rev: true, from: 2) },
        cmd("zremrangebyrank", 4, [.write], 1, 1, 1) { c in
            guard let s = Decimal.parseCanonical(c.arg(2)), let e = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
            guard let z = try c.getZSet(c.arg(1)) else { return .integer(0) }
            return removeWindow(&c, z, rankWindow(z.count, s, e))
        },
        cmd("zremrangebyscore", 4, [.write], 1, 1, 1) { c in
            guard let min = parseScoreBound(c.arg(2)), let max = parseScoreBound(c.arg(3)) else { throw CommandError("ERR min or max is not a float") }
            guard let z = try c.getZSet(c.arg(1)) else { return .integer(0) }
            return removeWindow(&c, z, scoreWindow(z, min, max))
        },
        cmd("zremrangebylex", 4, [.write], 1, 1, 1) { c in
            guard let min = parseLexBound(c.arg(2)), let max = parseLexBound(c.arg(3)) else { throw CommandError("ERR min or max not valid string range item") }
            guard let z = try c.getZSet(c.arg(1)) else { return .integer(0) }
            return removeWindow(&c, z, lexWindow(z, min, max))
        },
        cmd("zpopmin", -2, [.write, .fast], 1, 1, 1) { c in try zpop(&c, max: false) },
        cmd("zrangestore", -5, [.write, .denyoom], 1, 2, 1) { c in try zrange(&c, mode: .auto, rev: false, from: 3, storeInto: c.arg(1)) },
        cmd("zmpop", -4, [.write], 0, 0, 0) { c in try mpop(&c, zset: true) },
        cmd("lmpop", -4, [.write], 0, 0, 0) { c in try mpop(&c, zset: false) },
        cmd("zpopmax", -2, [.write, .fast], 1, 1, 1) { c in try zpop(&c, max: true) },
    ]

    static func removeWindow(_ c: inout CommandContext, _ z: ZSetObject, _ w: Range<Int>) -> Reply {
        guard !w.isEmpty else { return .integer(0) }
        for m in z.range(from: w.lowerBound, count: w.count) { z.remove(m.member) }
        if z.count == 0 { c.engine.delete(c.db, c.arg(1)) }
        c.propagateAsIs()
        return .integer(Int64(w.count))
    }

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...; ZINCRBY key increment member.
    static func zadd(_ c: inout CommandContext, incrOnly: Bool) throws -> Reply {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrOnly
        var i = 2
        if !incrOnly {
            // Options, compared as bytes (the first score ends them; no String per argument).
            while i < c.args.count {
                if c.argIs(i, "nx") { nx = true }
                else if c.argIs(i, "xx") { xx = true }
                else if c.argIs(i, "gt") { gt = true }
                else if c.argIs(i, "lt") { lt = true }
                else if c.argIs(i, "ch") { ch = true }
                else if c.argIs(i, "incr") { incr = true }
                else { break }
                i += 1
            }
        }
        let pairs = c.args.count - i
        if pairs % 2 != 0 || pairs == 0 { throw CommandError.syntax }
        if nx && xx { throw CommandError("ERR XX and NX options at the same time are not compatible") }
        if (gt && nx) || (lt && nx) || (gt && lt) { throw CommandError("ERR GT, LT, and/or NX options at the same time are not compatible") }
        if incr && pairs > 2 { throw CommandError("ERR INCR option supports a single increment-element pair") }
        // Every score is checked before anything changes (as Redis); one pair, the common
        // case, keeps its score without an array.
        var first = 0.0
        var scores = [Double]()
        if pairs > 2 { scores.reserveCapacity(pairs / 2) }
        for j in stride(from: i, to: c.args.count, by: 2) {
            guard let s = parseScore(c.args[j]) else { throw CommandError.notFloat }
            if j == i { first = s } else {
                if scores.isEmpty { scores.append(first) }
                scores.append(s)
            }
        }
        var z = try c.getZSet(c.arg(1))
        if z == nil {
            if xx { return incr ? .null : .integer(0) }
            let n = ZSetObject()
            c.engine.store(c.db, c.arg(1), .zset(n))
            z = n
        }
        var added: Int64 = 0, changed: Int64 = 0
        var result: Double?
        var processed = 0
        for (k, j) in stride(from: i, to: c.args.count, by: 2).enumerated() {
            let m = c.arg(j + 1)
            var score = k == 0 ? first : scores[k]
            if let cur = z!.score(m) {
                if nx { continue }
                if incr {
                    score += cur
                    if score.isNaN { throw CommandError("ERR resulting score is not a number (NaN)") }
                }
                if (gt && score <= cur) || (lt && score >= cur) { continue }
                result = score
                processed += 1
                if score != cur { z!.set(m, score, limits: c.engine.limits, deferOrder: c.engine.loading); changed += 1 }
            } else {
                if xx { continue }
                result = score
                processed += 1
                z!.set(m, score, limits: c.engine.limits, deferOrder: c.engine.loading)
                added += 1
            }
        }
        if z!.count == 0 { c.engine.delete(c.db, c.arg(1)) }
        if added + changed > 0 { c.propagateAsIs() }
        if incr { return result.map(scoreReply) ?? .null }
        return .integer(ch ? added + changed : added)
    }

    enum RangeMode { case auto, rank, score, lex }

    static func zrange(_ c: inout CommandContext, mode m0: RangeMode, rev r0: Bool, from: Int, storeInto dst: Bytes? = nil) throws -> Reply {
        let key = c.arg(from - 1)
        var mode = m0, rev = r0
        var withScores = false
        var limit: (offset: Int64, count: Int64)?
        var i = from + 2
        while i < c.args.count {
            let o = c.argString(i)
            if o == "withscores" && dst == nil { withScores = true }
            else if o == "limit" && i + 2 < c.args.count {
                guard let off = Decimal.parseCanonical(c.arg(i + 1)), let cnt = Decimal.parseCanonical(c.arg(i + 2)) else { throw CommandError.notInteger }
                limit = (off, cnt)
                i += 2
            } else if m0 == .auto && o == "byscore" && mode == .auto { mode = .score }
            else if m0 == .auto && o == "bylex" && mode == .auto { mode = .lex }
            else if m0 == .auto && o == "rev" { rev = true }
            else { throw CommandError.syntax }
            i += 1
        }
        if mode == .auto { mode = .rank }
        // Redis tests the LIMIT *count* against -1 here: "LIMIT x -1" passes in rank mode (and is ignored).
        if mode == .rank, let l = limit, l.count != -1 { throw CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX") }
        if mode == .rank { limit = nil }
        if mode == .lex && withScores { throw CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX") }
        // For the REV forms the first bound is the max.
        var a = c.arg(from), b = c.arg(from + 1)
        if rev && mode != .rank { swap(&a, &b) }
        var window: Range<Int>
        var z: ZSetObject?
        switch mode {
        case .rank:
            guard let s = Decimal.parseCanonical(a), let e = Decimal.parseCanonical(b) else { throw CommandError.notInteger }
            z = try c.getZSet(key)
            guard let zz = z else { return try emptyResult(&c, dst) }
            if rev {
                // Reverse ranks map to forward ones counted from the end.
                let w = rankWindow(zz.count, s, e)
                window = w.isEmpty ? 0..<0 : (zz.count - w.upperBound)..<(zz.count - w.lowerBound)
            } else {
                window = rankWindow(zz.count, s, e)
            }
        case .score:
            guard let min = parseScoreBound(a), let max = parseScoreBound(b) else { throw CommandError("ERR min or max is not a float") }
            z = try c.getZSet(key)
            guard let zz = z else { return try emptyResult(&c, dst) }
            window = scoreWindow(zz, min, max)
        default:
            guard let min = parseLexBound(a), let max = parseLexBound(b) else { throw CommandError("ERR min or max not valid string range item") }
            z = try c.getZSet(key)
            guard let zz = z else { return try emptyResult(&c, dst) }
            window = lexWindow(zz, min, max, reverse: rev)
        }
        guard let zz = z else { return try emptyResult(&c, dst) }
        var items = zz.range(from: window.lowerBound, count: window.count)
        if rev { items.reverse() }
        if let limit {
            if limit.offset < 0 { items = [] } else {
                items = Array(items.dropFirst(Int(min(limit.offset, Int64(items.count)))))
                if limit.count >= 0 { items = Array(items.prefix(Int(min(limit.count, Int64(items.count))))) }
            }
        }
        if let dst { return storeResult(&c, dst, items) }
        return membersReply(items, withScores: withScores)
    }

    /// The *STORE commands' ending: dst replaced by `items` (deleted when empty), the count.
    static func storeResult(_ c: inout CommandContext, _ dst: Bytes, _ items: [(member: Bytes, score: Double)]) -> Reply {
        c.engine.delete(c.db, dst)
        if !items.isEmpty { c.engine.store(c.db, dst, .zset(ZSetObject.from(items, limits: c.engine.limits))) }
        c.propagateAsIs()
        return .integer(Int64(items.count))
    }

    /// Members in order, each followed by its score when asked.
    static func membersReply(_ items: [(member: Bytes, score: Double)], withScores: Bool) -> Reply {
        var out = [Reply]()
        out.reserveCapacity(items.count * (withScores ? 2 : 1))
        for it in items {
            out.append(.bulk(it.member))
            if withScores { out.append(scoreReply(it.score)) }
        }
        return withScores ? .pairs(out) : .array(out)
    }

    static func emptyResult(_ c: inout CommandContext, _ dst: Bytes?) throws -> Reply {
        guard let dst else { return .array([]) }
        c.engine.delete(c.db, dst)
        c.propagateAsIs()
        return .integer(0)
    }

    /// LMPOP / ZMPOP: pop from the first non-empty key of several (the non-blocking core).
    static func mpop(_ c: inout CommandContext, zset: Bool) throws -> Reply {
        guard let n = Decimal.parseCanonical(c.arg(1)), n >= 1 else { throw CommandError("ERR numkeys should be greater than 0") }
        guard n < Int64(c.args.count) - 2 else { throw CommandError.syntax }
        let whereIndex = 2 + Int(n)
        let w = c.argString(whereIndex)
        guard zset ? (w == "min" || w == "max") : (w == "left" || w == "right") else { throw CommandError.syntax }
        var count: Int64 = -1
        var j = whereIndex + 1
        while j < c.args.count {
            let more = c.args.count - 1 - j
            guard count == -1, c.argString(j) == "count", more > 0 else { throw CommandError.syntax }
            guard let v = Decimal.parseCanonical(c.arg(j + 1)), v >= 1 else { throw CommandError("ERR count should be greater than 0") }
            count = v
            j += 2
        }
        if count == -1 { count = 1 }
        for k in c.args[2..<whereIndex] {
            guard let v = c.lookup(k) else { continue }
            if zset {
                guard case .zset(let z) = v else { throw CommandError.wrongType }
                var popped = [Reply]()
                for _ in 0..<Int(min(count, Int64(z.count))) {
                    guard let it = z.range(from: w == "max" ? z.count - 1 : 0, count: 1).first else { break }
                    z.remove(it.member)
                    popped.append(.array([.bulk(it.member), scoreReply(it.score)]))
                }
                if z.count == 0 { c.engine.delete(c.db, k) }
                c.propagate([B(w == "max" ? "ZPOPMAX" : "ZPOPMIN"), k, Decimal.bytes(Int64(popped.count))])
                return .array([.bulk(k), .array(popped)])
            } else {
                guard case .list(let l) = v else { throw CommandError.wrongType }
                var popped = [Reply]()
                for _ in 0..<Int(min(count, Int64(l.items.count))) {
                    popped.append(.bulk(w == "left" ? l.items.popFirst()! : l.items.popLast()!))
                }
                if l.items.isEmpty { c.engine.delete(c.db, k) }
                c.propagate([B(w == "left" ? "LPOP" : "RPOP"), k, Decimal.bytes(Int64(popped.count))])
                return .array([.bulk(k), .array(popped)])
            }
        }
        return .array(nil)
    }

    static func zpop(_ c: inout CommandContext, max: Bool) throws -> Reply {
        var count = 1
        if c.args.count > 3 { throw CommandError.syntax }
        if c.args.count == 3 {
            guard let n = Decimal.parseCanonical(c.arg(2)), n >= 0 else { throw CommandError("ERR value is out of range, must be positive") }
            count = Int(min(n, Int64(Int32.max)))
        }
        guard let z = try c.getZSet(c.arg(1)) else { return .array([]) }
        var out = [Reply]()
        for _ in 0..<min(count, z.count) {
            let r = max ? z.count - 1 : 0
            guard let it = z.range(from: r, count: 1).first else { break }
            z.remove(it.member)
            out.append(.bulk(it.member))
            out.append(scoreReply(it.score))
        }
        if z.count == 0 { c.engine.delete(c.db, c.arg(1)) }
        if !out.isEmpty { c.propagateAsIs() }
        // With a count, RESP3 pairs each member with its score; without, one flat pair.
        return c.args.count == 3 ? .pairs(out) : .array(out)
    }
}
