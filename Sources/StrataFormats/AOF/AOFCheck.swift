#if canImport(Glibc)
import Glibc
#endif

/// What `strata aof check` finds in an append-only file or a Redis 7 `appendonlydir`: per file,
/// the valid prefix (as redis-check-aof 7.0 computes it), why it ends there, and what kind of
/// damage follows (a crash mid-write, zero-filled blocks after a power loss, or garbage, with
/// or without readable commands after it).
public struct AOFCheck {
    public enum Layout: String, Sendable { case multiPart = "multi-part", legacy }

    public enum Damage: String, Sendable {
        /// The file ends inside a command: a crash while writing.
        case truncated
        /// The file ends inside a MULTI block without its EXEC.
        case unclosedMulti = "unclosed-multi"
        /// The file ends in zero bytes where commands should be: blocks the filesystem allocated
        /// but never wrote (a power loss).
        case zeroFilled = "zero-filled"
        /// Garbage or a damaged command with nothing readable after it.
        case corruptTail = "corrupt-tail"
        /// Damage followed by well-formed commands: cutting there loses data that is still there.
        case corruptMiddle = "corrupt-middle"
        /// The RDB preamble or RDB base is damaged (never cut).
        case rdb
    }

    public struct File: Sendable {
        public var name: String
        public var path: String
        public var isBase: Bool
        public var size: Int
        /// "rdb" (an RDB base or preamble followed by nothing), "rdb+resp", or "resp".
        public var format: String
        /// Where the command part starts (after an RDB preamble).
        public var commandsStart: Int
        /// The RDB part's `ctime` aux field (the fork time of the rewrite), if any.
        public var rdbCtime: Int64?
        public var rdbKeys: Int = 0
        public var okUpTo: Int
        /// redis-check-aof's cumulative `ok_up_to_line`.
        public var okUpToLine: Int
        public var damage: Damage?
        public var message: String?
        public var errorOffset: Int?
        public var commands: Int
        /// Complete commands a cut at `okUpTo` would drop (an unclosed MULTI's, or readable
        /// commands after the damage).
        public var commandsAfterDamage: Int
        /// First offset of readable commands after the damage (corrupt-middle).
        public var resumesAt: Int?
        public var firstTimestamp: Int64?
        public var lastTimestamp: Int64?
        public var timestampCut: Int?
        public var timestampCutValue: Int64?
        public var mtime: Int64
        public var valid: Bool { damage == nil }
        public var bytesAfterValidPrefix: Int { size - okUpTo }
    }

    public var layout: Layout
    /// The directory of a multi-part AOF and its manifest's path.
    public var directory: String?
    public var manifestPath: String?
    public var manifest: AOFManifest?
    public var files: [File] = []
    public var warnings: [String] = []

    public var firstDamaged: Int? { files.firstIndex { !$0.valid } }
    public var valid: Bool { firstDamaged == nil }
    public var incrFiles: [File] { files.filter { !$0.isBase } }

    /// Resolves PATH as redis-check-aof does (a manifest, or a single file), and also accepts
    /// an `appendonlydir` or a data directory holding one.
    public static func resolve(_ path: String) throws -> (layout: Layout, directory: String?, manifestPath: String?) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SystemError("cannot open \(path)") }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            let names = try listDirectory(path)
            let manifests = names.filter { $0.hasSuffix(".manifest") && !$0.hasPrefix("temp-") }
            if manifests.count == 1 { return (.multiPart, path, path + "/" + manifests[0]) }
            if manifests.count > 1 {
                throw SystemError(message: "\(path): several manifests (\(manifests.sorted().joined(separator: ", ")))")
            }
            if names.contains("appendonlydir") { return try resolve(path + "/appendonlydir") }
            throw SystemError(message: "\(path): no AOF manifest in this directory (Redis 7.0 would start with an empty dataset and overwrite the base; this is not a valid empty AOF)")
        }
        if path.hasSuffix(".manifest") || (try? looksLikeManifest(path)) == true {
            return (.multiPart, AtomicFile.directory(of: path), path)
        }
        return (.legacy, nil, nil)
    }

    static func looksLikeManifest(_ path: String) throws -> Bool {
        let (fd, _) = try FileIO.openForReading(path)
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        guard n > 0 else { return false }
        // Redis 7.2.5+: the first line that is not a comment starts with "file".
        for line in buf[0..<n].split(separator: 10) where line.first != UInt8(ascii: "#") {
            return line.starts(with: Array("file".utf8))
        }
        return false
    }

    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw SystemError("cannot read directory \(path)") }
        defer { closedir(dir) }
        var out = [String]()
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// Checks every file. `truncateTo`: also find the first `#TS:` later than it.
    public static func run(path: String, truncateTo: Int64? = nil) throws -> AOFCheck {
        let (layout, dir, mpath) = try resolve(path)
        let reader = try AOFReader(path: path)
        var check = AOFCheck(layout: layout, directory: dir, manifestPath: mpath)
        check.manifest = reader.manifest
        var line = 1
        var cutFound = false
        for p in reader.parts {
            let f = try checkFile(name: p.name, path: p.path, isBase: p.isBase, line: line,
                                  truncateTo: cutFound ? nil : truncateTo)
            line = f.okUpToLine
            if f.timestampCut != nil { cutFound = true }
            check.files.append(f)
        }
        check.addWarnings()
        return check
    }

    mutating func addWarnings() {
        guard layout == .multiPart else { return }
        let incrs = files.filter { !$0.isBase }
        if incrs.count >= 3 {
            warnings.append("\(incrs.count) incr files: Redis 7.0 keeps one per rewrite attempt and postpones automatic rewrites once 3 pile up, so rewrites seem to be failing (see the server log and INFO persistence aof_last_bgrewrite_status)")
        }
        if let base = files.first(where: { $0.isBase }), let newest = incrs.last {
            let baseTime = base.rdbCtime ?? base.firstTimestamp ?? base.mtime
            let newestTime = newest.lastTimestamp ?? newest.mtime
            let incrBytes = incrs.reduce(0) { $0 + $1.size }
            if newestTime - baseTime > 7 * 86_400 && incrBytes > max(base.size, 64 << 20) {
                warnings.append("the base is \((newestTime - baseTime) / 86_400) days older than the newest incr file and the incr files (\(incrBytes) bytes) outgrew it: an automatic rewrite (auto-aof-rewrite-percentage) should have happened")
            }
        }
    }

    static func checkFile(name: String, path: String, isBase: Bool, line: Int, truncateTo: Int64?) throws -> File {
        let (fd, sizeOpt) = try FileIO.openForReading(path)
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = sizeOpt ?? Int(st.st_size)
        var f = File(name: name, path: path, isBase: isBase, size: size, format: "resp", commandsStart: 0, okUpTo: 0,
                     okUpToLine: line, commands: 0, commandsAfterDamage: 0, mtime: Int64(st.st_mtim.tv_sec))
        if size == 0 { return f }
        // An RDB part: REDIS (as redis-check-aof tests, files of 8 bytes or more) or Valkey's VALKEY.
        var magic = [UInt8](repeating: 0, count: 6)
        let got = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 6, 0) }
        let isRDB = (size >= 8 && got >= 5 && Array(magic.prefix(5)) == Array("REDIS".utf8)) || (got == 6 && magic == Array("VALKEY".utf8))
        if isRDB {
            let src = ByteSource(fileDescriptor: fd, knownSize: size)
            var options = RDBReader.Options(materialize: false, deepValidation: true, verifyChecksum: true)
            options.stopAfterChecksum = true
            options.keepKeys = false
            let reader = RDBReader(source: src, options: options)
            do {
                loop: while let ev = try reader.next() {
                    switch ev {
                    case .aux(let k, let v):
                        if k == Array("ctime".utf8) { f.rdbCtime = Int64(String(decoding: v, as: UTF8.self)) }
                    case .entry: f.rdbKeys += 1
                    case .end: break loop
                    default: break
                    }
                }
            } catch let e as FormatError {
                f.damage = .rdb
                f.message = "RDB part: \(e.message)"
                f.errorOffset = e.offset
                f.okUpTo = 0
                return f
            }
            f.commandsStart = src.offset
            f.format = f.commandsStart == size ? "rdb" : "rdb+resp"
        }
        var scanner = AOFScanner(startOffset: f.commandsStart, line: line)
        scanner.stopAfterTimestamp = truncateTo
        try scan(fd, from: f.commandsStart, &scanner)
        let whole = scanner.finish()
        f.okUpTo = scanner.okUpTo
        f.okUpToLine = scanner.line
        f.commands = scanner.commands
        f.firstTimestamp = scanner.firstTimestamp
        f.lastTimestamp = scanner.lastTimestamp
        if let cut = scanner.timestampCut { f.timestampCut = cut.offset; f.timestampCutValue = cut.timestamp }
        if whole || scanner.timestampCut != nil { return f }
        f.message = scanner.message
        f.errorOffset = scanner.errorOffset
        switch scanner.failure! {
        case .unclosedMulti:
            f.damage = .unclosedMulti
            f.commandsAfterDamage = scanner.commandsPending
        case .truncated, .corrupt:
            f.commandsAfterDamage = scanner.commandsPending
            let zeroFrom = try zeroTailStart(fd, size: size, from: f.okUpTo)
            if let z = zeroFrom, z <= (scanner.badByteOffset ?? scanner.errorOffset ?? size) || scanner.failure == .truncated && z < size {
                f.damage = .zeroFilled
            } else if scanner.failure == .truncated {
                f.damage = .truncated
            } else {
                let bad = scanner.badByteOffset ?? f.okUpTo
                if let (at, n) = try resync(fd, size: size, after: bad) {
                    f.damage = .corruptMiddle
                    f.resumesAt = at
                    f.commandsAfterDamage += n
                } else {
                    f.damage = .corruptTail
                }
            }
        }
        return f
    }

    /// Feeds the file from `from` to its end (or to `upTo`) into the scanner, 4 MB at a time,
    /// showing each chunk to `observe` too (a checksum). Returns where reading stopped: short of
    /// `upTo` only when the file ended first, or the scanner finished.
    @discardableResult
    public static func scan(_ fd: Int32, from: Int, upTo: Int? = nil, _ scanner: inout AOFScanner,
                            observe: ((UnsafeRawBufferPointer) -> Void)? = nil) throws -> Int {
        let cap = 4 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
        defer { buf.deallocate() }
        var at = from
        while !scanner.finished && upTo.map({ at < $0 }) ?? true {
            let n = pread(fd, buf, min(cap, upTo.map { $0 - at } ?? cap), off_t(at))
            if n < 0 { if errno == EINTR { continue }; throw SystemError("read") }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(start: buf, count: n)
            observe?(chunk)
            scanner.feed(chunk)
            at += n
        }
        return at
    }

    /// The start of the run of zero bytes that ends the file, if it starts at or after `from`
    /// and is not empty.
    static func zeroTailStart(_ fd: Int32, size: Int, from: Int) throws -> Int? {
        guard size > from else { return nil }
        let cap = 1 << 20
        var buf = [UInt8](repeating: 0, count: cap)
        var end = size
        while end > from {
            let start = max(from, end - cap)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, end - start, off_t(start)) }
            guard n == end - start else { throw SystemError("read") }
            if let nz = buf[0..<n].lastIndex(where: { $0 != 0 }) {
                let z = start + nz + 1
                return z < size ? z : nil
            }
            end = start
        }
        return from
    }

    /// After damage at `after`: the first line start from which well-formed commands follow
    /// (at least one complete command before any error), and how many complete commands the
    /// rest of the file holds from there.
    static func resync(_ fd: Int32, size: Int, after: Int) throws -> (Int, Int)? {
        let window = 1 << 20
        var buf = [UInt8](repeating: 0, count: window)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min(window, size - (after + 1)), off_t(after + 1)) }
        guard n > 0 else { return nil }
        var tries = 0
        var i = 0
        while i < n, tries < 256 {
            defer { i += 1 }
            guard buf[i] == UInt8(ascii: "*"), i + 1 < n, buf[i + 1] >= 49, buf[i + 1] <= 57 else { continue }
            tries += 1
            var s = AOFScanner(startOffset: after + 1 + i)
            buf[i..<n].withUnsafeBytes { s.feed($0) }
            if s.commands + s.commandsPending == 0 { continue }
            // Count what the whole rest holds from here.
            var full = AOFScanner(startOffset: after + 1 + i)
            try scan(fd, from: after + 1 + i, &full)
            full.finish()
            return (after + 1 + i, full.commands + full.commandsPending)
        }
        return nil
    }
}
