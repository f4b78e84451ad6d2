import StrataFormats

/// LCS (Redis 7.0 `lcsCommand`, its range walk reproduced exactly) and HSCAN/SSCAN/ZSCAN.
enum LCSScanCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    static let all: [Command] = [
        cmd("lcs", -3, [.readonly], 1, 2, 1) { c in try lcs(&c) },
        cmd("hscan", -3, [.readonly], 1, 1, 1) { c in
            try collectionScan(&c) { ctx, k in try ctx.getHash(k).map { h in h.pairs.flatMap { [$0.field, $0.value] } } }
        },
        cmd("sscan", -3, [.readonly], 1, 1, 1) { c in
            try collectionScan(&c) { ctx, k in try ctx.getSet(k).map { $0.members } }
        },
        cmd("zscan", -3, [.readonly], 1, 1, 1) { c in
            try collectionScan(&c) { ctx, k in try ctx.getZSet(k).map { z in z.members.flatMap { [$0.member, RedisDigest.scoreText($0.score)] } } }
        },
    ]

    static func lcs(_ c: inout CommandContext) throws -> Reply {
        let va = c.lookup(c.arg(1)), vb = c.lookup(c.arg(2))
        func bytes(_ v: Value?) throws -> Bytes {
            guard let v else { return [] }
            guard case .string(let s) = v else { throw CommandError("ERR The specified keys must contain string values") }
            return s.bytes
        }
        let a = try bytes(va), b = try bytes(vb)
        var getIdx = false, getLen = false, withMatchLen = false
        var minMatchLen: Int64 = 0
        var j = 3
        while j < c.args.count {
            let more = c.args.count - 1 - j
            switch c.argString(j) {
            case "idx": getIdx = true
            case "len": getLen = true
            case "withmatchlen": withMatchLen = true
            case "minmatchlen" where more > 0:
                guard let v = Decimal.parseCanonical(c.arg(j + 1)) else { throw CommandError.notInteger }
                minMatchLen = max(v, 0)
                j += 1
            default: throw CommandError.syntax
            }
            j += 1
        }
        if getLen && getIdx { throw CommandError("ERR If you want both the length and indexes, please just use IDX.") }
        let alen = a.count, blen = b.count
        guard (alen + 1) * (blen + 1) * 4 <= c.engine.maxBulkLength else {
            throw CommandError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }
        var table = [UInt32](repeating: 0, count: (alen + 1) * (blen + 1))
        @inline(__always) func at(_ i: Int, _ j: Int) -> UInt32 { table[j + i * (blen + 1)] }
        if alen > 0 && blen > 0 {
            for i in 1...alen {
                for jj in 1...blen {
                    table[jj + i * (blen + 1)] = a[i - 1] == b[jj - 1] ? at(i - 1, jj - 1) + 1 : max(at(i - 1, jj), at(i, jj - 1))
                }
            }
        }
        let total = Int(at(alen, blen))
        let computeLCS = getIdx || !getLen
        var result = [UInt8](repeating: 0, count: computeLCS ? total : 0)
        var idx = total
        var ranges = [Reply]()
        var aStart = alen, aEnd = 0, bStart = 0, bEnd = 0
        var i = alen, k = blen
        while computeLCS && i > 0 && k > 0 {
            var emit = false
            if a[i - 1] == b[k - 1] {
                result[idx - 1] = a[i - 1]
                if aStart == alen {
                    aStart = i - 1; aEnd = i - 1; bStart = k - 1; bEnd = k - 1
                } else if aStart == i && bStart == k {
                    aStart -= 1; bStart -= 1
                } else {
                    emit = true
                }
                if aStart == 0 || bStart == 0 { emit = true }
                idx -= 1; i -= 1; k -= 1
            } else {
                if at(i - 1, k) > at(i, k - 1) { i -= 1 } else { k -= 1 }
                if aStart != alen { emit = true }
            }
            let matchLen = aEnd - aStart + 1
            if emit {
                if minMatchLen == 0 || Int64(matchLen) >= minMatchLen, getIdx {
                    var r: [Reply] = [.array([.integer(Int64(aStart)), .integer(Int64(aEnd))]),
                                      .array([.integer(Int64(bStart)), .integer(Int64(bEnd))])]
                    if withMatchLen { r.append(.integer(Int64(matchLen))) }
                    ranges.append(.array(r))
                }
                aStart = alen
            }
        }
        if getIdx { return .map([.bulk("matches"), .array(ranges), .bulk("len"), .integer(Int64(total))]) }
        if getLen { return .integer(Int64(total)) }
        return .bulk(result)
    }

    /// HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n]. Every element comes back in the first
    /// call with cursor 0, which SCAN's contract allows (COUNT is a hint).
    static func collectionScan(_ c: inout CommandContext, _ elements: (CommandContext, Bytes) throws -> [Bytes]?) throws -> Reply {
        guard let cursor = UInt64(String(decoding: c.arg(2), as: UTF8.self)) else { throw CommandError("ERR invalid cursor") }
        var pattern: Bytes?
        var i = 3
        while i < c.args.count {
            guard i + 1 < c.args.count else { throw CommandError.syntax }
            switch c.argString(i) {
            case "match": pattern = c.arg(i + 1)
            case "count":
                guard let n = Decimal.parseCanonical(c.arg(i + 1)) else { throw CommandError.notInteger }
                guard n >= 1 else { throw CommandError.syntax }
            default: throw CommandError.syntax
            }
            i += 2
        }
        guard let items = try elements(c, c.arg(1)), cursor == 0 else { return .array([.bulk("0"), .array([])]) }
        let pairs = c.argString(0) != "sscan"
        var out = [Reply]()
        var k = 0
        while k < items.count {
            let keep = pattern.map { Glob.matches($0, items[k]) } ?? true
            if keep {
                out.append(.bulk(items[k]))
                if pairs { out.append(.bulk(items[k + 1])) }
            }
            k += pairs ? 2 : 1
        }
        return .array([.bulk("0"), .array(out)])
    }
}
