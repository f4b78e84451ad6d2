/// A command's reply, as Redis would send it (RESP2 shapes).
public indirect enum Reply: Equatable, CustomStringConvertible, Sendable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8]?)
    case array([Reply]?)

    public static let ok = Reply.status("OK")
    public static let null = Reply.bulk(nil)

    public static func bulk(_ s: String) -> Reply { .bulk(Array(s.utf8)) }

    /// RESP2 bytes (no String is built on the way: this is every reply a server sends).
    public func write(into out: inout [UInt8]) {
        @inline(__always) func crlf() { out.append(13); out.append(10) }
        switch self {
        case .status(let s): out.append(UInt8(ascii: "+")); out.append(contentsOf: s.utf8); crlf()
        case .error(let s): out.append(UInt8(ascii: "-")); out.append(contentsOf: s.utf8); crlf()
        case .integer(let v): out.append(UInt8(ascii: ":")); Reply.appendDecimal(v, &out); crlf()
        case .bulk(nil): out.append(contentsOf: [36, 45, 49, 13, 10])   // $-1
        case .bulk(let b?):
            out.append(UInt8(ascii: "$")); Reply.appendDecimal(Int64(b.count), &out); crlf()
            out.append(contentsOf: b); crlf()
        case .array(nil): out.append(contentsOf: [42, 45, 49, 13, 10])  // *-1
        case .array(let a?):
            out.append(UInt8(ascii: "*")); Reply.appendDecimal(Int64(a.count), &out); crlf()
            for r in a { r.write(into: &out) }
        }
    }

    @inline(__always)
    static func appendDecimal(_ v: Int64, _ out: inout [UInt8]) {
        if v >= 0 && v < 10 { out.append(UInt8(48 + v)); return }
        var m = v.magnitude
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { b in
            repeat { b[19 - n] = UInt8(48 + m % 10); m /= 10; n += 1 } while m > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[(20 - n)...]))
        }
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
