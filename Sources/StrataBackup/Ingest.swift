#if canImport(Glibc)
import Glibc
#endif
import Dispatch
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
    /// The CRC-64 of the whole file, when the RDB's own checksum was verified: the RDB's CRC
    /// covers every byte but its 8-byte trailer, so the file's is that CRC extended by them.
    public var fileCRC: UInt64?
}

/// Progress of a long copy: (bytes done, bytes total or nil).
public typealias ProgressHandler = (Int, Int?) -> Void

/// copy_file_range(2), looked up at run time (Swift's Glibc module does not declare it).
private typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
private let copyFileRange: CopyFileRange? = {
    guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else { return nil }
    return unsafeBitCast(p, to: CopyFileRange.self)
}()

enum Ingest {
    /// Reads every record of the RDB at `path` (lengths, encodings, packed blobs, CRC-64) and
    /// counts its keys. Throws with the offset and what was being read.
    static func checkRDB(path: String, allowTail: Bool = false) throws -> RDBSummary {
        let (fd, size) = try FileIO.openForReading(path)
        defer { close(fd) }
        return try checkRDB(fd: fd, size: size, name: path, allowTail: allowTail)
    }

    static func checkRDB(fd: Int32, size: Int?, name: String, allowTail: Bool) throws -> RDBSummary {
        let source = ByteSource(fileDescriptor: fd, knownSize: size)
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
                    case .verified:
                        s.checksum = "verified"
                        if let size, size >= 8, source.offset == size {
                            var t = [UInt8](repeating: 0, count: 8)
                            if pread(fd, &t, 8, off_t(size - 8)) == 8 {
                                var stored: UInt64 = 0
                                for i in 0..<8 { stored |= UInt64(t[i]) << (8 * UInt64(i)) }
                                var c = CRC64(value: stored)
                                c.update(t)
                                s.fileCRC = c.value
                            }
                        }
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

    /// Copies a whole RDB from `fd` into a new file `tmp` and checks the copy (what is stored is
    /// what is checked): the kernel copies (copy_file_range; read/write where it cannot), then
    /// the structure check runs while the copy is fsynced on another thread. Returns the size,
    /// the file's CRC-64 and the check's summary; on any failure `tmp` is removed.
    static func copyRDB(from fd: Int32, length: Int, name: String, to tmp: String, fs: RepoFS, allowTail: Bool = false,
                        progress: ProgressHandler?) throws -> (size: Int, crc: UInt64, summary: RDBSummary) {
        let out = try fs.create(tmp)
        var ok = false
        defer { if !ok { close(out); unlink(tmp) } }
        var done = 0
        if let cfr = copyFileRange {
            var inOff = Int64(0)
            while done < length {
                try fs.noteWrite(path: tmp)
                let r = cfr(fd, &inOff, out, nil, min(64 << 20, length - done), 0)
                if r < 0 {
                    if errno == EINTR { continue }
                    if done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) { break }
                    throw SystemError("cannot write \(tmp)")
                }
                if r == 0 { throw BackupError(.failed, "\(name) shrank while it was being copied (\(done) of \(length) bytes); nothing was stored") }
                done += r
                progress?(done, length)
            }
        }
        if done < length {
            // No kernel copy here: the portable loop.
            _ = try copyLoop(from: fd, offset: done, length: length - done, name: name, out: out, tmp: tmp, fs: fs, crc: false) {
                progress?(done + $0, length)
            }
        }
        // fsync on a second thread while the check reads the copy from the page cache.
        final class Box: @unchecked Sendable { var error: Error? }
        let box = Box()
        let group = DispatchGroup()
        let outFD = out
        DispatchQueue.global().async(group: group) { do { try fs.fsync(outFD, path: tmp) } catch { box.error = error } }
        let summary: RDBSummary
        do {
            // Errors name the source (the copy is byte for byte the same).
            let (cfd, csize) = try FileIO.openForReading(tmp)
            defer { close(cfd) }
            summary = try checkRDB(fd: cfd, size: csize, name: name, allowTail: allowTail)
        } catch {
            group.wait()
            throw error
        }
        group.wait()
        if let e = box.error { throw e }
        close(out)
        ok = true
        let crc = try summary.fileCRC ?? crcOfFile(tmp)
        return (length, crc, summary)
    }

    /// Copies `length` bytes (nil: to the end) from `fd` at `offset` into a new file `tmp`,
    /// returning the CRC-64 of the copy. The file is fsynced, not yet published.
    static func copy(from fd: Int32, offset: Int, length: Int?, name: String, to tmp: String, fs: RepoFS,
                     progress: ProgressHandler?) throws -> (size: Int, crc: UInt64) {
        let out = try fs.create(tmp)
        var ok = false
        defer { close(out); if !ok { unlink(tmp) } }
        let (done, crc) = try copyLoop(from: fd, offset: offset, length: length, name: name, out: out, tmp: tmp, fs: fs, crc: true) {
            progress?($0, length)
        }
        try fs.fsync(out, path: tmp)
        ok = true
        return (done, crc)
    }

    static func copyLoop(from fd: Int32, offset: Int, length: Int?, name: String, out: Int32, tmp: String, fs: RepoFS,
                         crc wantCRC: Bool, progress: (Int) -> Void) throws -> (Int, UInt64) {
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
            if wantCRC { crc.update(buf, count: r) }
            try fs.write(out, UnsafeRawBufferPointer(start: buf, count: r), path: tmp)
            done += r
            progress(done)
        }
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
