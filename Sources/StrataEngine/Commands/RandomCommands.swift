import StrataFormats

/// SPOP SRANDMEMBER HRANDFIELD ZRANDMEMBER (Redis 7.0 argument rules and count semantics:
/// a positive count returns distinct elements, at most all of them; a negative one returns
/// exactly |count| elements, repeats allowed).
enum RandomCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    /// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`.
    static func signedCount(_ b: Bytes) throws -> Int64 {
        guard let v = Decimal.parseCanonical(b) else { throw CommandError.notInteger }
        guard v != .min else { throw CommandError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807") }
        return v
    }

    /// Indices to return for `count` over `n` elements.
    static func pick(_ n: Int, count: Int64, rng: inout SystemRandomNumberGenerator) -> [Int] {
        if count < 0 { return (0..<Int(min(count.magnitude, UInt64(Int32.max)))).map { _ in Int.random(in: 0..<n, using: &rng) } }
        if count >= Int64(n) { return Array(0..<n) }
        var idx = Array(0..<n)
        idx.shuffle(using: &rng)
        return Array(idx.prefix(Int(count)))
    }

    static let all: [Command] = [
        cmd("spop", -2, [.write, .fast], 1, 1, 1) { c in
            if c.args.count > 3 { throw CommandError.syntax }
            var count: Int64?
            if c.args.count == 3 {
                guard let v = Decimal.parseCanonical(c.arg(2)), v >= 0 else { throw CommandError("ERR value is out of range, must be positive") }
                count = v
            }
            guard let s = try c.getSet(c.arg(1)) else { return count == nil ? .null : .set([]) }
            let members = s.members
            let chosen = pick(members.count, count: count ?? 1, rng: &c.engine.rng).map { members[$0] }
            for m in chosen { s.remove(m) }
            if s.count == 0 {
                c.engine.delete(c.db, c.arg(1))
                if !chosen.isEmpty { c.propagate([B("DEL"), c.arg(1)]) }
            } else if !chosen.isEmpty {
                c.propagate([B("SREM"), c.arg(1)] + chosen)
            }
            if count == nil { return .bulk(chosen.first) }
            return .set(chosen.map { .bulk($0) })
        },
        cmd("srandmember", -2, [.readonly], 1, 1, 1) { c in
            if c.args.count > 3 { throw CommandError.syntax }
            if c.args.count == 3 {
                let count = try signedCount(c.arg(2))
                guard let s = try c.getSet(c.arg(1)) else { return .array([]) }
                if count == 0 { return .array([]) }
                let members = s.members
                return .array(pick(members.count, count: count, rng: &c.engine.rng).map { .bulk(members[$0]) })
            }
            guard let s = try c.getSet(c.arg(1)) else { return .null }
            let members = s.members
            return .bulk(members[Int.random(in: 0..<members.count, using: &c.engine.rng)])
        },
        cmd("hrandfield", -2, [.readonly], 1, 1, 1) { c in
            if c.args.count >= 3 {
                let count = try signedCount(c.arg(2))
                var withValues = false
                if c.args.count > 4 || (c.args.count == 4 && c.argString(3) != "withvalues") { throw CommandError.syntax }
                if c.args.count == 4 {
                    withValues = true
                    if count < -Int64.max / 2 || count > Int64.max / 2 { throw CommandError("ERR value is out of range") }
                }
                guard let h = try c.getHash(c.arg(1)) else { return .array([]) }
                if count == 0 { return .array([]) }
                let pairs = h.pairs
                var out = [Reply]()
                for i in pick(pairs.count, count: count, rng: &c.engine.rng) {
                    out.append(.bulk(pairs[i].field))
                    if withValues { out.append(.bulk(pairs[i].value)) }
                }
                return withValues ? .pairs(out) : .array(out)
            }
            guard let h = try c.getHash(c.arg(1)) else { return .null }
            let pairs = h.pairs
            return .bulk(pairs[Int.random(in: 0..<pairs.count, using: &c.engine.rng)].field)
        },
        cmd("zrandmember", -2, [.readonly], 1, 1, 1) { c in
            if c.args.count >= 3 {
                let count = try signedCount(c.arg(2))
                var withScores = false
                if c.args.count > 4 || (c.args.count == 4 && c.argString(3) != "withscores") { throw CommandError.syntax }
                if c.args.count == 4 {
                    withScores = true
                    if count < -Int64.max / 2 || count > Int64.max / 2 { throw CommandError("ERR value is out of range") }
                }
                guard let z = try c.getZSet(c.arg(1)) else { return .array([]) }
                if count == 0 { return .array([]) }
                let members = z.members
                var out = [Reply]()
                for i in pick(members.count, count: count, rng: &c.engine.rng) {
                    out.append(.bulk(members[i].member))
                    if withScores { out.append(ZSetCommands.scoreReply(members[i].score)) }
                }
                return withScores ? .pairs(out) : .array(out)
            }
            guard let z = try c.getZSet(c.arg(1)) else { return .null }
            let members = z.members
            return .bulk(members[Int.random(in: 0..<members.count, using: &c.engine.rng)].member)
        },
    ]
}
