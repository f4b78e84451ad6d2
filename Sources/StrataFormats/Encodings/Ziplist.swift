/// Ziplist (`src/ziplist.c`), the packed encoding of Redis ≤ 6.2 lists, hashes and zsets;
/// still read from RDB types 10, 12, 13 and 14.
///
/// ```
/// <u32 LE zlbytes> <u32 LE zltail> <u16 LE zllen (65535 = unknown)> <entry>* <0xFF>
/// entry := <prevlen: 1 byte < 254, or 0xFE + u32 LE> <encoding> <data>
/// 00pppppp: str len 6 bits   01pppppp qqqqqqqq: str len 14 bits BE   10000000 + u32 BE: str
/// 0xC0 int16  0xD0 int32  0xE0 int64  0xF0 int24  0xFE int8  0xF1..0xFD immediate 0..12
/// ```
public enum Ziplist {
    /// Walks and validates every entry (zlbytes, zltail, each prevlen, bounds, terminator, count).
    @discardableResult
    public static func forEach(_ blob: UnsafeRawBufferPointer,
                               _ body: (PackedElement) throws -> Void) throws -> Int {
        let n = blob.count
        guard n >= 11 else { throw PackedError("ziplist of \(n) bytes is shorter than its header") }
        let zlbytes = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        guard zlbytes == n else { throw PackedError("ziplist header says \(zlbytes) bytes, blob has \(n)") }
        let zltail = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let declared = Int(UInt16(littleEndian: blob.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        var p = 10
        var prevSize = 0
        var lastStart = 10
        var count = 0
        while true {
            guard p < n else { throw PackedError("ziplist has no terminator") }
            if blob[p] == 0xFF {
                guard p == n - 1 else { throw PackedError("ziplist terminator at \(p), before the end") }
                break
            }
            let entryStart = p
            var prevlen = Int(blob[p])
            p += 1
            if prevlen == 0xFE {
                guard p + 4 <= n else { throw PackedError("ziplist prevlen at \(entryStart) runs past the end") }
                prevlen = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
                p += 4
            }
            guard prevlen == prevSize else {
                throw PackedError("ziplist entry at \(entryStart): prevlen \(prevlen), previous entry is \(prevSize) bytes")
            }
            guard p < n else { throw PackedError("ziplist entry at \(entryStart) runs past the end") }
            let e = blob[p]
            p += 1
            let element: PackedElement
            switch e >> 6 {
            case 0, 1, 2:
                var len: Int
                if e >> 6 == 0 {
                    len = Int(e & 0x3F)
                } else if e >> 6 == 1 {
                    guard p < n else { throw PackedError("ziplist entry at \(entryStart) runs past the end") }
                    len = (Int(e & 0x3F) << 8) | Int(blob[p]); p += 1
                } else {
                    guard e == 0x80, p + 4 <= n else { throw PackedError("ziplist entry at \(entryStart) has a bad string encoding") }
                    len = Int(UInt32(bigEndian: blob.loadUnaligned(fromByteOffset: p, as: UInt32.self))); p += 4
                }
                guard len <= n - p else { throw PackedError("ziplist string at \(entryStart) runs past the end") }
                element = .bytes(UnsafeRawBufferPointer(rebasing: blob[p..<(p + len)]))
                p += len
            default:
                func need(_ k: Int) throws {
                    if p + k > n { throw PackedError("ziplist integer at \(entryStart) runs past the end") }
                }
                switch e {
                case 0xC0: try need(2); element = .int(Int64(Int16(littleEndian: blob.loadUnaligned(fromByteOffset: p, as: Int16.self)))); p += 2
                case 0xD0: try need(4); element = .int(Int64(Int32(littleEndian: blob.loadUnaligned(fromByteOffset: p, as: Int32.self)))); p += 4
                case 0xE0: try need(8); element = .int(Int64(littleEndian: blob.loadUnaligned(fromByteOffset: p, as: Int64.self))); p += 8
                case 0xF0:
                    try need(3)
                    let u = Int32(blob[p]) | (Int32(blob[p + 1]) << 8) | (Int32(blob[p + 2]) << 16)
                    element = .int(Int64((u << 8) >> 8)); p += 3
                case 0xFE: try need(1); element = .int(Int64(Int8(bitPattern: blob[p]))); p += 1
                case 0xF1...0xFD: element = .int(Int64(e & 0x0F) - 1)
                default: throw PackedError("ziplist entry at \(entryStart) has invalid encoding byte 0x\(String(e, radix: 16))")
                }
            }
            prevSize = p - entryStart
            lastStart = entryStart
            count += 1
            try body(element)
        }
        guard zltail == lastStart || (count == 0 && zltail == 10) else {
            throw PackedError("ziplist tail offset \(zltail) does not point at the last entry (\(lastStart))")
        }
        if declared != 65535 && declared != count {
            throw PackedError("ziplist header says \(declared) entries, found \(count)")
        }
        return count
    }

    /// Builds a ziplist with Redis's encoding choices (`zipTryEncoding`), for targets ≤ RDB 9.
    public struct Builder {
        private var bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        private var prevSize = 0
        private var lastStart = 10
        public private(set) var count = 0

        public init() {}

        public mutating func append(_ s: [UInt8]) {
            let start = bytes.count
            appendPrevlen()
            if s.count < 32, let v = Decimal.parseCanonical(s) {
                appendInt(v)
            } else {
                let len = s.count
                if len <= 0x3F {
                    bytes.append(UInt8(len))
                } else if len <= 0x3FFF {
                    bytes.append(0x40 | UInt8(len >> 8)); bytes.append(UInt8(len & 0xFF))
                } else {
                    bytes.append(0x80)
                    withUnsafeBytes(of: UInt32(len).bigEndian) { bytes.append(contentsOf: $0) }
                }
                bytes.append(contentsOf: s)
            }
            prevSize = bytes.count - start
            lastStart = start
            count += 1
        }

        private mutating func appendPrevlen() {
            if prevSize < 254 {
                bytes.append(UInt8(prevSize))
            } else {
                bytes.append(0xFE)
                withUnsafeBytes(of: UInt32(prevSize).littleEndian) { bytes.append(contentsOf: $0) }
            }
        }

        private mutating func appendInt(_ v: Int64) {
            if v >= 0 && v <= 12 {
                bytes.append(0xF1 + UInt8(v))
            } else if v >= Int64(Int8.min) && v <= Int64(Int8.max) {
                bytes.append(0xFE); bytes.append(UInt8(bitPattern: Int8(v)))
            } else if v >= Int64(Int16.min) && v <= Int64(Int16.max) {
                bytes.append(0xC0); withUnsafeBytes(of: Int16(v).littleEndian) { bytes.append(contentsOf: $0) }
            } else if v >= -8388608 && v <= 8388607 {
                bytes.append(0xF0)
                let u = UInt32(bitPattern: Int32(v))
                bytes.append(UInt8(u & 0xFF)); bytes.append(UInt8((u >> 8) & 0xFF)); bytes.append(UInt8((u >> 16) & 0xFF))
            } else if v >= Int64(Int32.min) && v <= Int64(Int32.max) {
                bytes.append(0xD0); withUnsafeBytes(of: Int32(v).littleEndian) { bytes.append(contentsOf: $0) }
            } else {
                bytes.append(0xE0); withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }

        public func finish() -> [UInt8] {
            var out = bytes
            out.append(0xFF)
            func put32(_ at: Int, _ v: Int) {
                out[at] = UInt8(v & 0xFF); out[at + 1] = UInt8((v >> 8) & 0xFF)
                out[at + 2] = UInt8((v >> 16) & 0xFF); out[at + 3] = UInt8((v >> 24) & 0xFF)
            }
            put32(0, out.count)
            put32(4, count == 0 ? 10 : lastStart)
            let c = count < 65535 ? count : 65535
            out[8] = UInt8(c & 0xFF); out[9] = UInt8(c >> 8)
            return out
        }

        public var byteCount: Int { bytes.count + 1 }
    }
}

/// Intset (`src/intset.c`): `<u32 LE encoding 2|4|8> <u32 LE length> <length × int LE>`,
/// sorted ascending, unique.
public enum Intset {
    @discardableResult
    public static func forEach(_ blob: UnsafeRawBufferPointer, _ body: (Int64) throws -> Void) throws -> Int {
        guard blob.count >= 8 else { throw PackedError("intset of \(blob.count) bytes is shorter than its header") }
        let enc = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        let len = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard enc == 2 || enc == 4 || enc == 8 else { throw PackedError("intset has invalid encoding \(enc)") }
        guard blob.count == 8 + len * enc else {
            throw PackedError("intset of \(len) × \(enc)-byte integers needs \(8 + len * enc) bytes, blob has \(blob.count)")
        }
        guard len > 0 else { throw PackedError("intset is empty") }
        var prev = Int64.min
        for i in 0..<len {
            let off = 8 + i * enc
            let v: Int64
            switch enc {
            case 2: v = Int64(Int16(littleEndian: blob.loadUnaligned(fromByteOffset: off, as: Int16.self)))
            case 4: v = Int64(Int32(littleEndian: blob.loadUnaligned(fromByteOffset: off, as: Int32.self)))
            default: v = Int64(littleEndian: blob.loadUnaligned(fromByteOffset: off, as: Int64.self))
            }
            if i > 0 && v <= prev { throw PackedError("intset is not sorted and unique at element \(i)") }
            prev = v
            try body(v)
        }
        return len
    }

    /// Encodes sorted unique integers in the smallest width that holds them all.
    public static func encode(_ sortedValues: [Int64]) -> [UInt8] {
        var enc = 2
        for v in sortedValues {
            if v < Int64(Int32.min) || v > Int64(Int32.max) { enc = 8; break }
            if v < Int64(Int16.min) || v > Int64(Int16.max) { enc = 4 }
        }
        var out = [UInt8]()
        out.reserveCapacity(8 + enc * sortedValues.count)
        withUnsafeBytes(of: UInt32(enc).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(sortedValues.count).littleEndian) { out.append(contentsOf: $0) }
        for v in sortedValues {
            switch enc {
            case 2: withUnsafeBytes(of: Int16(v).littleEndian) { out.append(contentsOf: $0) }
            case 4: withUnsafeBytes(of: Int32(v).littleEndian) { out.append(contentsOf: $0) }
            default: withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }
}

/// Zipmap (`src/zipmap.c`), hashes in RDB 2-3 era files:
/// `<u8 zmlen> (<len> key <len> <u8 free> value <free bytes>)* 0xFF`, len = 1 byte < 254, or
/// 0xFE + u32 (host order, little-endian in practice).
public enum Zipmap {
    @discardableResult
    public static func forEach(_ blob: UnsafeRawBufferPointer,
                               _ body: (PackedElement, PackedElement) throws -> Void) throws -> Int {
        let n = blob.count
        guard n >= 2 else { throw PackedError("zipmap of \(n) bytes is too short") }
        var p = 1
        var count = 0
        func readLen() throws -> Int {
            guard p < n else { throw PackedError("zipmap length at \(p) runs past the end") }
            let b = blob[p]
            if b < 254 { p += 1; return Int(b) }
            if b == 254 {
                guard p + 5 <= n else { throw PackedError("zipmap length at \(p) runs past the end") }
                let v = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: p + 1, as: UInt32.self)))
                p += 5
                return v
            }
            throw PackedError("zipmap has an unexpected end marker at \(p)")
        }
        while true {
            guard p < n else { throw PackedError("zipmap has no terminator") }
            if blob[p] == 0xFF {
                guard p == n - 1 else { throw PackedError("zipmap terminator at \(p), before the end") }
                break
            }
            let klen = try readLen()
            guard klen <= n - p else { throw PackedError("zipmap key at \(p) runs past the end") }
            let key = UnsafeRawBufferPointer(rebasing: blob[p..<(p + klen)])
            p += klen
            let vlen = try readLen()
            guard p < n else { throw PackedError("zipmap free byte runs past the end") }
            let free = Int(blob[p]); p += 1
            guard vlen + free <= n - p else { throw PackedError("zipmap value at \(p) runs past the end") }
            let value = UnsafeRawBufferPointer(rebasing: blob[p..<(p + vlen)])
            p += vlen + free
            count += 1
            try body(.bytes(key), .bytes(value))
        }
        return count
    }
}
