import StrataFormats

/// ZUNION ZINTER ZDIFF, their STORE forms and ZINTERCARD (Redis 7.0
/// `zunionInterDiffGenericCommand`): sets count as sorted sets with score 1.
enum ZSetAlgebra {
    enum Op { case union, inter, diff }

    static let all: [Command] = [
        cmd("zunionstore", -4, [.write, .denyoom], 1, 1, 1) { c in try run(&c, .union, numkeysAt: 2, store: true) },
        cmd("zinterstore", -4, [.write, .denyoom], 1, 1, 1) { c in try run(&c, .inter, numkeysAt: 2, store: true) },
        cmd("zdiffstore", -4, [.write, .denyoom], 1, 1, 1) { c in try run(&c, .diff, numkeysAt: 2, store: true) },
        cmd("zunion", -3, [.readonly], 0, 0, 0) { c in try run(&c, .union, numkeysAt: 1, store: false) },
        cmd("zinter", -3, [.readonly], 0, 0, 0) { c in try run(&c, .inter, numkeysAt: 1, store: false) },
        cmd("zdiff", -3, [.readonly], 0, 0, 0) { c in try run(&c, .diff, numkeysAt: 1, store: false) },
        cmd("zintercard", -3, [.readonly], 0, 0, 0) { c in try run(&c, .inter, numkeysAt: 1, store: false, cardinalityOnly: true) },
    ]

    enum Aggregate { case sum, min, max }

    static func run(_ c: inout CommandContext, _ op: Op, numkeysAt ni: Int, store: Bool, cardinalityOnly: Bool = false) throws -> Reply {
        let name = String(decoding: c.arg(0), as: UTF8.self).lowercased()
        guard let n64 = Decimal.parseCanonical(c.arg(ni)) else { throw CommandError.notInteger }
        if n64 < 1 { throw CommandError("ERR at least 1 input key is needed for '\(name)' command") }
        guard n64 <= Int64(c.args.count - ni - 1) else { throw CommandError.syntax }
        let n = Int(n64)
        // Sources: (member, score) lists, or nil for a missing key.
        var sources = [[(member: Bytes, score: Double)]?]()
        for j in (ni + 1)...(ni + n) {
            guard let v = c.lookup(c.arg(j)) else { sources.append(nil); continue }
            switch v {
            case .zset(let z): sources.append(z.members)
            case .set(let s): sources.append(s.members.map { ($0, 1.0) })
            default: throw CommandError.wrongType
            }
        }
        var weights = [Double](repeating: 1, count: n)
        var aggregate = Aggregate.sum
        var withScores = false
        var limit: Int64 = 0
        var j = ni + 1 + n
        while j < c.args.count {
            let remaining = c.args.count - j
            let o = c.argString(j)
            if op != .diff && !cardinalityOnly && remaining >= n + 1 && o == "weights" {
                for i in 0..<n {
                    guard let w = ZSetCommands.parseScore(c.arg(j + 1 + i)) else { throw CommandError("ERR weight value is not a float") }
                    weights[i] = w
                }
                j += n + 1
            } else if op != .diff && !cardinalityOnly && remaining >= 2 && o == "aggregate" {
                switch c.argString(j + 1) {
                case "sum": aggregate = .sum
                case "min": aggregate = .min
                case "max": aggregate = .max
                default: throw CommandError.syntax
                }
                j += 2
            } else if remaining >= 1 && !store && !cardinalityOnly && o == "withscores" {
                withScores = true
                j += 1
            } else if cardinalityOnly && remaining >= 2 && o == "limit" {
                guard let l = Decimal.parseCanonical(c.arg(j + 1)), l >= 0 else { throw CommandError("ERR LIMIT can't be negative") }
                limit = l
                j += 2
            } else {
                throw CommandError.syntax
            }
        }
        @inline(__always) func weighted(_ s: Double, _ i: Int) -> Double {
            let v = s * weights[i]
            return v.isNaN ? 0 : v
        }
        @inline(__always) func combine(_ a: Double, _ b: Double) -> Double {
            switch aggregate {
            case .sum: let r = a + b; return r.isNaN ? 0 : r
            case .min: return Swift.min(a, b)
            case .max: return Swift.max(a, b)
            }
        }
        var result = [ByteKey: Double]()
        switch op {
        case .union:
            for (i, src) in sources.enumerated() {
                for m in src ?? [] {
                    let k = ByteKey(m.member), w = weighted(m.score, i)
                    if let old = result[k] { result[k] = combine(old, w) } else { result[k] = w }
                }
            }
        case .inter:
            if !sources.contains(where: { $0 == nil }) {
                let maps = sources.map { src in Dictionary(src!.map { (ByteKey($0.member), $0.score) }, uniquingKeysWith: { a, _ in a }) }
                // Redis walks the smallest input; the result does not depend on which.
                for m in sources[0]! {
                    let k = ByteKey(m.member)
                    var score = weighted(m.score, 0)
                    var everywhere = true
                    for i in 1..<n {
                        guard let s = maps[i][k] else { everywhere = false; break }
                        score = combine(score, weighted(s, i))
                    }
                    if everywhere { result[k] = score }
                }
            }
        case .diff:
            if let first = sources[0] {
                let others = sources.dropFirst().compactMap { $0 }.map { Set($0.map { ByteKey($0.member) }) }
                for m in first where !others.contains(where: { $0.contains(ByteKey(m.member)) }) {
                    result[ByteKey(m.member)] = m.score
                }
            }
        }
        if cardinalityOnly {
            return .integer(limit == 0 ? Int64(result.count) : Swift.min(Int64(result.count), limit))
        }
        let ordered = result.map { (member: $0.key.bytes, score: $0.value) }.sorted {
            SkipList.less($0.score, $0.member, $1.score, $1.member)
        }
        if store { return ZSetCommands.storeResult(&c, c.arg(1), ordered) }
        return ZSetCommands.membersReply(ordered, withScores: withScores)
    }
}
