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

/// BITFIELD and BITFIELD_RO (Redis 7.0 `bitfieldGeneric`): signed and unsigned fields of 1 to
/// 64 (u: 63) bits at any bit offset (`#N` = N times the width), WRAP/SAT/FAIL overflow.
enum BitfieldCommands {
    struct Op { var offset: UInt64; var value: Int64; var opcode: Int; var overflow: Int; var bits: Int; var signed: Bool }
    static let get = 0, set = 1, incrby = 2
    static let wrap = 0, sat = 1, fail = 2

    static func getUnsigned(_ p: Bytes, _ offset0: UInt64, _ bits: Int) -> UInt64 {
        var v: UInt64 = 0
        var offset = offset0
        for _ in 0..<bits {
            let byte = Int(offset >> 3), bit = 7 - (offset & 7)
            let b = byte < p.count ? UInt64(p[byte]) : 0
            v = (v << 1) | ((b >> bit) & 1)
            offset += 1
        }
        return v
    }

    static func getSigned(_ p: Bytes, _ offset: UInt64, _ bits: Int) -> Int64 {
        var v = Int64(bitPattern: getUnsigned(p, offset, bits))
        if bits < 64 && v & (Int64(1) << (bits - 1)) != 0 { v |= Int64(bitPattern: UInt64.max << UInt64(bits)) }
        return v
    }

    static func setUnsigned(_ p: inout Bytes, _ offset0: UInt64, _ bits: Int, _ value: UInt64) {
        var offset = offset0
        for j in 0..<bits {
            let bitval = UInt8(value & (UInt64(1) << UInt64(bits - 1 - j)) != 0 ? 1 : 0)
            let byte = Int(offset >> 3), bit = UInt8(7 - (offset & 7))
            p[byte] = (p[byte] & ~(1 << bit)) | (bitval << bit)
            offset += 1
        }
    }

    /// `checkUnsignedBitfieldOverflow`: 1 / -1 on overflow (with the value to store, unless
    /// FAIL), 0 when the result fits.
    static func checkUnsigned(_ value: UInt64, _ incr: Int64, _ bits: Int, _ ow: Int) -> (Int, UInt64?) {
        let max: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        let maxincr = Int64(bitPattern: max &- value)
        let minincr = Int64(bitPattern: 0 &- value)
        func wrapped() -> UInt64 { (value &+ UInt64(bitPattern: incr)) & ~(UInt64.max << UInt64(bits)) }
        if value > max || (incr > 0 && incr > maxincr) {
            return (1, ow == wrap ? wrapped() : (ow == sat ? max : nil))
        } else if incr < 0 && incr < minincr {
            return (-1, ow == wrap ? wrapped() : (ow == sat ? 0 : nil))
        }
        return (0, nil)
    }

    static func checkSigned(_ value: Int64, _ incr: Int64, _ bits: Int, _ ow: Int) -> (Int, Int64?) {
        let max: Int64 = bits == 64 ? .max : (Int64(1) << (bits - 1)) - 1
        let min = -max - 1
        let maxincr = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
        let minincr = min &- value
        func wrapped() -> Int64 {
            let msb = UInt64(1) << UInt64(bits - 1)
            var c = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
            if bits < 64 {
                let mask = UInt64.max << UInt64(bits)
                if c & msb != 0 { c |= mask } else { c &= ~mask }
            }
            return Int64(bitPattern: c)
        }
        if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
            return (1, ow == wrap ? wrapped() : (ow == sat ? max : nil))
        } else if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
            return (-1, ow == wrap ? wrapped() : (ow == sat ? min : nil))
        }
        return (0, nil)
    }

    static func run(_ c: inout CommandContext, readOnlyCommand: Bool) throws -> Reply {
        var ops = [Op]()
        var overflow = wrap
        var readonly = true
        var highest: UInt64 = 0
        var j = 2
        let typeError = CommandError("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
        let offsetError = CommandError("ERR bit offset is not an integer or out of range")
        while j < c.args.count {
            let rem = c.args.count - j - 1
            let sub = c.argString(j)
            let opcode: Int
            if sub == "get" && rem >= 2 { opcode = get }
            else if sub == "set" && rem >= 3 { opcode = set }
            else if sub == "incrby" && rem >= 3 { opcode = incrby }
            else if sub == "overflow" && rem >= 1 {
                switch c.argString(j + 1) {
                case "wrap": overflow = wrap
                case "sat": overflow = sat
                case "fail": overflow = fail
                default: throw CommandError("ERR Invalid OVERFLOW type specified")
                }
                j += 2
                continue
            } else { throw CommandError.syntax }
            let t = c.arg(j + 1)
            guard let f = t.first, f == UInt8(ascii: "i") || f == UInt8(ascii: "u") else { throw typeError }
            let signed = f == UInt8(ascii: "i")
            guard let b = Decimal.parseCanonical(Array(t.dropFirst())), b >= 1, b <= (signed ? 64 : 63) else { throw typeError }
            let bits = Int(b)
            var o = c.arg(j + 2)
            let hash = o.first == UInt8(ascii: "#")
            if hash { o.removeFirst() }
            guard var off = Decimal.parseCanonical(o) else { throw offsetError }
            if hash { off = off &* Int64(bits) }
            guard off >= 0, off >> 3 < Int64(c.engine.maxBulkLength) else { throw offsetError }
            var value: Int64 = 0
            if opcode != get {
                readonly = false
                highest = Swift.max(highest, UInt64(off) + UInt64(bits) - 1)
                guard let v = Decimal.parseCanonical(c.arg(j + 3)) else { throw CommandError.notInteger }
                value = v
            }
            ops.append(Op(offset: UInt64(off), value: value, opcode: opcode, overflow: overflow, bits: bits, signed: signed))
            j += opcode == get ? 3 : 4
        }
        var bytes: Bytes
        var dirty = false
        if readonly {
            bytes = try c.getString(c.arg(1))?.bytes ?? []
        } else {
            if readOnlyCommand { throw CommandError("ERR BITFIELD_RO only supports the GET subcommand") }
            let need = Int(highest >> 3) + 1
            if let s = try c.getString(c.arg(1)) {
                bytes = s.bytes
                if bytes.count < need { bytes += Bytes(repeating: 0, count: need - bytes.count); dirty = true }
            } else {
                bytes = Bytes(repeating: 0, count: need)
                dirty = true
            }
        }
        var replies = [Reply]()
        var changes = 0
        for op in ops {
            if op.opcode == get {
                replies.append(.integer(op.signed ? getSigned(bytes, op.offset, op.bits) : Int64(bitPattern: getUnsigned(bytes, op.offset, op.bits))))
                continue
            }
            if op.signed {
                let old = getSigned(bytes, op.offset, op.bits)
                var new: Int64, ret: Int64, over: Int, lim: Int64?
                if op.opcode == incrby {
                    (over, lim) = checkSigned(old, op.value, op.bits, op.overflow)
                    new = over != 0 ? (lim ?? 0) : old &+ op.value
                    ret = new
                } else {
                    new = op.value
                    (over, lim) = checkSigned(new, 0, op.bits, op.overflow)
                    if over != 0 { new = lim ?? 0 }
                    ret = old
                }
                if !(over != 0 && op.overflow == fail) {
                    replies.append(.integer(ret))
                    setUnsigned(&bytes, op.offset, op.bits, UInt64(bitPattern: new))
                    if dirty || old != new { changes += 1 }
                } else {
                    replies.append(.null)
                }
            } else {
                let old = getUnsigned(bytes, op.offset, op.bits)
                var new: UInt64, ret: UInt64, over: Int, lim: UInt64?
                if op.opcode == incrby {
                    new = old &+ UInt64(bitPattern: op.value)
                    (over, lim) = checkUnsigned(old, op.value, op.bits, op.overflow)
                    if over != 0 { new = lim ?? 0 }
                    ret = new
                } else {
                    new = UInt64(bitPattern: op.value)
                    (over, lim) = checkUnsigned(new, 0, op.bits, op.overflow)
                    if over != 0 { new = lim ?? 0 }
                    ret = old
                }
                if !(over != 0 && op.overflow == fail) {
                    replies.append(.integer(Int64(bitPattern: ret)))
                    setUnsigned(&bytes, op.offset, op.bits, new)
                    if dirty || old != new { changes += 1 }
                } else {
                    replies.append(.null)
                }
            }
        }
        if !readonly {
            // The string is created or grown even when no field changed, as in Redis.
            c.engine.store(c.db, c.arg(1), .string(StringValue(bytes, encoding: .raw)), keepTTL: true)
            if changes > 0 { c.propagateAsIs() }
        }
        return .array(replies)
    }

    static let all: [Command] = [
        cmd("bitfield", -2, [.write, .denyoom], 1, 1, 1) { c in try run(&c, readOnlyCommand: false) },
        cmd("bitfield_ro", -2, [.readonly, .fast], 1, 1, 1) { c in try run(&c, readOnlyCommand: true) },
    ]
}
