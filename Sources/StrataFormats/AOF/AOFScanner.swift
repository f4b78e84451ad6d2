/// Checks the command part of an append-only file with exactly the grammar `redis-check-aof`
/// 7.0 applies (`checkSingleAof`): at a command boundary `#` starts an annotation line (at most
/// 1023 bytes, `#TS:<unix seconds>` sets the time), `*` a command, anything else is a format
/// error; `*N` and `$N` are `strtol` numbers that must be followed by CRLF, every payload by
/// CRLF; `MULTI`/`EXEC` must nest. The valid prefix ends before the first bad item, or before
/// an open `MULTI`, as Redis computes `ok_up_to`.
///
/// Fed in chunks of any size; memory stays constant (payloads are skipped, never buffered).
public struct AOFScanner {
    /// Why the valid prefix ends before the end of the file.
    public enum Failure: String, Sendable {
        /// The file ends inside a command (a crash mid-write).
        case truncated
        /// The file ends inside a MULTI block whose EXEC was never written.
        case unclosedMulti = "unclosed-multi"
        /// A byte breaks the grammar (garbage, a damaged length, nested MULTI, stray EXEC).
        case corrupt
    }

    // Results.
    /// Offset (in the whole file) of the end of the valid prefix: `ok_up_to`.
    public private(set) var okUpTo: Int
    /// redis-check-aof's `line` counter (CRLFs consumed; annotations not counted).
    public private(set) var line: Int
    /// redis-check-aof's message for the first error, without the `0x...:` position prefix.
    public private(set) var message: String?
    /// redis-check-aof's `epos`: where the failing read started.
    public private(set) var errorOffset: Int?
    /// The offset of the first byte that breaks the grammar (corrupt only).
    public private(set) var badByteOffset: Int?
    public private(set) var failure: Failure?
    /// Complete commands in the valid prefix (inside a closed MULTI they count too).
    public private(set) var commands = 0
    /// Complete commands after the valid prefix (queued in an unclosed MULTI).
    public private(set) var commandsPending = 0
    public private(set) var firstTimestamp: Int64?
    public private(set) var lastTimestamp: Int64?
    /// A `#TS:` annotation that could not be read (redis-check-aof: "Invalid timestamp annotation").
    public private(set) var invalidTimestampAt: Int?
    /// With `stopAfterTimestamp`: the offset of the first `#TS:` line later than it.
    public private(set) var timestampCut: (offset: Int, timestamp: Int64)?
    public var stopAfterTimestamp: Int64?

    public var finished: Bool { failure != nil || timestampCut != nil }

    private enum State {
        case boundary
        case annotation
        case header(prefix: UInt8)        // reading a `*N` or `$N` line
        case payload                       // skipping a bulk's bytes and its CRLF
    }
    private var state = State.boundary
    private var offset: Int
    private var multi = 0
    // The line being read (at most 127 bytes, as fgets(buf,128) reads).
    private var lineBuf = [UInt8]()
    private var lineStart = 0
    private var annotationLength = 0
    // The command being read.
    private var argsLeft = 0
    private var argIndex = 0
    private var payloadLeft = 0        // bytes of payload + CRLF still to read
    private var payloadLength = 0
    private var payloadStart = 0
    private var firstArg = [UInt8]()   // up to 5 lowercase bytes, for MULTI/EXEC
    private var tail: (UInt8, UInt8) = (0, 0)
    private var commandStart = 0

    /// `startOffset`: where the command part begins in the file (after an RDB preamble).
    /// `line`: redis-check-aof's counter carried from the previous file of a manifest.
    public init(startOffset: Int = 0, line: Int = 1) {
        offset = startOffset
        okUpTo = startOffset
        self.line = line
        lineBuf.reserveCapacity(128)
    }

    private mutating func fail(_ f: Failure, _ message: String?, at epos: Int, bad: Int? = nil) {
        failure = f
        self.message = message
        errorOffset = epos
        badByteOffset = bad
    }

    private static func hex(_ b: UInt8) -> String {
        let d = Array("0123456789abcdef".utf8)
        return String(decoding: [d[Int(b >> 4)], d[Int(b & 15)]], as: UTF8.self)
    }

    /// `strtol(buf+1)` then "\r\n" must follow; returns the value or nil with the message set.
    private mutating func parseHeader(_ prefix: UInt8) -> Int? {
        // lineBuf holds the line including its '\n' (if one was found within 127 bytes).
        let b = lineBuf
        guard b.first == prefix else {
            let got = b.first ?? 0
            fail(.corrupt, "Expected prefix '\(Character(UnicodeScalar(prefix)))', got: '\(Character(UnicodeScalar(got)))'", at: lineStart, bad: lineStart)
            return nil
        }
        var i = 1
        while i < b.count, b[i] == 32 || (b[i] >= 9 && b[i] <= 13) { i += 1 }
        var neg = false
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { neg = b[i] == UInt8(ascii: "-"); i += 1 }
        let digitsStart = i
        var v = 0
        var overflow = false
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b[i] - 48))
            if o1 || o2 { overflow = true } else { v = a }
            i += 1
        }
        var end = i
        if i == digitsStart { end = 1; v = 0 }          // strtol: no digits, endptr = nptr
        if overflow { v = neg ? Int.min : Int.max } else if neg { v = -v }
        guard end + 1 < b.count, b[end] == 13, b[end + 1] == 10 else {
            let c0 = end < b.count ? b[end] : 0, c1 = end + 1 < b.count ? b[end + 1] : 0
            let bad = lineStart + (end < b.count && b[end] == 13 ? end + 1 : end)
            fail(.corrupt, "Expected \\r\\n, got: \(AOFScanner.hex(c0))\(AOFScanner.hex(c1))", at: lineStart, bad: bad)
            return nil
        }
        line += 1
        return v
    }

    private mutating func commandDone() {
        if multi > 0 { commandsPending += 1 } else {
            commands += 1 + commandsPending
            commandsPending = 0
        }
        state = .boundary
    }

    /// Scans `bytes`, the next bytes of the file. Stops consuming at the first failure or cut.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        let n = bytes.count
        while i < n && !finished {
            switch state {
            case .boundary:
                if multi == 0 { okUpTo = offset + i }
                let c = bytes[i]
                if c == UInt8(ascii: "#") {
                    state = .annotation
                    lineStart = offset + i
                    annotationLength = 0
                    lineBuf.removeAll(keepingCapacity: true)
                } else if c == UInt8(ascii: "*") {
                    commandStart = offset + i
                    state = .header(prefix: c)
                    lineStart = offset + i
                    lineBuf.removeAll(keepingCapacity: true)
                    argIndex = -1
                } else {
                    fail(.corrupt, nil, at: offset + i, bad: offset + i)
                    break
                }
                continue
            case .annotation:
                // fgets(buf, 1024): up to 1023 bytes or through the '\n'.
                let room = 1023 - annotationLength
                var j = i
                let limit = min(n, i + room)
                while j < limit && bytes[j] != 10 { j += 1 }
                let take = (j < limit ? j + 1 : j) - i
                if lineBuf.count < 32 { lineBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<min(i + take, i + 32 - lineBuf.count)])) }
                annotationLength += take
                i += take
                if (take > 0 && bytes[i - 1] == 10) || annotationLength >= 1023 {
                    annotationDone()
                    state = .boundary
                }
                continue
            case .header(let prefix):
                if lineBuf.isEmpty { lineStart = offset + i }
                var j = i
                let limit = min(n, i + (127 - lineBuf.count))
                while j < limit && bytes[j] != 10 { j += 1 }
                let end = j < limit ? j + 1 : j
                lineBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
                i = end
                guard lineBuf.last == 10 || lineBuf.count >= 127 else { continue }
                guard let v = parseHeader(prefix) else { break }
                if prefix == UInt8(ascii: "*") {
                    argsLeft = v
                    argIndex = 0
                    firstArg.removeAll(keepingCapacity: true)
                    if argsLeft <= 0 { commandDone() } else { startBulkHeader() }
                } else {
                    if v < 0 || v > Int.max - 2 {
                        fail(.corrupt, "Expected to read string of \(v) bytes, which is not in the suitable range", at: lineStart, bad: lineStart)
                        break
                    }
                    payloadLength = v
                    payloadLeft = v + 2
                    payloadStart = offset + i
                    state = .payload
                }
                continue
            case .payload:
                let take = min(payloadLeft, n - i)
                if argIndex == 0 {
                    // Keep the first argument's bytes (lowercased) while it could be MULTI/EXEC.
                    let already = payloadLength + 2 - payloadLeft
                    if payloadLength <= 5 {
                        for k in 0..<take where already + k < payloadLength {
                            var c = bytes[i + k]
                            if c >= 65 && c <= 90 { c += 32 }
                            firstArg.append(c)
                        }
                    }
                }
                // Track the last two bytes (the CRLF).
                if take >= 2 { tail = (bytes[i + take - 2], bytes[i + take - 1]) }
                else if take == 1 { tail = (tail.1, bytes[i]) }
                payloadLeft -= take
                i += take
                guard payloadLeft == 0 else { continue }
                guard tail == (13, 10) else {
                    let bad = tail.0 != 13 ? offset + i - 2 : offset + i - 1
                    fail(.corrupt, "Expected \\r\\n, got: \(AOFScanner.hex(tail.0))\(AOFScanner.hex(tail.1))", at: payloadStart, bad: bad)
                    break
                }
                line += 1
                if argIndex == 0 {
                    if firstArg == Array("multi".utf8) && payloadLength == 5 {
                        multi += 1
                        if multi > 1 { fail(.corrupt, "Unexpected MULTI in AOF", at: payloadStart, bad: commandStart); break }
                    } else if firstArg == Array("exec".utf8) && payloadLength == 4 {
                        multi -= 1
                        if multi != 0 { fail(.corrupt, "Unexpected EXEC in AOF", at: payloadStart, bad: commandStart); break }
                    }
                }
                argIndex += 1
                argsLeft -= 1
                if argsLeft == 0 { commandDone() } else { startBulkHeader() }
                continue
            }
        }
        offset += i
    }

    private mutating func startBulkHeader() {
        state = .header(prefix: UInt8(ascii: "$"))
        lineBuf.removeAll(keepingCapacity: true)
        lineStart = -1   // set when the first byte arrives
    }

    private mutating func annotationDone() {
        let b = lineBuf
        guard b.count >= 4, b[0] == UInt8(ascii: "#"), b[1] == UInt8(ascii: "T"), b[2] == UInt8(ascii: "S"), b[3] == UInt8(ascii: ":") else { return }
        var i = 4, v: Int64 = 0, neg = false
        if i < b.count, b[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        let ds = i
        while i < b.count, b[i] >= 48, b[i] <= 57, i - ds < 18 { v = v * 10 + Int64(b[i] - 48); i += 1 }
        guard i > ds, i < b.count, b[i] == 13 else { invalidTimestampAt = invalidTimestampAt ?? lineStart; return }
        if neg { v = -v }
        if firstTimestamp == nil { firstTimestamp = v }
        lastTimestamp = v
        if let t = stopAfterTimestamp, v > t { timestampCut = (lineStart, v) }
    }

    /// Call at the end of the file. Returns true when the whole file is valid.
    @discardableResult
    public mutating func finish() -> Bool {
        if finished { return failure == nil }
        switch state {
        case .boundary:
            if multi > 0 {
                fail(.unclosedMulti, "Reached EOF before reading EXEC for MULTI", at: offset)
                return false
            }
            okUpTo = offset
            commands += commandsPending
            commandsPending = 0
            return true
        case .annotation:
            // fgets returns the partial line and the loop then meets EOF: still valid.
            annotationDone()
            if multi > 0 { fail(.unclosedMulti, "Reached EOF before reading EXEC for MULTI", at: offset); return false }
            okUpTo = offset
            return true
        case .header:
            fail(.truncated, lineBuf.isEmpty ? nil : "Expected \\r\\n, got: 0000", at: lineStart < 0 ? offset : lineStart)
            return false
        case .payload:
            let got = payloadLength + 2 - payloadLeft
            fail(.truncated, "Expected to read \(payloadLength + 2) bytes, got \(got) bytes", at: payloadStart)
            return false
        }
    }

    /// The offset the scan has reached.
    public var position: Int { offset }
}
