#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine

/// What a full structural read of an RDB file found.
public struct RDBSummary: Sendable {
    public var magic = ""
    public var version = 0
    public var redisVersion: String?
    public var ctime: Int64?
    public var keys = 0
    public var expires = 0
    public var databases: [String: Int] = [:]
    public var functions = 0
    public var checksum = "absent"
    /// Bytes of the RDB itself (through its checksum).
    public var length = 0
    public var trailingBytes = 0
}

/// Progress of a long copy: (bytes done, bytes total or nil).
public typealias ProgressHandler = (Int, Int?) -> Void

enum Ingest {
    /// Reads every record of the RDB at `path` (lengths, encodings, packed blobs, CRC-64) and
    /// counts its keys. Throws with the offset and what was being read.
    static func checkRDB(path: String, allowTail: Bool = false) throws -> RDBSummary {
        let (fd, size) = try FileIO.openForReading(path)
        defer { close(fd) }
        return try checkRDB(fd: fd, size: size, name: path, allowTail: allowTail)
    }

    static func checkRDB(fd: Int32, size: Int?, name: String, allowTail: Bool) throws -> RDBSummary {
        let source = ByteSource(fileDescriptor: fd, knownSize: size, parallelChecksum: !allowTail)
        var options = RDBReader.Options(materialize: false)
        options.keepKeys = false
        options.stopAfterChecksum = allowTail
        let reader = RDBReader(source: source, options: options)
        var s = RDBSummary()
        do {
            while let ev = try reader.next() {
                switch ev {
                case .aux(let k, let v):
                    if k == Array("redis-ver".utf8) { s.redisVersion = String(decoding: v, as: UTF8.self) }
                    if k == Array("ctime".utf8) { s.ctime = Int64(String(decoding: v, as: UTF8.self)) }
                case .entry(let e):
                    s.keys += 1
                    if e.expireMs != nil { s.expires += 1 }
                    s.databases[String(e.db), default: 0] += 1
                case .function: s.functions += 1
                case .end(let verdict, let trailing):
                    switch verdict {
                    case .verified: s.checksum = "verified"
                    case .disabled: s.checksum = "disabled"
                    case .absent: s.checksum = "absent"
                    case .mismatch: throw BackupError(.failed, "\(name): the RDB's CRC-64 does not match its content (damaged)")
                    }
                    s.trailingBytes = trailing
                default: break
                }
            }
        } catch let e as FormatError {
            throw BackupError(.failed, "\(name): not a valid RDB file: \(e.description)")
        }
        s.version = reader.version.number
        s.magic = reader.version.description
        s.length = source.offset - (allowTail ? 0 : s.trailingBytes)
        if !allowTail && s.trailingBytes > 0 {
            throw BackupError(.failed, "\(name): \(s.trailingBytes) byte(s) after the end of the RDB (a stale tail from an interrupted or in-place copy?)")
        }
        return s
    }

    /// Copies `length` bytes (nil: to the end) from `fd` at `offset` into a new file `tmp`,
    /// returning the CRC-64 of the copy. The file is fsynced, not yet published.
    static func copy(from fd: Int32, offset: Int, length: Int?, name: String, to tmp: String, fs: RepoFS,
                     progress: ProgressHandler?) throws -> (size: Int, crc: UInt64) {
        let out = try fs.create(tmp)
        var ok = false
        defer { close(out); if !ok { unlink(tmp) } }
        let chunk = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        var crc = CRC64()
        var done = 0
        while length.map({ done < $0 }) ?? true {
            let want = min(chunk, length.map { $0 - done } ?? chunk)
            let r = pread(fd, buf, want, off_t(offset + done))
            if r < 0 { if errno == EINTR { continue }; throw SystemError("cannot read \(name)") }
            if r == 0 {
                if let length { throw BackupError(.failed, "\(name) shrank while it was being copied (\(offset + done) of \(offset + length) bytes): truncated or rewritten during the run; nothing was stored") }
                break
            }
            crc.update(buf, count: r)
            try fs.write(out, UnsafeRawBufferPointer(start: buf, count: r), path: tmp)
            done += r
            progress?(done, length)
        }
        try fs.fsync(out, path: tmp)
        ok = true
        return (done, crc.value)
    }

    /// Replays a RESP base file (an appendonlydir's `.base.aof`) and writes its dataset as an RDB
    /// to `tmp`; returns the time of its `#TS:` line (the moment of the rewrite).
    static func convertRESPBase(path: String, to tmp: String, fs: RepoFS) throws -> Int64? {
        // The base's own #TS is its time: expiries are judged at it, and it is the RDB's ctime.
        let reader = try AOFReader(path: path)
        var items = [AOFReader.Item]()
        var ts: Int64?
        // Peek the first command for its timestamp before building the engine.
        if let first = try reader.next() {
            if case .command(_, let t, _, _) = first { ts = t }
            items.append(first)
        }
        let at = ts.map { $0 * 1000 } ?? nowMilliseconds()
        let engine = Engine(clock: { at })
        let replay = AOFReplay(engine: engine)
        do {
            for it in items { try replay.apply(it) }
            while let it = try reader.next() { try replay.apply(it) }
        } catch let e as AOFReplay.ReplayError {
            throw BackupError(.failed, "\(path): \(e.description)")
        } catch let e as FormatError {
            throw BackupError(.failed, "\(path): \(e.description)")
        }
        replay.finish()
        let fd = try fs.create(tmp)
        var ok = false
        defer { close(fd); if !ok { unlink(tmp) } }
        // Through a memory sink so every byte passes the seam (faults, kill points).
        let sink = ByteSink()
        let writer = RDBWriter(sink: sink, target: Engine.dumpTarget)
        try engine.save(to: writer, functions: replay.functions.map(\.code))
        try sink.flush()
        try fs.write(fd, sink.memory, path: tmp)
        try fs.fsync(fd, path: tmp)
        ok = true
        return ts
    }
}
