#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// An RDB file opened for streaming.
final class OpenedRDB {
    let path: String
    let fd: Int32
    let size: Int?
    let source: ByteSource
    let reader: RDBReader
    private var progress: Progress?

    init(path: String, options: RDBReader.Options) throws {
        self.path = path
        if path == "-" {
            fd = 0; size = nil
        } else {
            do { (fd, size) = try FileIO.openForReading(path) } catch let e as SystemError {
                throw CommandFailure(message: e.description)
            }
        }
        source = ByteSource(fileDescriptor: fd, knownSize: size)
        reader = RDBReader(source: source, options: options)
        if let size, size > 64 << 20, Console.stderrIsTerminal { progress = Progress(total: size, label: path) }
    }

    deinit { if fd > 0 { close(fd) } }

    /// The next event; errors carry the file name.
    func next() throws -> RDBEvent? {
        progress?.update(source.offset)
        do {
            let e = try reader.next()
            if e == nil { progress?.done() }
            return e
        } catch let e as FormatError {
            progress?.done()
            throw RDBFileError(path: path, error: e)
        }
    }
}

struct RDBFileError: Error, CustomStringConvertible {
    let path: String
    let error: FormatError
    var description: String { "\(path): \(error.description)" }
}

/// "12% of dump.rdb" on stderr, only on a terminal.
final class Progress {
    let total: Int
    let label: String
    var lastPercent = -1

    init(total: Int, label: String) { self.total = total; self.label = label }

    func update(_ done: Int) {
        let p = total > 0 ? done * 100 / total : 100
        if p != lastPercent {
            lastPercent = p
            Console.errorNoNewline("\r\(label): \(p)%")
        }
    }

    func done() {
        if lastPercent >= 0 { Console.errorNoNewline("\r\u{1B}[K"); lastPercent = -1 }
    }
}

extension Console {
    static func errorNoNewline(_ s: String) {
        var bytes = Array(s.utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// `--db`, `--match`, `--type`: which keys a command acts on.
struct KeyFilter {
    var db: Int?
    var pattern: [UInt8]?
    var kinds: Set<RDBValueKind>?

    static let options: [OptionSpec] = [
        OptionSpec(names: ["--db"], valueName: "N", help: "Only keys of database N."),
        OptionSpec(names: ["--match"], valueName: "GLOB", help: "Only keys matching GLOB (Redis glob syntax)."),
        OptionSpec(names: ["--type"], valueName: "T", help: "Only keys of type T: string, list, set, zset, hash, stream, module (comma-separated)."),
    ]

    init(_ a: ParsedArguments, usage: String) throws {
        db = try a.int("--db", usage: usage, range: 0...Int(Int32.max))
        pattern = a.value("--match").map { Array($0.utf8) }
        if let t = a.value("--type") {
            var s = Set<RDBValueKind>()
            for part in t.split(separator: ",") {
                guard let k = RDBValueKind(rawValue: String(part)) else {
                    throw UsageError(message: "unknown type '\(part)' (string, list, set, zset, hash, stream, module)", usage: usage)
                }
                s.insert(k)
            }
            kinds = s
        }
    }

    var isEmpty: Bool { db == nil && pattern == nil && kinds == nil }

    /// Decided before the value is looked at where possible (db and key).
    func accepts(db d: Int, key: [UInt8]) -> Bool {
        if let db, db != d { return false }
        if let pattern, !Glob.matches(pattern, key) { return false }
        return true
    }

    func accepts(_ e: RDBEntry) -> Bool {
        if !accepts(db: e.db, key: e.key) { return false }
        if let kinds, !kinds.contains(e.value.kind) { return false }
        return true
    }
}

func versionDescription(_ v: RDBVersion) -> String {
    if v.family == .valkey { return "\(v) (Valkey 9.0-9.1)" }
    let who: String
    switch v.number {
    case 1: who = "Redis 2.0-2.2"
    case 2...5: who = "Redis 2.4-2.6"
    case 6: who = "Redis 2.6-3.0"
    case 7: who = "Redis 3.2"
    case 8: who = "Redis 4.0"
    case 9: who = "Redis 5.0-6.2"
    case 10: who = "Redis 7.0"
    case 11: who = "Redis 7.2, Valkey 7.2-8.1"
    case 12: who = "Redis 7.4-8.4"
    case 13: who = "Redis 8.6"
    default: who = "Redis 8.8"
    }
    return "\(v) (\(who))"
}

func checksumDescription(_ c: ChecksumVerdict) -> String {
    switch c {
    case .verified(let v): return "verified (0x\(String(v, radix: 16)))"
    case .disabled: return "not stored (written with rdbchecksum no)"
    case .absent: return "none (RDB versions before 5 carry no checksum)"
    case .mismatch(let s, let c): return "MISMATCH (stored 0x\(String(s, radix: 16)), contents give 0x\(String(c, radix: 16)))"
    }
}

/// Time now in Unix milliseconds.
func nowMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
