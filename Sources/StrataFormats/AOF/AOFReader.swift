#if canImport(Glibc)
import Glibc
#endif

/// Reads an append-only file as Redis 7.0 loads it: a Redis 7 `appendonlydir` (its manifest's
/// base file, then its incr files in order) or a single legacy file. A file may start with an
/// RDB preamble (`REDIS` or Valkey's `VALKEY` magic), whose events are handed on as they are,
/// followed by commands. `#TS:<unix seconds>` annotations set the timestamp of the commands
/// after them. Every command carries its file and byte offset.
public final class AOFReader {
    public enum Item {
        /// An event of an RDB preamble or RDB base file.
        case rdb(RDBEvent, file: String)
        case command([[UInt8]], timestamp: Int64?, file: String, offset: Int)
    }

    public struct Part: Sendable, Equatable {
        public var name: String
        public var path: String
        public var isBase: Bool
    }

    /// The files in load order.
    public let parts: [Part]
    /// The manifest, for a directory.
    public let manifest: AOFManifest?

    private var partIndex = -1
    private var fd: Int32 = -1
    private var source: ByteSource?
    private var rdb: RDBReader?
    private var resp = RESPCommandReader()
    /// Passed to the RDB preamble's reader (`RDBReader.Options.checkPackedDuplicates`); set
    /// it, and `visitor`, before the first `next()`.
    public var checkPackedDuplicates = true
    /// Given to the RDB preamble's reader: its entries then carry summaries (see
    /// `RDBCollectionVisitor`).
    public var visitor: RDBCollectionVisitor?
    private var timestamp: Int64?
    private var sourceDone = false

    /// Opens `path`: an appendonlydir (or a data directory holding one), its manifest, or a
    /// single AOF file (see `AOFCheck.resolve`).
    public init(path: String) throws {
        let (layout, dir, mpath) = try AOFCheck.resolve(path)
        if layout == .multiPart, let dir, let mpath {
            let m: AOFManifest
            do { m = try AOFManifest.parse(try FileIO.readFile(mpath)) } catch let e as AOFManifest.ParseError {
                throw SystemError(message: "\(mpath): \(e.description)")
            }
            manifest = m
            var ps = [Part]()
            if let b = m.base { let n = String(decoding: b.file, as: UTF8.self); ps.append(Part(name: n, path: dir + "/" + n, isBase: true)) }
            for i in m.incrs { let n = String(decoding: i.file, as: UTF8.self); ps.append(Part(name: n, path: dir + "/" + n, isBase: false)) }
            if ps.isEmpty { throw SystemError(message: "\(mpath): the manifest lists no base and no incr file") }
            parts = ps
        } else {
            manifest = nil
            parts = [Part(name: path.split(separator: "/").last.map(String.init) ?? path, path: path, isBase: true)]
        }
        var limits = RESPCommandReader.Limits()
        limits.allowInline = false
        limits.allowAnnotations = true
        resp = RESPCommandReader(limits: limits)
    }

    deinit { if fd >= 0 { close(fd) } }

    private var current: Part { parts[partIndex] }

    private func openNext() throws -> Bool {
        if fd >= 0 { close(fd); fd = -1 }
        partIndex += 1
        guard partIndex < parts.count else { return false }
        let (f, size) = try FileIO.openForReading(current.path)
        fd = f
        // Only an RDB base is worth checksumming in parallel: an incr file is commands only.
        var first: UInt8 = 0
        let got = pread(f, &first, 1, 0)
        let src = ByteSource(fileDescriptor: f, knownSize: size, parallelChecksum: got == 1 && (first == UInt8(ascii: "R") || first == UInt8(ascii: "V")))
        source = src
        sourceDone = false
        var limits = RESPCommandReader.Limits()
        limits.allowInline = false
        limits.allowAnnotations = true
        resp = RESPCommandReader(limits: limits)
        // An RDB preamble starts with its magic; commands start with '*' or '#'.
        let magic = (try? src.peekByte()) ?? 0
        if magic == UInt8(ascii: "R") || magic == UInt8(ascii: "V") {
            var options = RDBReader.Options(materialize: true)
            options.stopAfterChecksum = true
            options.checkPackedDuplicates = checkPackedDuplicates
            let r = RDBReader(source: src, options: options)
            r.visitor = visitor
            rdb = r
        } else {
            rdb = nil
        }
        return true
    }

    /// The next item, nil after the last file. Errors name the file and the byte offset.
    public func next() throws -> Item? {
        while true {
            if partIndex < 0 || partIndex >= parts.count {
                if partIndex >= parts.count { return nil }
                guard try openNext() else { return nil }
            }
            if let r = rdb {
                do {
                    if let ev = try r.next() {
                        if case .end = ev { rdb = nil }
                        return .rdb(ev, file: current.name)
                    }
                    rdb = nil
                } catch let e as FormatError {
                    throw SystemError(message: "\(current.path): \(e.description)")
                }
                continue
            }
            do {
                let at = resp.offset
                if let item = try resp.next() {
                    switch item {
                    case .annotation(let a):
                        if a.starts(with: Array("TS:".utf8)), let t = Int64(String(decoding: a.dropFirst(3), as: UTF8.self)) { timestamp = t }
                    case .command(let args):
                        return .command(args, timestamp: timestamp, file: current.name, offset: at + preambleLength)
                    }
                    continue
                }
            } catch let e as FormatError {
                throw SystemError(message: "\(current.path): \(e.message) at byte offset \(e.offset + preambleLength)")
            }
            if !sourceDone, let src = source {
                let fresh = resp.offset == 0 && resp.pendingBytes == 0 && preambleLength == 0
                let n = try src.consumeChunk(max: 1 << 20) { resp.feed($0) }
                if n == 0 { sourceDone = true } else if fresh { preambleLength = src.offset - n }
                continue
            }
            if !resp.atBoundary {
                throw SystemError(message: "\(current.path): the last command is truncated at byte offset \(resp.offset + preambleLength) (\(resp.pendingBytes) bytes of an unfinished command)")
            }
            preambleLength = 0
            guard try openNext() else { return nil }
        }
    }

    /// Bytes of the current file before its command part (an RDB preamble), for offsets.
    private var preambleLength = 0
}
