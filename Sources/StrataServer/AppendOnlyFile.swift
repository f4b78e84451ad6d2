#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine

/// The server's append-only file, as Redis 7.0 keeps it: a directory (`appenddirname`) with a
/// base file, incr files and a manifest (`appendfilename.manifest`), written through temp →
/// fsync → rename → fsync(dir). Every write the engine propagates is appended to the last incr
/// file: `#TS:` (with `aof-timestamp-enabled`) before the first command of each new second,
/// SELECT when the database changes, MULTI/EXEC around what one command (or EXEC) propagated
/// when that is several commands, as Redis 7.0 does. The buffer reaches the file before any client sees a reply; `appendfsync
/// always` also fsyncs then, `everysec` from the cron, `no` leaves it to the kernel.
final class AppendOnlyFile {
    let dir: String
    let prefix: String
    private(set) var manifest: AOFManifest
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var selectedDB = -1
    private var lastTimestamp: Int64 = 0
    var fsyncPolicy = "everysec"
    var timestamps = false
    /// `aof-use-rdb-preamble`: bases are RDB files (`.base.rdb`) or commands (`.base.aof`).
    var rdbPreamble = true
    private var baseSuffix: String { rdbPreamble ? ".rdb" : ".aof" }
    private var lastFsync: Int64 = 0
    private var unsynced = false
    /// Bytes in the current incr file and at the last rewrite (for auto-aof-rewrite).
    private(set) var incrSize = 0
    private(set) var baseSize = 0
    private(set) var lastWriteError: String?
    let log: (String, String) -> Void

    var manifestPath: String { dir + "/" + prefix + ".manifest" }

    init(dir: String, prefix: String, log: @escaping (String, String) -> Void) {
        self.dir = dir
        self.prefix = prefix
        self.log = log
        manifest = AOFManifest(entries: [])
    }

    // MARK: loading

    /// Loads the directory into `engine` as Redis 7.0 does at startup; returns function libraries
    /// and whether anything existed. A truncated last file is cut at its last complete command
    /// when `loadTruncated` (Redis's aof-load-truncated), otherwise startup stops.
    /// `checkPackedDuplicates`: refuse a preamble listpack that repeats a field or member
    /// (sanitize-dump-payload yes).
    func load(into engine: Engine, loadTruncated: Bool, checkPackedDuplicates: Bool) throws -> (functions: [[UInt8]], existed: Bool) {
        if access(manifestPath, F_OK) != 0 && access(prefix, F_OK) == 0 {
            // A Redis 6 single-file AOF in dir: moved into the directory as its base (Redis 7.0's
            // aofUpgradePrepare), then loaded like any other.
            if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw ServerError("Can't create the append-only dir \(dir): \(String(cString: strerror(errno)))") }
            manifest = AOFManifest(entries: [.init(file: Array(prefix.utf8), seq: 1, type: .base)])
            if rename(prefix, dir + "/" + prefix) != 0 { throw ServerError("Error moving \(prefix) into \(dir): \(String(cString: strerror(errno)))") }
            try persistManifest()
            log("notice", "Successfully migrated an old-style AOF into the AOF directory")
        }
        guard access(manifestPath, F_OK) == 0 else { return ([], false) }
        do { manifest = try AOFManifest.parse(try FileIO.readFile(manifestPath)) } catch {
            throw ServerError("Bad AOF manifest \(manifestPath): \(error)")
        }
        let files = ([manifest.base].compactMap { $0 } + manifest.incrs).map { String(decoding: $0.file, as: UTF8.self) }
        for f in files where access(dir + "/" + f, F_OK) != 0 {
            throw ServerError("Unable to obtain the AOF file \(f) length. stat: No such file or directory")
        }
        // Only the last file may end early (a crash mid-write); check it before loading.
        if let last = manifest.incrs.last {
            let name = String(decoding: last.file, as: UTF8.self)
            let path = dir + "/" + name
            let (cfd, size) = try FileIO.openForReading(path)
            defer { Glibc.close(cfd) }
            var sc = AOFScanner()
            try AOFCheck.scan(cfd, from: 0, &sc)
            sc.finish()
            if let f = sc.failure {
                if f == .corrupt {
                    throw ServerError("Bad file format reading the append only file \(name) at offset \(sc.badByteOffset ?? sc.okUpTo): make a backup of your AOF file, then use strata aof check --fix <manifest>")
                }
                guard loadTruncated else {
                    throw ServerError("Unexpected end of file reading the append only file \(name) at offset \(sc.okUpTo) (aof-load-truncated is no): use strata aof check --fix <manifest>")
                }
                log("warning", "!!! Warning: short read while loading the AOF file \(name)!!!")
                log("warning", "!!! Truncating the AOF \(name) at offset \(sc.okUpTo) !!!")
                if truncate(path, off_t(sc.okUpTo)) != 0 { throw ServerError("Error truncating the AOF file \(name): \(String(cString: strerror(errno)))") }
                log("warning", "AOF \(name) loaded anyway because aof-load-truncated is enabled")
            }
        }
        let reader = try AOFReader(path: manifestPath)
        reader.checkPackedDuplicates = checkPackedDuplicates
        let replay = AOFReplay(engine: engine)
        reader.visitor = replay.collectionVisitor
        do {
            while let item = try reader.next() { try replay.apply(item) }
        } catch let e as AOFReplay.ReplayError {
            throw ServerError("Error loading the AOF: \(e.description)")
        } catch let e as FormatError {
            throw ServerError("Bad file format reading the append only file at offset \(e.offset): \(e.message)")
        }
        replay.finish()
        if let b = manifest.base { baseSize = FileIO.fileSize(dir + "/" + String(decoding: b.file, as: UTF8.self)) }
        return (replay.functions.map(\.code), true)
    }

    // MARK: opening

    /// Creates the directory, a base when there is none (the current dataset), opens the last
    /// incr file for appending (creating it), and persists the manifest.
    func open(engine: Engine, functions: [[UInt8]]) throws {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw ServerError("Can't open or create append-only dir \(dir): \(String(cString: strerror(errno)))") }
        if manifest.base == nil && manifest.incrs.isEmpty {
            let name = "\(prefix).1.base\(baseSuffix)"
            try AppendOnlyFile.writeBase(engine: engine, functions: functions, preamble: rdbPreamble, to: dir + "/" + name)
            manifest.entries.insert(.init(file: Array(name.utf8), seq: 1, type: .base), at: 0)
            baseSize = FileIO.fileSize(dir + "/" + name)
            log("notice", "Creating AOF base file \(name) on server start")
        }
        if manifest.incrs.isEmpty {
            let name = "\(prefix).1.incr.aof"
            manifest.entries.append(.init(file: Array(name.utf8), seq: 1, type: .incr))
            log("notice", "Creating AOF incr file \(name) on server start")
        }
        try openLastIncr()
        try persistManifest()
    }

    private func openLastIncr() throws {
        let name = String(decoding: manifest.incrs.last!.file, as: UTF8.self)
        let f = Glibc.open(dir + "/" + name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if f < 0 { throw ServerError("Can't open the append-only file \(name): \(String(cString: strerror(errno)))") }
        if fd >= 0 { Glibc.close(fd) }
        fd = f
        incrSize = FileIO.fileSize(dir + "/" + name)
        selectedDB = -1
    }

    func persistManifest() throws {
        let f = try AtomicFile(path: manifestPath)
        do {
            let bytes = manifest.serialized()
            try bytes.withUnsafeBytes { try FileIO.writeAll(f.fd, $0) }
            try f.commit()
        } catch { f.abandon(); throw ServerError("Can't persist the AOF manifest: \(error)") }
    }

    /// The dataset as an AOF base: an RDB with the `aof-base` aux field (`aof-use-rdb-preamble
    /// yes`, Redis's default), or the commands that recreate it (`no`).
    static func writeBase(engine: Engine, functions: [[UInt8]], preamble: Bool, to path: String) throws {
        let f = try AtomicFile(path: path)
        do {
            if preamble {
                let sink = ByteSink(fileDescriptor: f.fd)
                let writer = RDBWriter(sink: sink, target: Engine.dumpTarget)
                try engine.save(to: writer, functions: functions, aux: [(Array("aof-base".utf8), Array("1".utf8))])
                try sink.flush()
            } else {
                try engine.writeCommands(functions: functions) { chunk in try chunk.withUnsafeBytes { try FileIO.writeAll(f.fd, $0) } }
            }
            try f.commit()
        } catch { f.abandon(); throw error }
    }

    // MARK: writing

    /// One propagated group in the replication/AOF wire form, as Redis writes both: SELECT when
    /// the database differs from `selectedDB` (updated), MULTI/EXEC around it when `wrap`. The
    /// arguments are encoded by the reply encoder (RESP arrays of bulk strings).
    static func encode(_ cmds: [([[UInt8]], Int)], wrap: Bool, selectedDB: inout Int, into out: inout [UInt8]) {
        func select(_ db: Int) {
            guard db != selectedDB else { return }
            Reply.array([.bulk("SELECT"), .bulk(String(db))]).write(into: &out)
            selectedDB = db
        }
        if wrap { select(cmds[0].1); Reply.array([.bulk("MULTI")]).write(into: &out) }
        for (args, db) in cmds {
            select(db)
            Reply.array(args.map { .bulk($0) }).write(into: &out)
        }
        if wrap { Reply.array([.bulk("EXEC")]).write(into: &out) }
    }

    /// One group of propagated commands (one top-level command or transaction), after a `#TS:`
    /// line when a new second began.
    func emit(_ cmds: [([[UInt8]], Int)], wrap: Bool, now: Int64) {
        if timestamps && now / 1000 > lastTimestamp {
            lastTimestamp = now / 1000
            buffer += Array("#TS:\(lastTimestamp)\r\n".utf8)
        }
        AppendOnlyFile.encode(cmds, wrap: wrap, selectedDB: &selectedDB, into: &buffer)
    }

    /// Writes the buffer (before replies go out); fsyncs with `appendfsync always`.
    func flush(now: Int64) {
        guard !buffer.isEmpty, fd >= 0 else { return }
        do {
            try buffer.withUnsafeBytes { try FileIO.writeAll(fd, $0) }
            incrSize += buffer.count
            buffer.removeAll(keepingCapacity: true)
            unsynced = true
            lastWriteError = nil
        } catch {
            // As Redis: with appendfsync always the replies of these writes must not go out, so
            // the server exits; otherwise the buffer is kept for the next attempt and write
            // commands are refused (MISCONF) until a write succeeds.
            if fsyncPolicy == "always" {
                log("warning", "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...: \(error)")
                exit(1)
            }
            if lastWriteError == nil { log("warning", "Error writing to the AOF file: \(error)") }
            lastWriteError = "\(error)"
            return
        }
        if fsyncPolicy == "always" { sync(now: now) }
    }

    /// no-appendfsync-on-rewrite yes while a child writes: no fsync (the data is written, the
    /// disk is left to the child), as Redis does.
    var holdFsync = false

    func sync(now: Int64, force: Bool = false) {
        guard unsynced, fd >= 0, force || !holdFsync else { return }
        if fdatasync(fd) != 0 { log("warning", "fsync of the AOF failed: \(String(cString: strerror(errno)))") }
        unsynced = false
        lastFsync = now
    }

    /// The cron's part: `everysec` fsync.
    func cron(now: Int64) {
        flush(now: now)
        if fsyncPolicy == "everysec" && now - lastFsync >= 1000 { sync(now: now) }
    }

    // MARK: rewriting

    /// BGREWRITEAOF, step 1 (before the fork): a new incr file takes the writes from now on; the
    /// manifest lists both incr files until the rewrite is done.
    func startRewrite(now: Int64) throws -> (tempBase: String, baseName: String, preamble: Bool) {
        flush(now: now)
        sync(now: now, force: true)
        let nextIncr = (manifest.incrs.last?.seq ?? 0) + 1
        let name = "\(prefix).\(nextIncr).incr.aof"
        manifest.entries.append(.init(file: Array(name.utf8), seq: nextIncr, type: .incr))
        try persistManifest()
        try openLastIncr()
        let nextBase = (manifest.base?.seq ?? 0) + 1
        return ("temp-rewriteaof-bg-\(getpid()).aof", "\(prefix).\(nextBase).base\(baseSuffix)", rdbPreamble)
    }

    /// Step 2 (the child finished): the new base replaces the old one and every incr file but
    /// the current one; they become history and are deleted (unless aof-disable-auto-gc).
    func finishRewrite(tempBase: String, baseName: String, keepHistory: Bool) throws {
        let finalName = baseName
        if rename(tempBase, dir + "/" + finalName) != 0 {
            throw ServerError("Error trying to rename the temporary AOF base file \(tempBase) into \(finalName): \(String(cString: strerror(errno)))")
        }
        let current = manifest.incrs.last!
        var history = [AOFManifest.Entry]()
        var entries = [AOFManifest.Entry]()
        entries.append(.init(file: Array(finalName.utf8), seq: (manifest.base?.seq ?? 0) + 1, type: .base))
        for e in manifest.entries {
            if e.type == .incr && e.seq == current.seq { continue }
            if e.type == .history { history.append(e); continue }
            history.append(.init(file: e.file, seq: e.seq, type: .history))
        }
        manifest.entries = entries + (keepHistory ? history : []) + [current]
        try persistManifest()
        baseSize = FileIO.fileSize(dir + "/" + finalName)
        if !keepHistory {
            for h in history { unlink(dir + "/" + String(decoding: h.file, as: UTF8.self)) }
        }
        let dfd = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); Glibc.close(dfd) }
    }

    /// CONFIG SET appendonly yes on a running server: a new base from the current dataset (the
    /// files of an earlier AOF period become history and go), a new incr file, the manifest.
    /// Written synchronously (Redis forks for this).
    func startFresh(engine: Engine, functions: [[UInt8]], keepHistory: Bool) throws {
        if access(manifestPath, F_OK) == 0, let m = try? AOFManifest.parse(try FileIO.readFile(manifestPath)) { manifest = m }
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw ServerError("Can't open or create append-only dir \(dir): \(String(cString: strerror(errno)))") }
        let baseSeq = (manifest.base?.seq ?? 0) + 1
        let incrSeq = (manifest.incrs.map(\.seq).max() ?? 0) + 1
        let baseName = "\(prefix).\(baseSeq).base\(baseSuffix)", incrName = "\(prefix).\(incrSeq).incr.aof"
        try AppendOnlyFile.writeBase(engine: engine, functions: functions, preamble: rdbPreamble, to: dir + "/" + baseName)
        let old = manifest.entries
        manifest.entries = [.init(file: Array(baseName.utf8), seq: baseSeq, type: .base)]
            + (keepHistory ? old.map { .init(file: $0.file, seq: $0.seq, type: .history) } : [])
            + [.init(file: Array(incrName.utf8), seq: incrSeq, type: .incr)]
        try openLastIncr()
        try persistManifest()
        baseSize = FileIO.fileSize(dir + "/" + baseName)
        if !keepHistory { for e in old { unlink(dir + "/" + String(decoding: e.file, as: UTF8.self)) } }
    }

    /// A failed rewrite: the manifest keeps several incr files (all loaded in order).
    func abortRewrite(tempBase: String) { unlink(tempBase) }

    func close(now: Int64) {
        flush(now: now)
        sync(now: now, force: true)
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
