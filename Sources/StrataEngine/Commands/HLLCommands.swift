#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// HyperLogLog as Redis 7.0 keeps it (`hyperloglog.c`): a string value holding a 16-byte header
/// ("HYLL", encoding, 3 unused bytes, cached cardinality little endian with bit 63 meaning
/// "stale") and 16384 6-bit registers, sparse (run-length opcodes) until a register exceeds 32
/// or the string would grow past `hll-sparse-max-bytes`, then dense. The bytes are Redis's
/// byte for byte, so DEBUG DIGEST, DUMP and RDB files agree.
enum HLL {
    static let p = 14
    static let q = 64 - p
    static let registers = 1 << p
    static let regMax: UInt8 = 63
    static let headerSize = 16
    static let denseSize = headerSize + (registers * 6 + 7) / 8
    static let dense: UInt8 = 0, sparse: UInt8 = 1
    static let invalidError = CommandError("INVALIDOBJ Corrupted HLL object detected")
    static let notHLLError = CommandError("WRONGTYPE Key is not a valid HyperLogLog string value.")

    // MARK: hashing

    /// MurmurHash64A, the endian-neutral variant Redis uses.
    static func murmur64A(_ key: Bytes, seed: UInt64) -> UInt64 {
        let m: UInt64 = 0xc6a4_a793_5bd1_e995
        let r: UInt64 = 47
        return key.withUnsafeBytes { buf -> UInt64 in
            let len = buf.count
            var h = seed ^ (UInt64(truncatingIfNeeded: len) &* m)
            var i = 0
            while i + 8 <= len {
                var k = UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                k = k &* m; k ^= k >> r; k = k &* m
                h ^= k; h = h &* m
                i += 8
            }
            let rest = len & 7
            if rest > 0 {
                for j in stride(from: rest - 1, through: 0, by: -1) { h ^= UInt64(buf[i + j]) << (8 * UInt64(j)) }
                h = h &* m
            }
            h ^= h >> r; h = h &* m; h ^= h >> r
            return h
        }
    }

    /// Register index and run length of the `000..1` pattern (`hllPatLen`).
    static func patLen(_ ele: Bytes) -> (index: Int, count: UInt8) {
        var hash = murmur64A(ele, seed: 0xadc8_3b19)
        let index = Int(hash & UInt64(registers - 1))
        hash >>= UInt64(p)
        hash |= 1 << UInt64(q)
        var bit: UInt64 = 1
        var count: UInt8 = 1
        while hash & bit == 0 { count += 1; bit <<= 1 }
        return (index, count)
    }

    // MARK: representation

    static func isHLL(_ s: Bytes) -> Bool {
        guard s.count >= headerSize, s[0] == 72, s[1] == 89, s[2] == 76, s[3] == 76 else { return false }   // "HYLL"
        guard s[4] <= 1 else { return false }
        if s[4] == dense && s.count != denseSize { return false }
        return true
    }

    /// An empty sparse HLL (`createHLLObject`): XZERO opcodes covering every register.
    static func create() -> Bytes {
        var s = Bytes(repeating: 0, count: headerSize)
        s[0] = 72; s[1] = 89; s[2] = 76; s[3] = 76
        s[4] = sparse
        var left = registers
        while left > 0 {
            let x = min(left, 16384)
            let l = x - 1
            s.append(UInt8(l >> 8) | 0x40)
            s.append(UInt8(l & 0xff))
            left -= x
        }
        return s
    }

    static func invalidateCache(_ s: inout Bytes) { s[15] |= 0x80 }

    @inline(__always)
    static func denseGet(_ s: Bytes, _ reg: Int) -> UInt8 {
        let byte = headerSize + reg * 6 / 8
        let fb = UInt(reg * 6 & 7)
        let b0 = UInt(s[byte])
        let b1 = byte + 1 < s.count ? UInt(s[byte + 1]) : 0
        return UInt8(((b0 >> fb) | (b1 << (8 - fb))) & 63)
    }

    @inline(__always)
    static func denseSetRegister(_ s: inout Bytes, _ reg: Int, _ val: UInt8) {
        let byte = headerSize + reg * 6 / 8
        let fb = UInt(reg * 6 & 7)
        let fb8 = 8 - fb
        let v = UInt(val)
        s[byte] &= ~UInt8(truncatingIfNeeded: 63 << fb)
        s[byte] |= UInt8(truncatingIfNeeded: v << fb)
        if byte + 1 < s.count {   // Redis writes the sds terminator here for the last register
            s[byte + 1] &= ~UInt8(truncatingIfNeeded: 63 >> fb8)
            s[byte + 1] |= UInt8(truncatingIfNeeded: v >> fb8)
        }
    }

    static func denseSet(_ s: inout Bytes, _ reg: Int, _ count: UInt8) -> Bool {
        if count > denseGet(s, reg) { denseSetRegister(&s, reg, count); return true }
        return false
    }

    // Sparse opcodes.
    @inline(__always) static func isZero(_ b: UInt8) -> Bool { b & 0xc0 == 0 }
    @inline(__always) static func isXZero(_ b: UInt8) -> Bool { b & 0xc0 == 0x40 }
    @inline(__always) static func isVal(_ b: UInt8) -> Bool { b & 0x80 != 0 }
    @inline(__always) static func zeroLen(_ b: UInt8) -> Int { Int(b & 0x3f) + 1 }
    @inline(__always) static func xzeroLen(_ b: UInt8, _ b2: UInt8) -> Int { (Int(b & 0x3f) << 8 | Int(b2)) + 1 }
    /// The XZERO run at `p`. A corrupt string can end inside an XZERO opcode: Redis then
    /// reads the sds terminator, a zero byte, as its second half; so do we, to stay byte-exact.
    @inline(__always) static func xzeroLen(_ s: Bytes, at p: Int) -> Int { xzeroLen(s[p], p + 1 < s.count ? s[p + 1] : 0) }
    @inline(__always) static func valValue(_ b: UInt8) -> UInt8 { ((b >> 2) & 0x1f) + 1 }
    @inline(__always) static func valLen(_ b: UInt8) -> Int { Int(b & 3) + 1 }
    @inline(__always) static func valOp(_ val: UInt8, _ len: Int) -> UInt8 { (val - 1) << 2 | UInt8(len - 1) | 0x80 }

    /// `hllSparseToDense`; false when the sparse data is corrupt.
    static func sparseToDense(_ s: inout Bytes) -> Bool {
        if s[4] == dense { return true }
        var d = Bytes(repeating: 0, count: denseSize)
        for i in 0..<headerSize { d[i] = s[i] }
        d[4] = dense
        var idx = 0
        var i = headerSize
        while i < s.count {
            let b = s[i]
            if isZero(b) { idx += zeroLen(b); i += 1 }
            else if isXZero(b) { idx += xzeroLen(s, at: i); i += 2 }
            else {
                var run = valLen(b)
                let v = valValue(b)
                if run + idx > registers { break }
                while run > 0 { denseSetRegister(&d, idx, v); idx += 1; run -= 1 }
                i += 1
            }
        }
        guard idx == registers else { return false }
        s = d
        return true
    }

    /// `hllSparseSet`: 1 updated, 0 unchanged, -1 corrupt. May promote to dense.
    static func sparseSet(_ s: inout Bytes, _ index: Int, _ count: UInt8, maxBytes: Int) -> Int {
        if count > 32 { return promote(&s, index, count) }
        var p = headerSize
        var end = s.count
        var first = 0
        var prev: Int? = nil
        var span = 0
        while p < end {
            var oplen = 1
            let b = s[p]
            if isZero(b) { span = zeroLen(b) }
            else if isVal(b) { span = valLen(b) }
            else { span = xzeroLen(s, at: p); oplen = 2 }
            if index <= first + span - 1 { break }
            prev = p
            p += oplen
            first += span
        }
        if span == 0 || p >= end { return -1 }
        let op = s[p]
        let zero = isZero(op), xzero = isXZero(op), val = isVal(op)
        let runlen = zero ? zeroLen(op) : (xzero ? xzeroLen(s, at: p) : valLen(op))

        var updatedInPlace = false
        if val {
            let old = valValue(op)
            if old >= count { return 0 }
            if runlen == 1 { s[p] = valOp(count, 1); updatedInPlace = true }
        }
        if !updatedInPlace && zero && runlen == 1 { s[p] = valOp(count, 1); updatedInPlace = true }

        if !updatedInPlace {
            var seq = [UInt8]()
            let last = first + span - 1
            func zeros(_ len: Int) {
                if len > 64 { let l = len - 1; seq.append(UInt8(l >> 8) | 0x40); seq.append(UInt8(l & 0xff)) }
                else { seq.append(UInt8(len - 1)) }
            }
            if zero || xzero {
                if index != first { zeros(index - first) }
                seq.append(valOp(count, 1))
                if index != last { zeros(last - index) }
            } else {
                let cur = valValue(op)
                if index != first { seq.append(valOp(cur, index - first)) }
                seq.append(valOp(count, 1))
                if index != last { seq.append(valOp(cur, last - index)) }
            }
            let oldlen = xzero ? 2 : 1
            let delta = seq.count - oldlen
            if delta > 0 && s.count + delta > maxBytes { return promote(&s, index, count) }
            let newCount = s.count + delta
            // An XZERO cut by the end of a corrupt string: Redis overwrites the terminator.
            if p + oldlen > s.count { s.append(0) }
            s.replaceSubrange(p..<(p + oldlen), with: seq)
            if s.count > newCount { s.removeLast(s.count - newCount) }
            end += delta
        }

        // Merge adjacent VAL opcodes with the same value (up to 5 opcodes from prev).
        p = prev ?? headerSize
        var scan = 5
        while p < end {
            if scan == 0 { break }
            scan -= 1
            let b = s[p]
            if isXZero(b) { p += 2; continue }
            if isZero(b) { p += 1; continue }
            if p + 1 < end && isVal(s[p + 1]) {
                let v1 = valValue(b), v2 = valValue(s[p + 1])
                if v1 == v2 {
                    let len = valLen(b) + valLen(s[p + 1])
                    if len <= 4 {
                        s[p + 1] = valOp(v1, len)
                        s.remove(at: p)
                        end -= 1
                        continue
                    }
                }
            }
            p += 1
        }
        invalidateCache(&s)
        return 1
    }

    private static func promote(_ s: inout Bytes, _ index: Int, _ count: UInt8) -> Int {
        guard sparseToDense(&s) else { return -1 }
        _ = denseSet(&s, index, count)
        return 1
    }

    static func add(_ s: inout Bytes, _ ele: Bytes, maxBytes: Int) -> Int {
        let (index, count) = patLen(ele)
        switch s[4] {
        case dense: return denseSet(&s, index, count) ? 1 : 0
        case sparse: return sparseSet(&s, index, count, maxBytes: maxBytes)
        default: return -1
        }
    }

    /// `hllMerge`: max into `regs` (16384 raw registers); false when corrupt.
    static func merge(_ regs: inout [UInt8], _ s: Bytes) -> Bool {
        if s[4] == dense {
            for i in 0..<registers { let v = denseGet(s, i); if v > regs[i] { regs[i] = v } }
            return true
        }
        var i = 0
        var p = headerSize
        while p < s.count {
            let b = s[p]
            if isZero(b) { i += zeroLen(b); p += 1 }
            else if isXZero(b) { i += xzeroLen(s, at: p); p += 2 }
            else {
                var run = valLen(b)
                let v = valValue(b)
                if run + i > registers { break }
                while run > 0 { if v > regs[i] { regs[i] = v }; i += 1; run -= 1 }
                p += 1
            }
        }
        return i == registers
    }

    // MARK: counting

    static func sigma(_ x0: Double) -> Double {
        if x0 == 1 { return .infinity }
        var x = x0, y = 1.0, z = x0, zPrime = 0.0
        repeat { x *= x; zPrime = z; z += x * y; y += y } while zPrime != z
        return z
    }

    static func tau(_ x0: Double) -> Double {
        if x0 == 0 || x0 == 1 { return 0 }
        var x = x0, y = 1.0, z = 1 - x0, zPrime = 0.0
        repeat { x = sqrt(x); zPrime = z; y *= 0.5; z -= pow(1 - x, 2) * y } while zPrime != z
        return z / 3
    }

    static func count(histogram h: [Int]) -> UInt64 {
        let m = Double(registers)
        var z = m * tau((m - Double(h[q + 1])) / m)
        for j in stride(from: q, through: 1, by: -1) { z += Double(h[j]); z *= 0.5 }
        z += m * sigma(Double(h[0]) / m)
        return UInt64((0.721347520444481703680 * m * m / z).rounded())
    }

    /// The histogram of register values of an HLL string; nil when sparse data is corrupt.
    static func histogram(_ s: Bytes) -> [Int]? {
        var h = [Int](repeating: 0, count: 64)
        if s[4] == dense {
            for i in 0..<registers { h[Int(denseGet(s, i))] += 1 }
            return h
        }
        var idx = 0
        var p = headerSize
        while p < s.count {
            let b = s[p]
            if isZero(b) { let r = zeroLen(b); idx += r; h[0] += r; p += 1 }
            else if isXZero(b) { let r = xzeroLen(s, at: p); idx += r; h[0] += r; p += 2 }
            else {
                let r = valLen(b); idx += r; h[Int(valValue(b))] += r; p += 1
            }
        }
        return idx == registers ? h : nil
    }

    static func rawHistogram(_ regs: [UInt8]) -> [Int] {
        var h = [Int](repeating: 0, count: 64)
        for v in regs { h[Int(v)] += 1 }
        return h
    }
}

extension CommandContext {
    /// The HLL string at `key`, nil when missing; errors as `isHLLObjectOrReply`.
    func getHLL(_ key: Bytes) throws -> StringValue? {
        guard let s = try getString(key) else { return nil }
        guard HLL.isHLL(s.bytes) else { throw HLL.notHLLError }
        return s
    }
}

enum HLLCommands {
    static let all: [Command] = [
        cmd("pfadd", -2, [.write, .denyoom, .fast], 1, 1, 1) { c in
            let key = c.arg(1)
            var updated = 0
            var bytes: Bytes
            if let s = try c.getHLL(key) { bytes = s.bytes } else { bytes = HLL.create(); updated += 1 }
            for ele in c.args.dropFirst(2) {
                switch HLL.add(&bytes, ele, maxBytes: c.engine.limits.hllSparseMaxBytes) {
                case 1: updated += 1
                case -1:
                    // Redis changed the value in place up to here, and propagates nothing.
                    c.engine.store(c.db, key, .string(StringValue(bytes, encoding: .raw)), keepTTL: true)
                    throw HLL.invalidError
                default: break
                }
            }
            guard updated > 0 else { return .integer(0) }
            HLL.invalidateCache(&bytes)
            c.engine.store(c.db, key, .string(StringValue(bytes, encoding: .raw)), keepTTL: true)
            c.propagateAsIs()
            return .integer(1)
        },
        cmd("pfcount", -2, [.readonly], 1, -1, 1) { c in
            if c.args.count > 2 {
                var regs = [UInt8](repeating: 0, count: HLL.registers)
                for key in c.args.dropFirst() {
                    guard let s = try c.getHLL(key) else { continue }
                    guard HLL.merge(&regs, s.bytes) else { throw HLL.invalidError }
                }
                return .integer(Int64(HLL.count(histogram: HLL.rawHistogram(regs))))
            }
            guard var s = try c.getHLL(c.arg(1)) else { return .integer(0) }
            if s.bytes[15] & 0x80 == 0 {
                var card: UInt64 = 0
                for i in 0..<8 { card |= UInt64(s.bytes[8 + i]) << (8 * UInt64(i)) }
                return .integer(Int64(bitPattern: card))
            }
            guard let h = HLL.histogram(s.bytes) else { throw HLL.invalidError }
            let card = HLL.count(histogram: h)
            for i in 0..<8 { s.bytes[8 + i] = UInt8(truncatingIfNeeded: card >> (8 * UInt64(i))) }
            // The cached cardinality is part of the value: Redis propagates PFCOUNT then.
            c.engine.store(c.db, c.arg(1), .string(s), keepTTL: true)
            c.propagateAsIs()
            return .integer(Int64(card))
        },
        cmd("pfmerge", -2, [.write, .denyoom], 1, -1, 1) { c in
            var regs = [UInt8](repeating: 0, count: HLL.registers)
            var useDense = false
            for key in c.args.dropFirst() {
                guard let s = try c.getHLL(key) else { continue }
                if s.bytes[4] == HLL.dense { useDense = true }
                guard HLL.merge(&regs, s.bytes) else { throw HLL.invalidError }
            }
            let dest = c.arg(1)
            var bytes = try c.getHLL(dest)?.bytes ?? HLL.create()
            if useDense && !HLL.sparseToDense(&bytes) { throw HLL.invalidError }
            for j in 0..<HLL.registers where regs[j] != 0 {
                if bytes[4] == HLL.dense { _ = HLL.denseSet(&bytes, j, regs[j]) }
                else { _ = HLL.sparseSet(&bytes, j, regs[j], maxBytes: c.engine.limits.hllSparseMaxBytes) }
            }
            HLL.invalidateCache(&bytes)
            c.engine.store(c.db, dest, .string(StringValue(bytes, encoding: .raw)), keepTTL: true)
            c.propagateAsIs()
            return .ok
        },
        cmd("pfdebug", 3, [.write, .denyoom, .admin], 2, 2, 1) { c in
            let sub = c.argString(1)
            guard var s = try c.getString(c.arg(2)) else { throw CommandError("ERR The specified key does not exist") }
            guard HLL.isHLL(s.bytes) else { throw HLL.notHLLError }
            func toDense() throws -> Bool {
                guard s.bytes[4] == HLL.sparse else { return false }
                guard HLL.sparseToDense(&s.bytes) else { throw HLL.invalidError }
                c.engine.store(c.db, c.arg(2), .string(s), keepTTL: true)
                c.propagateAsIs()
                return true
            }
            switch sub {
            case "getreg":
                _ = try toDense()
                return .array((0..<HLL.registers).map { .integer(Int64(HLL.denseGet(s.bytes, $0))) })
            case "decode":
                guard s.bytes[4] == HLL.sparse else { throw CommandError("ERR HLL encoding is not sparse") }
                var out = [String]()
                var p = HLL.headerSize
                let b = s.bytes
                while p < b.count {
                    if HLL.isZero(b[p]) { out.append("z:\(HLL.zeroLen(b[p]))"); p += 1 }
                    else if HLL.isXZero(b[p]) { out.append("Z:\(HLL.xzeroLen(b, at: p))"); p += 2 }
                    else { out.append("v:\(HLL.valValue(b[p])),\(HLL.valLen(b[p]))"); p += 1 }
                }
                return .bulk(Array(out.joined(separator: " ").utf8))
            case "encoding":
                return .status(s.bytes[4] == HLL.dense ? "dense" : "sparse")
            case "todense":
                return .integer(try toDense() ? 1 : 0)
            default:
                throw CommandError("ERR Unknown PFDEBUG subcommand '\(String(decoding: c.arg(1), as: UTF8.self))'")
            }
        },
    ]
}
