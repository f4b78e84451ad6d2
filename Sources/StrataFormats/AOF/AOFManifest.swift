/// The Redis 7 multi-part AOF manifest (`appendonlydir/appendonly.aof.manifest`), read and
/// written with Redis 7.0's grammar (`aofLoadManifestFromFile`, `getAofManifestAsString`):
///
/// ```
/// file appendonly.aof.1.base.rdb seq 1 type b
/// file appendonly.aof.1.incr.aof seq 1 type i
/// ```
/// One record a line: key/value pairs (file, seq, type; unknown keys ignored) split with
/// `sdssplitargs` quoting; `#` lines are comments; lines end in '\n' and hold at most 1023 bytes.
///
/// Stricter than Redis where Redis is unsafe: a file name that could leave the directory ("..",
/// ".", a slash or backslash, a NUL, empty) is refused, so nothing outside the directory is
/// ever read or written.
public struct AOFManifest: Equatable, Sendable {
    public enum FileType: UInt8, Sendable { case base = 98, history = 104, incr = 105 }   // 'b' 'h' 'i'

    public struct Entry: Equatable, Sendable {
        public var file: [UInt8]
        public var seq: Int64
        public var type: FileType
        public init(file: [UInt8], seq: Int64, type: FileType) { self.file = file; self.seq = seq; self.type = type }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public var base: Entry? { entries.first { $0.type == .base } }
    public var incrs: [Entry] { entries.filter { $0.type == .incr } }
    public var history: [Entry] { entries.filter { $0.type == .history } }

    /// An error in a manifest: Redis's message, the 1-based line and the line's text.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let message: String
        public let line: Int
        public let text: String
        public var description: String { line > 0 ? "\(message) (manifest line \(line): '\(text)')" : message }
    }

    /// Parses manifest bytes.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> AOFManifest {
        if bytes.isEmpty { throw ParseError(message: "Found an empty AOF manifest", line: 0, text: "") }
        var entries = [Entry]()
        var maxIncrSeq = Int64.min
        var lineNo = 0
        var start = 0
        while start < bytes.count {
            lineNo += 1
            guard let nl = bytes[start...].firstIndex(of: 10) else {
                throw ParseError(message: "The AOF manifest file contains too long line (or the last line has no newline)",
                                 line: lineNo, text: String(decoding: bytes[start...].prefix(80), as: UTF8.self))
            }
            let raw = Array(bytes[start..<nl])
            start = nl + 1
            let text = String(decoding: raw.prefix(200), as: UTF8.self)
            if raw.count > 1023 { throw ParseError(message: "The AOF manifest file contains too long line", line: lineNo, text: text) }
            if raw.first == UInt8(ascii: "#") { continue }
            // Trim " \t\r\n" as sdstrim does.
            var lo = 0, hi = raw.count
            func trim(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }
            while lo < hi && trim(raw[lo]) { lo += 1 }
            while hi > lo && trim(raw[hi - 1]) { hi -= 1 }
            if lo == hi { throw ParseError(message: "Invalid AOF manifest file format", line: lineNo, text: text) }
            guard let argv = RESPCommandReader.splitArgs(Array(raw[lo..<hi])) else {
                throw ParseError(message: "Invalid AOF manifest file format", line: lineNo, text: text)
            }
            if argv.count < 6 || argv.count % 2 != 0 { throw ParseError(message: "Invalid AOF manifest file format", line: lineNo, text: text) }
            var file: [UInt8]?, seq: Int64 = 0, type: FileType?
            for i in stride(from: 0, to: argv.count, by: 2) {
                switch String(decoding: argv[i], as: UTF8.self).lowercased() {
                case "file":
                    let name = argv[i + 1]
                    if name.contains(UInt8(ascii: "/")) || name.contains(UInt8(ascii: "\\")) {
                        throw ParseError(message: "File can't be a path, just a filename", line: lineNo, text: text)
                    }
                    if name.isEmpty || name.contains(0) || name == Array("..".utf8) || name == Array(".".utf8) {
                        throw ParseError(message: "File name \(RDBReaderPrintable.show(name)) would leave the AOF directory", line: lineNo, text: text)
                    }
                    file = name
                case "seq":
                    seq = atoll(argv[i + 1])
                case "type":
                    guard let c = argv[i + 1].first, let t = FileType(rawValue: c) else {
                        throw ParseError(message: "Unknown AOF file type", line: lineNo, text: text)
                    }
                    type = t
                default:
                    break   // forward compatibility: unknown keys are ignored, as Redis does
                }
            }
            guard let file, seq != 0, let type else { throw ParseError(message: "Invalid AOF manifest file format", line: lineNo, text: text) }
            if type == .base && entries.contains(where: { $0.type == .base }) {
                throw ParseError(message: "Found duplicate base file information", line: lineNo, text: text)
            }
            if type == .incr {
                if seq <= maxIncrSeq { throw ParseError(message: "Found a non-monotonic sequence number", line: lineNo, text: text) }
                maxIncrSeq = seq
            }
            entries.append(Entry(file: file, seq: seq, type: type))
        }
        if entries.isEmpty { throw ParseError(message: "Found an empty AOF manifest", line: 0, text: "") }
        return AOFManifest(entries: entries)
    }

    /// `atoll`: leading spaces, optional sign, digits; stops at the first other byte.
    static func atoll(_ b: [UInt8]) -> Int64 {
        var i = 0
        while i < b.count && (b[i] == 32 || (b[i] >= 9 && b[i] <= 13)) { i += 1 }
        var neg = false
        if i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) { neg = b[i] == UInt8(ascii: "-"); i += 1 }
        var v: Int64 = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            v = v &* 10 &+ Int64(b[i] - 48)
            i += 1
        }
        return neg ? -v : v
    }

    /// The manifest as Redis writes it: base, history, then incr entries, each
    /// `file <name> seq <n> type <c>\n`, names quoted like `sdscatrepr` when they need it.
    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        let ordered = entries.filter { $0.type == .base } + entries.filter { $0.type == .history } + entries.filter { $0.type == .incr }
        for e in ordered {
            out += Array("file ".utf8) + AOFManifest.repr(e.file)
            out += Array(" seq \(e.seq) type ".utf8) + [e.type.rawValue, 10]
        }
        return out
    }

    /// `sdscatrepr` when `sdsneedsrepr`, else the bytes as they are.
    static func repr(_ s: [UInt8]) -> [UInt8] {
        let needs = s.contains { c in c == UInt8(ascii: "\\") || c == UInt8(ascii: "\"") || c < 33 || c > 126 }
        if !needs { return s }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for c in s {
            switch c {
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case 10: out += Array("\\n".utf8)
            case 13: out += Array("\\r".utf8)
            case 9: out += Array("\\t".utf8)
            case 7: out += Array("\\a".utf8)
            case 8: out += Array("\\b".utf8)
            case 32...126: out.append(c)
            default:
                let h = Array("0123456789abcdef".utf8)
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), h[Int(c >> 4)], h[Int(c & 15)]]
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}

enum RDBReaderPrintable {
    static func show(_ b: [UInt8]) -> String { RDBReader.printable(b) }
}
