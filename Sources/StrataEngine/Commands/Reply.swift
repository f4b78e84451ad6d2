import StrataFormats

/// A command's reply in the shape Redis builds it: the RESP2 shapes, plus the RESP3 types Redis
/// 7.0 chooses per client (`addReplyMapLen`, `addReplySetLen`, `addReplyDouble`, ...). Each is
/// written as Redis writes it for a RESP2 client and for a RESP3 one (`HELLO 3`).
public enum Reply: Equatable, CustomStringConvertible, Sendable {
    case status(String)
    case error(String)
    case integer(Int64)
    /// Nil: RESP2 `$-1`, RESP3 `_`.
    case bulk([UInt8]?)
    /// Nil: RESP2 `*-1`, RESP3 `_`.
    case array([Reply]?)
    /// Keys and values alternating: RESP2 a flat array, RESP3 `%`.
    case map([Reply])
    /// RESP2 an array, RESP3 `~`.
    case set([Reply])
    /// The number as Redis formats it (`%.17g`, `inf`, or the human form of geo coordinates):
    /// RESP2 a bulk string, RESP3 `,`.
    case double([UInt8])
    /// RESP2 `:1`/`:0`, RESP3 `#t`/`#f`.
    case bool(Bool)
    /// Text (INFO, CLIENT LIST): RESP2 a bulk string, RESP3 `=` with the `txt:` prefix.
    case verbatim([UInt8])
    /// An out-of-band message (pub/sub): RESP2 an array, RESP3 `>`.
    case push([Reply])
    /// Member/score (or field/value) pairs alternating: RESP2 flat, RESP3 an array of
    /// two-element arrays (ZRANGE WITHSCORES, HRANDFIELD WITHVALUES, ...).
    case pairs([Reply])
    /// Keys and values alternating: RESP2 an array of [key, value] arrays, RESP3 `%`
    /// (XREAD's streams).
    case keyedPairs([Reply])
    /// A big number's digits: RESP2 a bulk string, RESP3 `(`.
    case bigNumber([UInt8])

    public static let ok = Reply.status("OK")
    static let okBytes: [UInt8] = Array("+OK\r\n".utf8)
    public static let null = Reply.bulk(nil)

    public static func bulk(_ s: String) -> Reply { .bulk(Array(s.utf8)) }

    /// RESP2 bytes (no String is built on the way: this is every reply a server sends).
    public func write(into out: inout [UInt8]) { write(into: &out, resp: 2) }

    /// The bytes for a client speaking protocol `resp` (2 or 3).
    public func write(into out: inout [UInt8], resp: Int) { emit(into: &out, resp: resp) }

    /// The same, into a client's output buffer (the server's path).
    public func write(into out: OutputBuffer, resp: Int) {
        var sink = out
        emit(into: &sink, resp: resp)
    }

    /// One writer for every sink (specialised for each in this module).
    func emit<S: ReplySink>(into out: inout S, resp: Int) {
        @inline(__always) func crlf() { out.put(13); out.put(10) }
        @inline(__always) func header(_ prefix: UInt8, _ n: Int) { Reply.appendLine(prefix, Int64(n), &out) }
        @inline(__always) func resp3Null() { out.put([95, 13, 10]) }   // _
        switch self {
        case .status(let s):
            if s == "OK" { out.put(Reply.okBytes); return }
            out.put(UInt8(ascii: "+")); var t = s; t.withUTF8 { out.put(UnsafeRawBufferPointer($0)) }; crlf()
        case .error(let s):
            // A newline inside would break the protocol: Redis turns them into spaces.
            out.put(UInt8(ascii: "-"))
            for b in s.utf8 { out.put(b == 13 || b == 10 ? 32 : b) }
            crlf()
        case .integer(let v): Reply.appendLine(UInt8(ascii: ":"), v, &out)
        case .bulk(nil):
            if resp == 2 { out.put([36, 45, 49, 13, 10]) } else { resp3Null() }   // $-1
        case .bulk(let b?):
            header(UInt8(ascii: "$"), b.count)
            out.put(b); out.put(Reply.crlfBytes)
        case .array(nil):
            if resp == 2 { out.put([42, 45, 49, 13, 10]) } else { resp3Null() }  // *-1
        case .array(let a?):
            header(UInt8(ascii: "*"), a.count)
            for r in a { r.emit(into: &out, resp: resp) }
        case .map(let a):
            if resp == 2 { header(UInt8(ascii: "*"), a.count) } else { header(UInt8(ascii: "%"), a.count / 2) }
            for r in a { r.emit(into: &out, resp: resp) }
        case .set(let a):
            header(UInt8(ascii: resp == 2 ? "*" : "~"), a.count)
            for r in a { r.emit(into: &out, resp: resp) }
        case .push(let a):
            header(UInt8(ascii: resp == 2 ? "*" : ">"), a.count)
            for r in a { r.emit(into: &out, resp: resp) }
        case .double(let t):
            if resp == 2 { header(UInt8(ascii: "$"), t.count) } else { out.put(UInt8(ascii: ",")) }
            out.put(t); crlf()
        case .bigNumber(let t):
            if resp == 2 { header(UInt8(ascii: "$"), t.count) } else { out.put(UInt8(ascii: "(")) }
            out.put(t); crlf()
        case .bool(let b):
            if resp == 2 { out.put(b ? [58, 49, 13, 10] : [58, 48, 13, 10]) }
            else { out.put(b ? [35, 116, 13, 10] : [35, 102, 13, 10]) }
        case .verbatim(let t):
            if resp == 2 { header(UInt8(ascii: "$"), t.count) }
            else { header(UInt8(ascii: "="), t.count + 4); out.put([116, 120, 116, 58]) }  // txt:
            out.put(t); crlf()
        case .pairs(let a), .keyedPairs(let a):
            // Flat (RESP2 pairs, RESP3 map) or as two-element arrays (RESP3 pairs, RESP2 keyed).
            var nested = resp == 2
            if case .pairs = self { nested = resp != 2 }
            let flatPrefix: UInt8 = resp == 2 ? UInt8(ascii: "*") : UInt8(ascii: "%")
            if nested {
                header(UInt8(ascii: "*"), a.count / 2)
                var i = 0
                while i + 1 < a.count {
                    out.put([42, 50, 13, 10])   // *2
                    a[i].emit(into: &out, resp: resp); a[i + 1].emit(into: &out, resp: resp)
                    i += 2
                }
            } else {
                if case .pairs = self { header(UInt8(ascii: "*"), a.count) } else { header(flatPrefix, a.count / 2) }
                for r in a { r.emit(into: &out, resp: resp) }
            }
        }
    }

    /// The same reply in RESP2 shapes only (what a RESP2 client parses back).
    public var resp2: Reply {
        switch self {
        case .status, .error, .integer, .bulk: return self
        case .array(let a): return .array(a?.map(\.resp2))
        case .map(let a), .set(let a), .push(let a), .pairs(let a): return .array(a.map(\.resp2))
        case .double(let t), .verbatim(let t), .bigNumber(let t): return .bulk(t)
        case .bool(let b): return .integer(b ? 1 : 0)
        case .keyedPairs(let a):
            return .array(stride(from: 0, to: a.count - 1, by: 2).map { .array([a[$0].resp2, a[$0 + 1].resp2]) })
        }
    }

    static let crlfBytes: [UInt8] = [13, 10]

    /// `prefix`, the decimal `v` and CRLF in one put (a bulk or array header, an integer).
    @inline(__always)
    static func appendLine<S: ReplySink>(_ prefix: UInt8, _ v: Int64, _ out: inout S) {
        Decimal.withText(v, prefix: prefix, crlf: true) { out.put($0) }
    }

    public var description: String {
        switch self {
        case .status(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let v): return ":\(v)"
        case .bulk(nil): return "(nil)"
        case .bulk(let b?): return "\"" + String(decoding: b, as: UTF8.self) + "\""
        case .array(nil): return "*(nil)"
        case .array(let a?): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .map(let a): return "%[" + a.map(\.description).joined(separator: ", ") + "]"
        case .set(let a): return "~[" + a.map(\.description).joined(separator: ", ") + "]"
        case .push(let a): return ">[" + a.map(\.description).joined(separator: ", ") + "]"
        case .pairs(let a): return "pairs[" + a.map(\.description).joined(separator: ", ") + "]"
        case .keyedPairs(let a): return "keyed[" + a.map(\.description).joined(separator: ", ") + "]"
        case .double(let t): return "," + String(decoding: t, as: UTF8.self)
        case .verbatim(let t): return "=" + String(decoding: t, as: UTF8.self)
        case .bool(let b): return b ? "#t" : "#f"
        case .bigNumber(let t): return "(" + String(decoding: t, as: UTF8.self)
        }
    }
}

/// A command failed with this Redis error text (e.g. "ERR syntax error").
public struct CommandError: Error, Equatable {
    public let message: String
    public init(_ m: String) { message = m }

    public static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    public static let syntax = CommandError("ERR syntax error")
    public static let notInteger = CommandError("ERR value is not an integer or out of range")
    public static let notFloat = CommandError("ERR value is not a valid float")
    public static let overflow = CommandError("ERR increment or decrement would overflow")
    public static let noSuchKey = CommandError("ERR no such key")
    public static let outOfRange = CommandError("ERR index out of range")
    public static let dbOutOfRange = CommandError("ERR DB index is out of range")
    public static let tooBig = CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}
