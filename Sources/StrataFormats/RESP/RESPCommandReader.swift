#if canImport(Glibc)
import Glibc
#endif

/// An incremental reader of client commands in RESP (what a server reads from a socket and an
/// AOF holds): arrays of bulk strings `*N\r\n$len\r\n<bytes>\r\n...`, plus, when enabled, inline
/// commands (telnet-style lines) and AOF annotations (`#TS:1700000000\r\n` between commands).
///
/// Feed bytes as they arrive, in any split; `next()` returns each complete item once. Sizes are
/// checked before anything is allocated for them (a hostile `*2147483647` reserves nothing), and
/// errors carry Redis's protocol-error texts and the byte offset.
public final class RESPCommandReader {
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
    // The unread bytes live in buffer[pos..<count] (manually managed: this is the hot path of
    // AOF loading and of every client connection, so no bounds-checked array indexing).
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0
    private var pos = 0
    /// Bytes consumed before `buffer[0]` (for error offsets).
    private var base = 0
    // A multibulk in progress.
    private var expected = -1
    private var args: [[UInt8]] = []
    private var bulkLength = -1
    /// Arguments of the multibulk in progress read so far (slots past it hold the last
    /// command's arguments, refilled in place).
    private var filled = 0
    /// A returned argument vector given back by `recycle` (its storage is reused for the next
    /// command instead of a fresh allocation).
    private var spare: [[UInt8]] = []
    /// The last command name read: a pipeline repeats one command, so an equal name is handed
    /// out as this same array (no allocation, and consumers that compare it with their own
    /// copy find the same buffer).
    private var lastName: [UInt8] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
        capacity = 16 * 1024
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Absolute offset of the next unread byte.
    public var offset: Int { base + pos }
    /// Bytes fed but not yet returned as items (a partial command).
    public var pendingBytes: Int { count - pos }
    /// True when the reader stands between items (no half-read command).
    public var atBoundary: Bool { expected < 0 && pendingBytes == 0 }
    /// Bytes the reader holds (consumed ones are dropped at the next feed).
    public var bufferedBytes: Int { count }
    /// Room left in the buffer before it grows (CLIENT LIST qbuf-free).
    public var freeBytes: Int { capacity - count }

    public func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }

    public func feed(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if pos > 0 {
            // Drop what was consumed (a partial command moves to the front).
            let left = count - pos
            if left > 0 { memmove(buffer, buffer + pos, left) }
            base += pos
            count = left
            pos = 0
        }
        if count + bytes.count > capacity {
            var c = capacity
            while c < count + bytes.count { c *= 2 }
            let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            nb.update(from: buffer, count: count)
            buffer.deallocate()
            buffer = nb
            capacity = c
        }
        memcpy(buffer + count, bytes.baseAddress!, bytes.count)
        count += bytes.count
    }

    /// Index of the CR of the next CRLF from `from`, or nil if not buffered yet.
    @inline(__always)
    private func lineEnd(from: Int) -> Int? {
        // Header lines ("*3", "$5") are a few bytes: look at them directly before calling memchr.
        var j = from
        let short = min(count - 1, from + 24)
        while j < short {
            if buffer[j] == 13 {
                if buffer[j + 1] == 10 { return j }
                break
            }
            j += 1
        }
        if j >= count - 1 { return nil }
        var i = j
        while i + 1 < count {
            guard let p = memchr(buffer + i, 13, count - 1 - i) else { return nil }
            let at = buffer.distance(to: p.assumingMemoryBound(to: UInt8.self))
            if buffer[at + 1] == 10 { return at }
            i = at + 1
        }
        return nil
    }

    private func fail(_ message: String, at: Int? = nil) -> FormatError {
        FormatError(offset: base + (at ?? pos), "Protocol error: \(message)")
    }

    @inline(__always)
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

    /// Puts the `n` bytes at `pos` in argument slot `i`. A slot left from the last command
    /// whose array is of the size class a fresh one would be refills that array: no allocation
    /// when nothing kept it (the command's key, say), and one of the same size when something
    /// did (a stored value keeps its bytes; the slot gets new ones).
    @inline(__always)
    private func fill(_ i: Int, _ n: Int) {
        guard i < args.count else { args.append(bytes(pos, pos + n)); return }
        let cap = args[i].capacity
        if cap >= n && cap - n < 16 {
            args[i].removeAll(keepingCapacity: true)
            args[i].append(contentsOf: UnsafeBufferPointer(start: buffer + pos, count: n))
        } else {
            args[i] = bytes(pos, pos + n)
        }
    }

    private func bytes(_ from: Int, _ to: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: buffer + from, count: to - from))
    }

    /// The first argument (`n` bytes at `pos`): the same array as the last command's when the
    /// name repeats; names up to 64 bytes are remembered (a huge first argument is not kept).
    private func commandName(_ n: Int) -> [UInt8] {
        if n > 0 && n == lastName.count && lastName.withUnsafeBufferPointer({ memcmp($0.baseAddress!, buffer + pos, n) == 0 }) {
            return lastName
        }
        let name = bytes(pos, pos + n)
        if n <= 64 { lastName = name }
        return name
    }

    /// Gives back a command's argument vector once its consumer is done with it: the next
    /// command is read into the same storage when nothing else holds it.
    @inline(__always)
    public func recycle(_ argv: consuming [[UInt8]]) { spare = argv }

    /// The next complete item, or nil when more bytes are needed.
    public func next() throws -> Item? {
        while true {
            if expected < 0 {
                guard pos < count else { return nil }
                let c = buffer[pos]
                if c == UInt8(ascii: "*") {
                    guard let e = lineEnd(from: pos) else {
                        if count - pos > limits.maxInlineLength { throw fail("too big mbulk count string") }
                        return nil
                    }
                    guard let n = parseInt(pos + 1, e), n <= limits.maxMultibulkCount else { throw fail("invalid multibulk length") }
                    pos = e + 2
                    if n <= 0 { continue }   // "*0" and "*-1" are skipped, as Redis does
                    expected = n
                    swap(&args, &spare)
                    // The last vector's arguments stay as slots to refill (see `fill`).
                    if args.count > n { args.removeLast(args.count - n) }
                    args.reserveCapacity(min(n, 1024))
                    filled = 0
                    bulkLength = -1
                } else if c == UInt8(ascii: "#") && limits.allowAnnotations {
                    guard let e = lineEnd(from: pos) else { return nil }
                    let item = Item.annotation(bytes(pos + 1, e))
                    pos = e + 2
                    return item
                } else if limits.allowInline {
                    return try nextInline()
                } else {
                    throw fail("expected '*', got '\(Character(UnicodeScalar(c)))'")
                }
            }
            // Bulk strings of the multibulk in progress.
            while filled < expected {
                if bulkLength < 0 {
                    guard pos < count else { return nil }
                    guard buffer[pos] == UInt8(ascii: "$") else {
                        throw fail("expected '$', got '\(Character(UnicodeScalar(buffer[pos])))'")
                    }
                    guard let e = lineEnd(from: pos) else {
                        if count - pos > limits.maxInlineLength { throw fail("too big bulk count string") }
                        return nil
                    }
                    guard let n = parseInt(pos + 1, e), n >= 0, n <= limits.maxBulkLength else { throw fail("invalid bulk length") }
                    pos = e + 2
                    bulkLength = n
                }
                guard count - pos >= bulkLength + 2 else { return nil }
                guard buffer[pos + bulkLength] == 13 && buffer[pos + bulkLength + 1] == 10 else {
                    throw fail("bulk string of \(bulkLength) bytes is not followed by CRLF", at: pos + bulkLength)
                }
                if filled == 0 {
                    let name = commandName(bulkLength)
                    if args.isEmpty { args.append(name) } else { args[0] = name }
                } else {
                    fill(filled, bulkLength)
                }
                filled += 1
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
    private func nextInline() throws -> Item? {
        guard let p = memchr(buffer + pos, 10, count - pos) else {
            if count - pos > limits.maxInlineLength { throw fail("too big inline request") }
            return nil
        }
        let nl = buffer.distance(to: p.assumingMemoryBound(to: UInt8.self))
        var end = nl
        if end > pos && buffer[end - 1] == 13 { end -= 1 }
        let line = bytes(pos, end)
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
