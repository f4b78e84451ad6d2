import StrataFormats

extension CommandContext {
    func getList(_ key: Bytes) throws -> ListObject? {
        guard let v = lookup(key) else { return nil }
        guard case .list(let l) = v else { throw CommandError.wrongType }
        return l
    }
}

enum ListCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    /// Redis's index normalisation for ranges: negative from the end, clamped.
    static func range(_ s0: Int64, _ e0: Int64, count n: Int) -> Range<Int>? {
        var s = s0, e = e0
        let len = Int64(n)
        if s < 0 { s += len }
        if e < 0 { e += len }
        if s < 0 { s = 0 }
        if s > e || s >= len { return nil }
        if e >= len { e = len - 1 }
        return Int(s)..<Int(e + 1)
    }

    static let all: [Command] = [
        cmd("lpush", -3, [.write, .denyoom, .fast], 1, 1, 1) { c in try push(&c, left: true, onlyIfExists: false) },
        cmd("rpush", -3, [.write, .denyoom, .fast], 1, 1, 1) { c in try push(&c, left: false, onlyIfExists: false) },
        cmd("lpushx", -3, [.write, .denyoom, .fast], 1, 1, 1) { c in try push(&c, left: true, onlyIfExists: true) },
        cmd("rpushx", -3, [.write, .denyoom, .fast], 1, 1, 1) { c in try push(&c, left: false, onlyIfExists: true) },
        cmd("lpop", -2, [.write, .fast], 1, 1, 1) { c in try pop(&c, left: true) },
        cmd("rpop", -2, [.write, .fast], 1, 1, 1) { c in try pop(&c, left: false) },
        cmd("llen", 2, [.readonly, .fast], 1, 1, 1) { c in .integer(Int64(try c.getList(c.arg(1))?.items.count ?? 0)) },
        cmd("lindex", 3, [.readonly], 1, 1, 1) { c in
            guard let l = try c.getList(c.arg(1)) else { return .null }
            guard let i0 = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
            let i = i0 < 0 ? Int64(l.items.count) + i0 : i0
            guard i >= 0 && i < Int64(l.items.count) else { return .null }
            return .bulk(l.items[Int(i)])
        },
        cmd("lset", 4, [.write, .denyoom], 1, 1, 1) { c in
            guard let l = try c.getList(c.arg(1)) else { throw CommandError.noSuchKey }
            guard let i0 = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
            let i = i0 < 0 ? Int64(l.items.count) + i0 : i0
            guard i >= 0 && i < Int64(l.items.count) else { throw CommandError.outOfRange }
            l.items[Int(i)] = c.arg(3)
            c.propagateAsIs()
            return .ok
        },
        cmd("lrange", 4, [.readonly], 1, 1, 1) { c in
            guard let s = Decimal.parseCanonical(c.arg(2)), let e = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
            guard let l = try c.getList(c.arg(1)) else { return .array([]) }
            guard let r = range(s, e, count: l.items.count) else { return .array([]) }
            return .array(r.map { .bulk(l.items[$0]) })
        },
        cmd("ltrim", 4, [.write], 1, 1, 1) { c in
            guard let s = Decimal.parseCanonical(c.arg(2)), let e = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
            guard let l = try c.getList(c.arg(1)) else { return .ok }
            if let r = range(s, e, count: l.items.count) {
                l.items.replaceAll(with: r.map { l.items[$0] })
            } else {
                l.items.replaceAll(with: [])
            }
            if l.items.isEmpty { c.engine.delete(c.db, c.arg(1)) }
            c.propagateAsIs()
            return .ok
        },
        cmd("lrem", 4, [.write], 1, 1, 1) { c in
            guard let count = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
            guard let l = try c.getList(c.arg(1)) else { return .integer(0) }
            let target = c.arg(3)
            var items = l.items.elements
            var removed: Int64 = 0
            let limit = count == 0 ? Int64.max : count.magnitude > UInt64(Int64.max) ? Int64.max : Int64(count.magnitude)
            if count >= 0 {
                var kept = [Bytes]()
                for e in items { if e == target && removed < limit { removed += 1 } else { kept.append(e) } }
                items = kept
            } else {
                var kept = [Bytes]()
                for e in items.reversed() { if e == target && removed < limit { removed += 1 } else { kept.append(e) } }
                items = kept.reversed()
            }
            if removed > 0 {
                l.items.replaceAll(with: items)
                if items.isEmpty { c.engine.delete(c.db, c.arg(1)) }
                c.propagateAsIs()
            }
            return .integer(removed)
        },
        cmd("linsert", 5, [.write, .denyoom], 1, 1, 1) { c in
            let whereArg = c.argString(2)
            guard whereArg == "before" || whereArg == "after" else { throw CommandError.syntax }
            guard let l = try c.getList(c.arg(1)) else { return .integer(0) }
            var items = l.items.elements
            guard let i = items.firstIndex(of: c.arg(3)) else { return .integer(-1) }
            items.insert(c.arg(4), at: whereArg == "before" ? i : i + 1)
            l.items.replaceAll(with: items)
            c.propagateAsIs()
            return .integer(Int64(items.count))
        },
        cmd("lpos", -3, [.readonly], 1, 1, 1) { c in try lpos(&c) },
        cmd("lmove", 5, [.write, .denyoom], 1, 2, 1) { c in
            let from = c.argString(3), to = c.argString(4)
            guard ["left", "right"].contains(from), ["left", "right"].contains(to) else { throw CommandError.syntax }
            return try move(&c, fromLeft: from == "left", toLeft: to == "left")
        },
        cmd("rpoplpush", 3, [.write, .denyoom], 1, 2, 1) { c in try move(&c, fromLeft: false, toLeft: true) },
    ]

    static func push(_ c: inout CommandContext, left: Bool, onlyIfExists: Bool) throws -> Reply {
        var l = try c.getList(c.arg(1))
        if l == nil {
            if onlyIfExists { return .integer(0) }
            let n = ListObject()
            c.engine.store(c.db, c.arg(1), .list(n))
            l = n
        }
        let list = l!
        var i = 2
        while i < c.args.count {   // (an index loop: iterating a slice of args is not specialised)
            if left { list.items.prepend(c.args[i]) } else { list.items.append(c.args[i]) }
            i += 1
        }
        c.propagateAsIs()
        return .integer(Int64(l!.items.count))
    }

    static func pop(_ c: inout CommandContext, left: Bool) throws -> Reply {
        var count: Int64?
        if c.args.count == 3 {
            guard let n = Decimal.parseCanonical(c.arg(2)), n >= 0 else { throw CommandError("ERR value is out of range, must be positive") }
            count = n
        } else if c.args.count > 3 {
            throw CommandError("ERR wrong number of arguments for '\(left ? "lpop" : "rpop")' command")
        }
        guard let l = try c.getList(c.arg(1)) else { return count == nil ? .null : .array(nil) }
        if count == 0 { return .array([]) }
        var out = [Reply]()
        for _ in 0..<Int(min(count ?? 1, Int64(l.items.count))) {
            out.append(.bulk(left ? l.items.popFirst()! : l.items.popLast()!))
        }
        if l.items.isEmpty { c.engine.delete(c.db, c.arg(1)) }
        c.propagateAsIs()
        return count == nil ? out[0] : .array(out)
    }

    static func move(_ c: inout CommandContext, fromLeft: Bool, toLeft: Bool) throws -> Reply {
        guard let src = try c.getList(c.arg(1)) else { return .null }
        let dstExisting = try c.getList(c.arg(2))
        let e = fromLeft ? src.items.popFirst()! : src.items.popLast()!
        let dst: ListObject
        if let d = dstExisting { dst = d } else {
            dst = ListObject()
        }
        if src.items.isEmpty && src !== dst { c.engine.delete(c.db, c.arg(1)) }
        if dstExisting == nil { c.engine.store(c.db, c.arg(2), .list(dst)) }
        if toLeft { dst.items.prepend(e) } else { dst.items.append(e) }
        c.propagateAsIs()
        return .bulk(e)
    }

    static func lpos(_ c: inout CommandContext) throws -> Reply {
        var rank: Int64 = 1, count: Int64?, maxlen: Int64 = 0
        var i = 3
        while i < c.args.count {
            guard i + 1 < c.args.count else { throw CommandError.syntax }
            let o = c.argString(i)
            let parsed = Decimal.parseCanonical(c.arg(i + 1))
            switch o {
            case "rank":
                guard let v = parsed else { throw CommandError.notInteger }
                guard v != 0 else {
                    throw CommandError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                }
                rank = v
            case "count":
                guard let v = parsed, v >= 0 else { throw CommandError("ERR COUNT can't be negative") }
                count = v
            case "maxlen":
                guard let v = parsed, v >= 0 else { throw CommandError("ERR MAXLEN can't be negative") }
                maxlen = v
            default: throw CommandError.syntax
            }
            i += 2
        }
        guard let l = try c.getList(c.arg(1)) else { return count == nil ? .null : .array([]) }
        let n = l.items.count
        let target = c.arg(2)
        var matches = [Int64]()
        // Redis negates a negative rank in C: LONG_MIN stays negative, so every match counts.
        var skip = rank == .min ? 0 : rank.magnitude - 1
        let want = count.map { $0 == 0 ? Int.max : Int($0) } ?? 1
        var scanned: Int64 = 0
        let indices: [Int] = rank > 0 ? Array(0..<n) : Array((0..<n).reversed())
        for idx in indices {
            if maxlen != 0 && scanned >= maxlen { break }
            scanned += 1
            if l.items[idx] == target {
                if skip > 0 { skip -= 1; continue }
                matches.append(Int64(idx))
                if matches.count >= want { break }
            }
        }
        if count == nil { return matches.first.map { .integer($0) } ?? .null }
        return .array(matches.map { .integer($0) })
    }
}
