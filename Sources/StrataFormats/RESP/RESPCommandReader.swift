/// An incremental reader of client commands in RESP (what a server reads from a socket and an
/// AOF holds): arrays of bulk strings `*N\r\n$len\r\n<bytes>\r\n...`, plus, when enabled, inline
/// commands (telnet-style lines) and AOF annotations (`#TS:1700000000\r\n` between commands).
///
/// Feed bytes as they arrive, in any split; `next()` returns each complete item once. Sizes are
/// checked before anything is allocated for them (a hostile `*2147483647` reserves nothing), and
/// errors carry Redis's protocol-error texts and the byte offset.
public struct RESPCommandReader {
    public enum Item: Equatable, Sendable {
        case command([[UInt8]])
        /// A `#...` line between commands (AOF timestamps), without the '#' and the CRLF.
        case annotation([UInt8])
    }

    public struct Limits: Sendable {
        /// `proto-max-bulk-len`.
        public var maxBulkLength = 512 * 1024 * 1024
        /// Redis refuses multibulk counts above 1024*1024 from unauthenticated clients and above
        /// INT_MAX from anyone.
        public var maxMultibulkCount = Int(Int32.max)
        /// Longest inline command line / count line (`PROTO_INLINE_MAX_SIZE`, 64 KB).
        public var maxInlineLength = 64 * 1024
        public var allowInline = true
        public var allowAnnotations = false
        public init() {}
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    private var pos = 0
    /// Bytes consumed before `buffer[0]` (for error offsets).
    private var base = 0
    // A multibulk in progress.
    private var expected = -1
    private var args: [[UInt8]] = []
    private var bulkLength = -1

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Absolute offset of the next unread byte.
    public var offset: Int { base + pos }
    /// Bytes fed but not yet returned as items (a partial command).
    public var pendingBytes: Int { buffer.count - pos }
    /// True when the reader stands between items (no half-read command).
    public var atBoundary: Bool { expected < 0 && pendingBytes == 0 }

    public mutating func feed(_ bytes: [UInt8]) {
        if pos > 0 && pos >= buffer.count / 2 {
            buffer.removeFirst(pos)
            base += pos
            pos = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) { feed([UInt8](bytes)) }

    /// Index of the CR of the next CRLF from `from`, or nil if not buffered yet.
    private func lineEnd(from: Int) -> Int? {
        var i = from
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    private func fail(_ message: String, at: Int? = nil) -> FormatError {
        FormatError(offset: base + (at ?? pos), "Protocol error: \(message)")
    }

    private func parseInt(_ from: Int, _ to: Int) -> Int? {
        guard to > from, to - from <= 20 else { return nil }
        var neg = false
        var i = from
        if buffer[i] == UInt8(ascii: "-") { neg = true; i += 1; if i == to { return nil } }
        var v = 0
        while i < to {
            let c = buffer[i]
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 48))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return neg ? -v : v
    }

    /// The next complete item, or nil when more bytes are needed.
    public mutating func next() throws -> Item? {
        while true {
            if expected < 0 {
                guard pos < buffer.count else { return nil }
                let c = buffer[pos]
                if c == UInt8(ascii: "*") {
                    guard let e = lineEnd(from: pos) else {
                        if buffer.count - pos > limits.maxInlineLength { throw fail("too big mbulk count string") }
                        return nil
                    }
                    guard let n = parseInt(pos + 1, e), n <= limits.maxMultibulkCount else { throw fail("invalid multibulk length") }
                    pos = e + 2
                    if n <= 0 { continue }   // "*0" and "*-1" are skipped, as Redis does
                    expected = n
                    args = []
                    args.reserveCapacity(min(n, 1024))
                    bulkLength = -1
                } else if c == UInt8(ascii: "#") && limits.allowAnnotations {
                    guard let e = lineEnd(from: pos) else { return nil }
                    let item = Item.annotation(Array(buffer[(pos + 1)..<e]))
                    pos = e + 2
                    return item
                } else if limits.allowInline {
                    return try nextInline()
                } else {
                    throw fail("expected '*', got '\(Character(UnicodeScalar(c)))'")
                }
            }
            // Bulk strings of the multibulk in progress.
            while args.count < expected {
                if bulkLength < 0 {
                    guard pos < buffer.count else { return nil }
                    guard buffer[pos] == UInt8(ascii: "$") else {
                        throw fail("expected '$', got '\(Character(UnicodeScalar(buffer[pos])))'")
                    }
                    guard let e = lineEnd(from: pos) else {
                        if buffer.count - pos > limits.maxInlineLength { throw fail("too big bulk count string") }
                        return nil
                    }
                    guard let n = parseInt(pos + 1, e), n >= 0, n <= limits.maxBulkLength else { throw fail("invalid bulk length") }
                    pos = e + 2
                    bulkLength = n
                }
                guard buffer.count - pos >= bulkLength + 2 else { return nil }
                guard buffer[pos + bulkLength] == 13 && buffer[pos + bulkLength + 1] == 10 else {
                    throw fail("bulk string of \(bulkLength) bytes is not followed by CRLF", at: pos + bulkLength)
                }
                args.append(Array(buffer[pos..<(pos + bulkLength)]))
                pos += bulkLength + 2
                bulkLength = -1
            }
            expected = -1
            let done = args
            args = []
            return .command(done)
        }
    }

    /// An inline command: a line split on spaces, with Redis's quoting rules (`sdssplitargs`).
    private mutating func nextInline() throws -> Item? {
        guard let nl = buffer[pos...].firstIndex(of: 10) else {
            if buffer.count - pos > limits.maxInlineLength { throw fail("too big inline request") }
            return nil
        }
        var end = nl
        if end > pos && buffer[end - 1] == 13 { end -= 1 }
        let line = Array(buffer[pos..<end])
        pos = nl + 1
        guard let words = RESPCommandReader.splitArgs(line) else { throw fail("unbalanced quotes in request") }
        if words.isEmpty { return try next() }
        return .command(words)
    }

    /// `sdssplitargs`: spaces separate words; "double quotes" take \n \r \t \b \a \\ \" and
    /// \xHH escapes; 'single quotes' take \'; a closing quote must be followed by a space.
    public static func splitArgs(_ line: [UInt8]) -> [[UInt8]]? {
        var out = [[UInt8]]()
        var i = 0
        let n = line.count
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 }
        func hex(_ c: UInt8) -> Int? {
            switch c {
            case 48...57: return Int(c - 48)
            case 97...102: return Int(c - 87)
            case 65...70: return Int(c - 55)
            default: return nil
            }
        }
        while true {
            while i < n && isSpace(line[i]) { i += 1 }
            if i >= n { return out }
            var cur = [UInt8]()
            var inDouble = false, inSingle = false
            var done = false
            while !done {
                if inDouble {
                    guard i < n else { return nil }
                    let c = line[i]
                    if c == UInt8(ascii: "\\") && i + 3 < n && line[i + 1] == UInt8(ascii: "x"), let h = hex(line[i + 2]), let l = hex(line[i + 3]) {
                        cur.append(UInt8(h * 16 + l)); i += 3
                    } else if c == UInt8(ascii: "\\") && i + 1 < n {
                        i += 1
                        switch line[i] {
                        case UInt8(ascii: "n"): cur.append(10)
                        case UInt8(ascii: "r"): cur.append(13)
                        case UInt8(ascii: "t"): cur.append(9)
                        case UInt8(ascii: "b"): cur.append(8)
                        case UInt8(ascii: "a"): cur.append(7)
                        default: cur.append(line[i])
                        }
                    } else if c == UInt8(ascii: "\"") {
                        if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else if inSingle {
                    guard i < n else { return nil }
                    let c = line[i]
                    if c == UInt8(ascii: "\\") && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                        cur.append(UInt8(ascii: "'")); i += 1
                    } else if c == UInt8(ascii: "'") {
                        if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else {
                    if i >= n { done = true; break }
                    let c = line[i]
                    switch c {
                    case 32, 10, 13, 9, 0: done = true
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    default: cur.append(c)
                    }
                }
                if i < n { i += 1 }
            }
            out.append(cur)
        }
    }
}
