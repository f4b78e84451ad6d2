import StrataFormats

/// SETBIT GETBIT BITCOUNT BITPOS BITOP on string values (Redis 7.0 `bitops.c`).
enum BitCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    /// Bit offsets: 0 ... 2^32-1 (512 MB of bits, Redis's limit with proto-max-bulk-len 512mb).
    static func bitOffset(_ b: Bytes, maxBytes: Int) throws -> Int {
        guard let v = Decimal.parseCanonical(b), v >= 0, v >> 3 < Int64(maxBytes) else {
            throw CommandError("ERR bit offset is not an integer or out of range")
        }
        return Int(v)
    }

    static let all: [Command] = [
        cmd("setbit", 4, [.write, .denyoom], 1, 1, 1) { c in
            let off = try bitOffset(c.arg(2), maxBytes: c.engine.maxBulkLength)
            guard let bit = Decimal.parseCanonical(c.arg(3)), bit == 0 || bit == 1 else {
                throw CommandError("ERR bit is not an integer or out of range")
            }
            var s = try c.getString(c.arg(1)) ?? StringValue([], encoding: .raw)
            let byte = off >> 3
            if s.bytes.count <= byte { s.bytes += [UInt8](repeating: 0, count: byte + 1 - s.bytes.count) }
            let mask = UInt8(1 << (7 - (off & 7)))
            let old = s.bytes[byte] & mask != 0 ? 1 : 0
            if bit == 1 { s.bytes[byte] |= mask } else { s.bytes[byte] &= ~mask }
            s.encodingKind = .raw
            c.engine.store(c.db, c.arg(1), .string(s), keepTTL: true)
            c.propagateAsIs()
            return .integer(Int64(old))
        },
        cmd("getbit", 3, [.readonly, .fast], 1, 1, 1) { c in
            let off = try bitOffset(c.arg(2), maxBytes: c.engine.maxBulkLength)
            guard let s = try c.getString(c.arg(1)) else { return .integer(0) }
            let byte = off >> 3
            guard byte < s.bytes.count else { return .integer(0) }
            return .integer(s.bytes[byte] & UInt8(1 << (7 - (off & 7))) != 0 ? 1 : 0)
        },
        cmd("bitcount", -2, [.readonly], 1, 1, 1) { c in try bitcount(&c) },
        cmd("bitpos", -3, [.readonly], 1, 1, 1) { c in try bitpos(&c) },
        cmd("bitop", -4, [.write, .denyoom], 2, -1, 1) { c in try bitop(&c) },
    ]

    /// Start/end (bytes, or bits with BIT) normalised as Redis does; nil = empty range.
    static func window(_ s0: Int64, _ e0: Int64, length: Int64) -> (Int64, Int64)? {
        var s = s0, e = e0
        if s < 0 { s = s &+ length }
        if e < 0 { e = e &+ length }
        if s < 0 { s = 0 }
        if e < 0 { e = 0 }
        if e >= length { e = length - 1 }
        return s > e ? nil : (s, e)
    }

    static func bitcount(_ c: inout CommandContext) throws -> Reply {
        // Redis looks the key up before it parses the range: a missing key is 0 whatever follows.
        guard let str = try c.getString(c.arg(1)) else { return .integer(0) }
        var isBit = false
        var range: (Int64, Int64)?
        if c.args.count == 4 || c.args.count == 5 {
            guard let s = Decimal.parseCanonical(c.arg(2)), let e = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
            // Redis answers 0 here, before it looks at BIT/BYTE.
            if s < 0 && e < 0 && s > e { return .integer(0) }
            if c.args.count == 5 {
                switch c.argString(4) {
                case "bit": isBit = true
                case "byte": isBit = false
                default: throw CommandError.syntax
                }
            }
            range = (s, e)
        } else if c.args.count != 2 {
            throw CommandError.syntax
        }
        let bytes = str.bytes
        guard let (s0, e0) = range else {
            return .integer(Int64(bytes.reduce(0) { $0 + $1.nonzeroBitCount }))
        }
        let total = Int64(bytes.count) * (isBit ? 8 : 1)
        guard let (s, e) = window(s0, e0, length: total) else { return .integer(0) }
        var n = 0
        if isBit {
            for i in s...e where bytes[Int(i >> 3)] & UInt8(1 << (7 - (i & 7))) != 0 { n += 1 }
        } else {
            for i in Int(s)...Int(e) { n += bytes[i].nonzeroBitCount }
        }
        return .integer(Int64(n))
    }

    static func bitpos(_ c: inout CommandContext) throws -> Reply {
        guard let bit = Decimal.parseCanonical(c.arg(2)) else { throw CommandError.notInteger }
        guard bit == 0 || bit == 1 else { throw CommandError("ERR The bit argument must be 1 or 0.") }
        guard let str = try c.getString(c.arg(1)) else { return .integer(bit == 1 ? -1 : 0) }
        var isBit = false
        var start: Int64 = 0, end: Int64 = -1
        var endGiven = false
        // Redis's order: start, then BIT/BYTE, then end.
        if c.args.count >= 4 && c.args.count <= 6 {
            guard let s = Decimal.parseCanonical(c.arg(3)) else { throw CommandError.notInteger }
            start = s
            if c.args.count == 6 {
                switch c.argString(5) {
                case "bit": isBit = true
                case "byte": isBit = false
                default: throw CommandError.syntax
                }
            }
            if c.args.count >= 5 {
                guard let e = Decimal.parseCanonical(c.arg(4)) else { throw CommandError.notInteger }
                end = e
                endGiven = true
            }
        } else if c.args.count > 6 {
            throw CommandError.syntax
        }
        let bytes = str.bytes
        let total = Int64(bytes.count) * (isBit ? 8 : 1)
        guard let (s, e) = window(start, end, length: total) else { return .integer(-1) }
        let firstBit = isBit ? s : s * 8
        let lastBit = isBit ? e : e * 8 + 7
        for i in firstBit...lastBit {
            let v = bytes[Int(i >> 3)] & UInt8(1 << (7 - (i & 7))) != 0 ? 1 : 0
            if v == Int(bit) { return .integer(i) }
        }
        // Looking for a 0 with no explicit end: the string is as if padded with zeros.
        if bit == 0 && !endGiven { return .integer(lastBit + 1) }
        return .integer(-1)
    }

    static func bitop(_ c: inout CommandContext) throws -> Reply {
        let op = c.argString(1)
        guard ["and", "or", "xor", "not"].contains(op) else { throw CommandError.syntax }
        let sources = Array(c.args.dropFirst(3))
        if op == "not" && sources.count != 1 { throw CommandError("ERR BITOP NOT must be called with a single source key.") }
        var values = [Bytes]()
        for k in sources {
            if let v = c.lookup(k) {
                guard case .string(let s) = v else { throw CommandError.wrongType }
                values.append(s.bytes)
            } else {
                values.append([])
            }
        }
        let maxLen = values.map(\.count).max() ?? 0
        var out = [UInt8](repeating: 0, count: maxLen)
        if maxLen > 0 {
            for i in 0..<maxLen {
                var acc: UInt8 = i < values[0].count ? values[0][i] : 0
                if op == "not" { acc = ~acc } else {
                    for v in values.dropFirst() {
                        let b: UInt8 = i < v.count ? v[i] : 0
                        switch op {
                        case "and": acc &= b
                        case "or": acc |= b
                        default: acc ^= b
                        }
                    }
                }
                out[i] = acc
            }
        }
        if maxLen == 0 {
            c.engine.delete(c.db, c.arg(2))
        } else {
            c.engine.store(c.db, c.arg(2), .string(StringValue(out, encoding: .raw)))
        }
        c.propagateAsIs()
        return .integer(Int64(maxLen))
    }
}
