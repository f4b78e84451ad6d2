/// Listpack (`src/listpack.c`), the packed encoding of Redis 7 hashes, zsets, sets, list nodes
/// and stream nodes.
///
/// ```
/// <u32 LE total-bytes> <u16 LE num-elements (65535 = unknown)> <entry>* <0xFF>
/// entry := <encoding+data> <backlen: size of encoding+data, 1-5 bytes, 7 bits each>
/// 0xxxxxxx            7-bit unsigned int        110xxxxx yyyyyyyy    13-bit signed int
/// 10xxxxxx <bytes>    string, len < 64          1110xxxx yyyyyyyy    string, len < 4096
/// 0xF0 <u32 len>      string                    0xF1/F2/F3/F4        int16/24/32/64 LE
/// ```
public enum Listpack {
    public static let headerSize = 6

    /// Walks every element of `blob`, validating the whole structure (header size, each
    /// entry's bounds and back-length, the terminator, the element count) before trusting it.
    /// Returns the number of elements.
    @discardableResult
    public static func forEach(_ blob: UnsafeRawBufferPointer,
                               _ body: (PackedElement) throws -> Void) throws -> Int {
        let declared = try header(blob)
        var p = headerSize
        var count = 0
        while let element = try next(blob, &p) {
            count += 1
            try body(element)
        }
        try checkCount(declared, count)
        return count
    }

    /// Checks the header's total size against `blob` and returns the element count it declares
    /// (65535: not counted). Entries start at `headerSize`.
    @inlinable
    public static func header(_ blob: UnsafeRawBufferPointer) throws -> Int {
        let n = blob.count
        guard n >= headerSize + 1 else { throw PackedError("listpack of \(n) bytes is shorter than its header") }
        let total = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        guard total == n else { throw PackedError("listpack header says \(total) bytes, blob has \(n)") }
        return Int(UInt16(littleEndian: blob.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
    }

    /// The element count found against the one the header declares.
    @inlinable
    public static func checkCount(_ declared: Int, _ found: Int) throws {
        if declared != 65535 && declared != found {
            throw PackedError("listpack header says \(declared) elements, found \(found)")
        }
    }

    /// Decodes the entry at `p`, checking its bounds and back-length, and moves `p` past it;
    /// nil at the terminator (which must be the last byte). Loops over a listpack with this
    /// instead of `forEach` where a closure per element costs too much (loading).
    @inlinable @inline(__always)
    public static func next(_ blob: UnsafeRawBufferPointer, _ p: inout Int) throws -> PackedElement? {
        // The two commonest entries (a 7-bit integer, a string of up to 63 bytes) whole and
        // well formed, inline; anything else, and every error, through the general decoder.
        let n = blob.count
        if p < n {
            let base = blob.baseAddress.unsafelyUnwrapped
            let b = base.load(fromByteOffset: p, as: UInt8.self)
            if b < 0x80 {
                let end = p &+ 1
                if end < n && base.load(fromByteOffset: end, as: UInt8.self) == 1 {
                    p = end &+ 1
                    return .int(Int64(b))
                }
            } else if b & 0xC0 == 0x80 {
                let len = Int(b & 0x3F)
                let end = p &+ 1 &+ len
                if end < n && Int(base.load(fromByteOffset: end, as: UInt8.self)) == len &+ 1 {
                    let e = PackedElement.bytes(UnsafeRawBufferPointer(start: base + (p &+ 1), count: len))
                    p = end &+ 1
                    return e
                }
            }
        }
        return try nextGeneral(blob, &p)
    }

    /// Any entry, with every check and its error.
    @usableFromInline
    static func nextGeneral(_ blob: UnsafeRawBufferPointer, _ p: inout Int) throws -> PackedElement? {
        let n = blob.count
        guard p < n else { throw PackedError("listpack has no terminator") }
        let b = blob[p]
        if b == 0xFF {
            guard p == n - 1 else { throw PackedError("listpack terminator at \(p), before the end (\(n - 1))") }
            return nil
        }
        let element: PackedElement
        let size: Int
        if b & 0x80 == 0 {
            element = .int(Int64(b & 0x7F)); size = 1
        } else if b & 0xC0 == 0x80 {
            let len = Int(b & 0x3F)
            size = 1 + len
            guard p + size <= n else { throw PackedError("listpack string at \(p) runs past the end") }
            element = .bytes(UnsafeRawBufferPointer(start: blob.baseAddress! + p + 1, count: len))
        } else {
            (element, size) = try nextWide(blob, p, b)
        }
        // Back-length: the entry's encoding+data size, read right to left (one byte below 128).
        let end = p + size
        if size <= 127 {
            guard end < n else { throw PackedError("listpack back-length at \(end) runs past the end") }
            guard Int(blob[end]) == size else { throw backlenError(blob, p, size) }
            p = end + 1
        } else {
            p = try checkLongBacklen(blob, p, size)
        }
        return element
    }

    /// The encodings other than a 7-bit integer and a short string.
    @usableFromInline
    static func nextWide(_ blob: UnsafeRawBufferPointer, _ p: Int, _ b: UInt8) throws -> (PackedElement, Int) {
        let n = blob.count
        if b & 0xE0 == 0xC0 {
            guard p + 2 <= n else { throw PackedError("listpack int at \(p) runs past the end") }
            var v = (Int(b & 0x1F) << 8) | Int(blob[p + 1])
            if v >= 1 << 12 { v -= 1 << 13 }
            return (.int(Int64(v)), 2)
        }
        if b & 0xF0 == 0xE0 {
            guard p + 2 <= n else { throw PackedError("listpack string header at \(p) runs past the end") }
            let len = (Int(b & 0x0F) << 8) | Int(blob[p + 1])
            guard p + 2 + len <= n else { throw PackedError("listpack string at \(p) runs past the end") }
            return (.bytes(UnsafeRawBufferPointer(rebasing: blob[(p + 2)..<(p + 2 + len)])), 2 + len)
        }
        switch b {
        case 0xF0:
            guard p + 5 <= n else { throw PackedError("listpack string header at \(p) runs past the end") }
            let len = Int(UInt32(littleEndian: blob.loadUnaligned(fromByteOffset: p + 1, as: UInt32.self)))
            guard 5 + len <= n - p else { throw PackedError("listpack string at \(p) runs past the end") }
            return (.bytes(UnsafeRawBufferPointer(rebasing: blob[(p + 5)..<(p + 5 + len)])), 5 + len)
        case 0xF1:
            guard p + 3 <= n else { throw PackedError("listpack int16 at \(p) runs past the end") }
            return (.int(Int64(Int16(littleEndian: blob.loadUnaligned(fromByteOffset: p + 1, as: Int16.self)))), 3)
        case 0xF2:
            guard p + 4 <= n else { throw PackedError("listpack int24 at \(p) runs past the end") }
            let u = Int32(blob[p + 1]) | (Int32(blob[p + 2]) << 8) | (Int32(blob[p + 3]) << 16)
            return (.int(Int64((u << 8) >> 8)), 4)
        case 0xF3:
            guard p + 5 <= n else { throw PackedError("listpack int32 at \(p) runs past the end") }
            return (.int(Int64(Int32(littleEndian: blob.loadUnaligned(fromByteOffset: p + 1, as: Int32.self)))), 5)
        case 0xF4:
            guard p + 9 <= n else { throw PackedError("listpack int64 at \(p) runs past the end") }
            return (.int(Int64(littleEndian: blob.loadUnaligned(fromByteOffset: p + 1, as: Int64.self))), 9)
        default:
            throw PackedError("listpack entry at \(p) has invalid encoding byte 0x\(String(b, radix: 16))")
        }
    }

    /// Checks a back-length of two bytes or more after the entry at `start` of `size` bytes;
    /// returns where the next entry starts.
    @usableFromInline
    static func checkLongBacklen(_ blob: UnsafeRawBufferPointer, _ start: Int, _ size: Int) throws -> Int {
        let p = start + size
        let bl = backlenSize(size)
        guard p + bl <= blob.count else { throw PackedError("listpack back-length at \(p) runs past the end") }
        var v = 0
        var shift = 0
        var q = p + bl - 1
        while true {
            let c = blob[q]
            v |= Int(c & 0x7F) << shift
            if c & 0x80 == 0 { break }
            shift += 7
            if q == p { throw PackedError("listpack back-length at \(p) is not terminated") }
            q -= 1
        }
        guard v == size, q == p else {
            throw PackedError("listpack entry at \(start): back-length says \(v), entry is \(size) bytes")
        }
        return p + bl
    }

    /// A one-byte back-length that does not match its entry of `size` bytes at `start`.
    @usableFromInline
    static func backlenError(_ blob: UnsafeRawBufferPointer, _ start: Int, _ size: Int) -> PackedError {
        let p = start + size
        if blob[p] & 0x80 != 0 { return PackedError("listpack back-length at \(p) is not terminated") }
        return PackedError("listpack entry at \(start): back-length says \(Int(blob[p])), entry is \(size) bytes")
    }

    @usableFromInline @inline(__always)
    static func backlenSize(_ l: Int) -> Int {
        if l <= 127 { return 1 }
        if l < 16383 { return 2 }
        if l < 2097151 { return 3 }
        if l < 268435455 { return 4 }
        return 5
    }

    /// Builds a listpack, choosing each entry's encoding as Redis does (`lpEncodeGetType`).
    public struct Builder {
        public private(set) var bytes: [UInt8]
        public private(set) var count = 0

        public init(capacity: Int = 64) {
            bytes = [UInt8]()
            bytes.reserveCapacity(capacity + 7)
            bytes.append(contentsOf: [0, 0, 0, 0, 0, 0])
        }

        /// Appends a string, stored as an integer when it is a canonical int64 (Redis's rule).
        public mutating func append(_ s: [UInt8]) {
            s.withUnsafeBytes { append($0) }
        }

        public mutating func append(_ s: UnsafeRawBufferPointer) {
            if s.count <= 20, let v = Decimal.parseCanonical(s) { append(int: v); return }
            let len = s.count
            let start = bytes.count
            if len < 64 {
                bytes.append(0x80 | UInt8(len))
            } else if len < 4096 {
                bytes.append(0xE0 | UInt8(len >> 8)); bytes.append(UInt8(len & 0xFF))
            } else {
                bytes.append(0xF0)
                withUnsafeBytes(of: UInt32(len).littleEndian) { bytes.append(contentsOf: $0) }
            }
            bytes.append(contentsOf: s)
            appendBacklen(bytes.count - start)
        }

        public mutating func append(int v: Int64) {
            let start = bytes.count
            if v >= 0 && v <= 127 {
                bytes.append(UInt8(v))
            } else if v >= -4096 && v <= 4095 {
                let u = v < 0 ? (1 << 13) + v : v
                bytes.append(UInt8(u >> 8) | 0xC0); bytes.append(UInt8(u & 0xFF))
            } else if v >= -32768 && v <= 32767 {
                bytes.append(0xF1)
                withUnsafeBytes(of: Int16(v).littleEndian) { bytes.append(contentsOf: $0) }
            } else if v >= -8388608 && v <= 8388607 {
                bytes.append(0xF2)
                let u = UInt32(bitPattern: Int32(v))
                bytes.append(UInt8(u & 0xFF)); bytes.append(UInt8((u >> 8) & 0xFF)); bytes.append(UInt8((u >> 16) & 0xFF))
            } else if v >= Int64(Int32.min) && v <= Int64(Int32.max) {
                bytes.append(0xF3)
                withUnsafeBytes(of: Int32(v).littleEndian) { bytes.append(contentsOf: $0) }
            } else {
                bytes.append(0xF4)
                withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
            }
            appendBacklen(bytes.count - start)
        }

        private mutating func appendBacklen(_ l: Int) {
            switch backlenSize(l) {
            case 1: bytes.append(UInt8(l))
            case 2: bytes.append(UInt8(l >> 7)); bytes.append(UInt8(l & 127) | 128)
            case 3: bytes.append(UInt8(l >> 14)); bytes.append(UInt8((l >> 7) & 127) | 128); bytes.append(UInt8(l & 127) | 128)
            case 4:
                bytes.append(UInt8(l >> 21)); bytes.append(UInt8((l >> 14) & 127) | 128)
                bytes.append(UInt8((l >> 7) & 127) | 128); bytes.append(UInt8(l & 127) | 128)
            default:
                bytes.append(UInt8(l >> 28)); bytes.append(UInt8((l >> 21) & 127) | 128)
                bytes.append(UInt8((l >> 14) & 127) | 128); bytes.append(UInt8((l >> 7) & 127) | 128)
                bytes.append(UInt8(l & 127) | 128)
            }
            count += 1
        }

        /// The finished blob: header filled in, terminator appended.
        public func finish() -> [UInt8] {
            var out = bytes
            out.append(0xFF)
            let total = UInt32(out.count)
            out[0] = UInt8(total & 0xFF); out[1] = UInt8((total >> 8) & 0xFF)
            out[2] = UInt8((total >> 16) & 0xFF); out[3] = UInt8(total >> 24)
            let c = count < 65535 ? UInt16(count) : 65535
            out[4] = UInt8(c & 0xFF); out[5] = UInt8(c >> 8)
            return out
        }

        /// Size the blob would have now (for Redis's per-node size limits).
        public var byteCount: Int { bytes.count + 1 }
    }
}

/// A packed blob whose internal structure is broken; the reader adds the file offset.
public struct PackedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
