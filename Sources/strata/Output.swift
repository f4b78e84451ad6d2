import StrataFormats

/// A growable byte buffer whose appends are a bounds check and a memcpy: output is built from
/// millions of small pieces, where Array's generic append costs more than the copy.
final class OutBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) private func reserve(_ extra: Int) {
        if count + extra <= capacity { return }
        var c = capacity * 2
        while c < count + extra { c *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        nb.update(from: base, count: count)
        base.deallocate()
        base = nb
        capacity = c
    }

    @inline(__always) func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always) func append(contentsOf p: UnsafeBufferPointer<UInt8>) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (base + count).update(from: src, count: p.count)
        count += p.count
    }

    @inline(__always) func append(contentsOf a: [UInt8]) {
        a.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    func append(contentsOf s: String.UTF8View) {
        var s = String(s)
        s.withUTF8 { append(contentsOf: $0) }
    }

    func truncate(to n: Int) { count = min(count, n) }

    func removeAll(keepingCapacity: Bool) { count = 0 }

    var isEmpty: Bool { count == 0 }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// A copy as an array (tests, small outputs).
    var array: [UInt8] { [UInt8](UnsafeBufferPointer(start: base, count: count)) }
}

/// Text output built as bytes (keys and values are bytes, never `String`).
struct Out: RESPCommandSink {
    let bytes: OutBuffer

    init(capacity: Int = 256) { bytes = OutBuffer(capacity: capacity) }

    @inline(__always) mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    /// A constant fragment: copied from the binary's literal, no String involved.
    @inline(__always) mutating func lit(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    @inline(__always) mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }
    /// Decimal digits of `v`, written straight into the buffer.
    mutating func int<T: BinaryInteger>(_ v: T) {
        if v < 0 { bytes.append(UInt8(ascii: "-")); digits(UInt64(v.magnitude)) } else { digits(UInt64(v)) }
    }

    @inline(__always) mutating func digits(_ m0: UInt64) {
        if m0 < 10 { bytes.append(UInt8(48 + m0)); return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var m = m0
            var i = 20
            while m > 0 { i -= 1; buf[i] = UInt8(48 + m % 10); m /= 10 }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<20]))
        }
    }

    // MARK: JSON

    /// A byte string as JSON: a JSON string when the bytes are valid UTF-8, otherwise
    /// `{"base64":"..."}`. Lossless either way.
    mutating func json(_ b: [UInt8]) {
        b.withUnsafeBufferPointer { json($0) }
    }

    mutating func json(_ b: UnsafeBufferPointer<UInt8>) {
        // One pass: copy runs of plain bytes, escape what JSON needs escaped, validate UTF-8
        // sequences as they come; on the first invalid one, undo and write base64 instead.
        let mark = bytes.count
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var i = 0
        let n = b.count
        let base = UnsafeRawPointer(b.baseAddress)
        while i < n {
            // Eight plain bytes at a time (no control byte, quote, backslash, DEL or non-ASCII):
            // the common case of keys and values, checked with word-wide bit tricks.
            if let base, i + 8 <= n, Out.isPlain8(base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
                continue
            }
            let c = b[i]
            if c >= 0x20 && c < 0x7F && c != 0x22 && c != 0x5C { i += 1; continue }
            if c >= 0x80 {
                guard let len = Out.utf8SequenceLength(b, at: i) else {
                    bytes.truncate(to: mark)
                    lit("{\"base64\":\""); Base64.encode(b, into: bytes); lit("\"}")
                    return
                }
                i += len
                continue
            }
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i])) }
            switch c {
            case UInt8(ascii: "\""): lit("\\\"")
            case UInt8(ascii: "\\"): lit("\\\\")
            case 0x0A: lit("\\n")
            case 0x0D: lit("\\r")
            case 0x09: lit("\\t")
            default:
                lit("\\u00"); bytes.append(Out.hexDigit(c >> 4)); bytes.append(Out.hexDigit(c & 15))
            }
            i += 1
            runStart = i
        }
        if n > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<n])) }
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func isPlain8(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZero(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let below20 = (x &- ones &* 0x20) & ~x & highs
        let bad = below20 | (x & highs) | hasZero(x ^ (ones &* 0x22)) | hasZero(x ^ (ones &* 0x5C)) | hasZero(x ^ (ones &* 0x7F))
        return bad == 0
    }

    /// Length of the well-formed UTF-8 sequence starting at `i` (a non-ASCII lead byte), or nil.
    @inline(__always)
    static func utf8SequenceLength(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        let c = b[i]
        let need: Int
        var cp: UInt32
        let minCP: UInt32
        if c & 0xE0 == 0xC0 { need = 1; cp = UInt32(c & 0x1F); minCP = 0x80 }
        else if c & 0xF0 == 0xE0 { need = 2; cp = UInt32(c & 0x0F); minCP = 0x800 }
        else if c & 0xF8 == 0xF0 { need = 3; cp = UInt32(c & 0x07); minCP = 0x10000 }
        else { return nil }
        guard i + need < b.count else { return nil }
        for k in 1...need {
            let d = b[i + k]
            if d & 0xC0 != 0x80 { return nil }
            cp = (cp << 6) | UInt32(d & 0x3F)
        }
        if cp < minCP || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) { return nil }
        return need + 1
    }

    mutating func jsonString(_ s: String) { json(Array(s.utf8)) }

    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }

    mutating func jsonDouble(_ d: Double) {
        if d.isFinite { raw(String(decoding: DoubleText.bytes(d), as: UTF8.self)) }
        else { raw(d > 0 ? "\"inf\"" : "\"-inf\"") }
    }

    // MARK: RESP (RESPCommandSink: `resp(_:)` writes one command)

    @inline(__always) mutating func respHeader(_ n: Int) {
        bytes.append(UInt8(ascii: "*")); digits(UInt64(n)); lit("\r\n")
    }

    @inline(__always) mutating func bulk(_ a: [UInt8]) {
        bytes.append(UInt8(ascii: "$")); digits(UInt64(a.count)); lit("\r\n")
        bytes.append(contentsOf: a); lit("\r\n")
    }

    @inline(__always) mutating func bulk(_ s: StaticString) {
        bytes.append(UInt8(ascii: "$")); digits(UInt64(s.utf8CodeUnitCount)); lit("\r\n")
        lit(s); lit("\r\n")
    }
}

enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ b: UnsafeBufferPointer<UInt8>, into out: OutBuffer) {
        var i = 0
        while i + 3 <= b.count {
            let v = (UInt32(b[i]) << 16) | (UInt32(b[i + 1]) << 8) | UInt32(b[i + 2])
            out.append(alphabet[Int(v >> 18)]); out.append(alphabet[Int((v >> 12) & 63)])
            out.append(alphabet[Int((v >> 6) & 63)]); out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = b.count - i
        if rest == 1 {
            let v = UInt32(b[i]) << 16
            out.append(alphabet[Int(v >> 18)]); out.append(alphabet[Int((v >> 12) & 63)])
            out.append(UInt8(ascii: "=")); out.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let v = (UInt32(b[i]) << 16) | (UInt32(b[i + 1]) << 8)
            out.append(alphabet[Int(v >> 18)]); out.append(alphabet[Int((v >> 12) & 63)])
            out.append(alphabet[Int((v >> 6) & 63)]); out.append(UInt8(ascii: "="))
        }
    }
}

/// Where a command's main output goes: stdout, or a file written atomically (`-o`).
final class OutputTarget {
    let sink: ByteSink
    private let atomic: AtomicFile?

    init(path: String?) throws {
        if let path, path != "-" {
            let f = try AtomicFile(path: path)
            atomic = f
            sink = ByteSink(fileDescriptor: f.fd)
        } else {
            atomic = nil
            sink = ByteSink(fileDescriptor: 1)
        }
        sink.checksumming = false
    }

    func write(_ o: inout Out) throws {
        try o.bytes.withUnsafeBytes { try sink.write($0) }
        o.bytes.removeAll(keepingCapacity: true)
    }

    /// Flushes; for a file, makes it durable and visible.
    func finish() throws {
        try sink.flush()
        try atomic?.commit()
    }

    /// For a file: nothing is left behind.
    func abandon() { atomic?.abandon() }
}
