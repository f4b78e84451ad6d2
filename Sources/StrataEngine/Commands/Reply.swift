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

    /// RESP2 bytes.
    public func write(into out: inout [UInt8]) {
        func line(_ s: String) { out.append(contentsOf: s.utf8); out.append(13); out.append(10) }
        switch self {
        case .status(let s): line("+" + s)
        case .error(let s): line("-" + s)
        case .integer(let v): line(":\(v)")
        case .bulk(nil): line("$-1")
        case .bulk(let b?): line("$\(b.count)"); out.append(contentsOf: b); out.append(13); out.append(10)
        case .array(nil): line("*-1")
        case .array(let a?): line("*\(a.count)"); for r in a { r.write(into: &out) }
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
