#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// One `strata backup create` run: reads the source, writes new files into the repository and
/// commits a new catalog. Until the commit nothing it wrote is part of the repository.
public final class BackupCreate {
    public struct Options {
        public var label: String?
        public var dbfilename = "dump.rdb"
        public var appenddirname = "appendonlydir"
        /// Seconds without a byte from a server before giving up.
        public var timeout: Double = 60
        public var progress: ProgressHandler?
        public init() {}
    }

    /// What the run stored.
    public struct Result {
        public var snapshots: [Snapshot] = []
        public var increments: [(chain: String, increment: Increment)] = []
        public var chainsStarted: [String] = []
        public var chainsClosed: [String] = []
        /// Lines worth a warning even on a quiet run (a gap in the restorable window).
        public var warnings: [String] = []
        /// Lines for -v.
        public var notes: [String] = []
        public var source = ""
    }

    let repo: Repository
    let options: Options
    var cat: Catalog
    let runMs: Int64
    var result = Result()
    private var published: [String] = []    // files renamed into place, removed if the run fails

    public init(repo: Repository, options: Options) {
        self.repo = repo
        self.options = options
        cat = repo.catalog
        runMs = nowMilliseconds()
    }

    var fs: RepoFS { repo.fs }

    /// Runs against SOURCE: a redis:// URL, a data directory, or a single RDB/AOF file.
    public func run(source: String) throws -> Result {
        let generationBefore = repo.catalog.generation
        do {
            if source.hasPrefix("redis://") || source.hasPrefix("rediss://") {
                try fromServer(source)
            } else {
                var st = stat()
                guard stat(source, &st) == 0 else { throw BackupError(.failed, "\(source): \(String(cString: strerror(errno)))") }
                if (st.st_mode & S_IFMT) == S_IFDIR { try fromDirectory(source) } else { try fromFile(source) }
            }
            if cat != repo.catalog { try repo.commit(cat) }
        } catch {
            // Files already renamed into place but not committed: take them back out.
            if repo.catalog.generation == generationBefore { for p in published { unlink(repo.path + "/" + p) } }
            throw error
        }
        // Pins of chains this run closed are no longer needed.
        let refs = repo.referencedFiles(repo.catalog)
        for name in (try? AOFCheck.listDirectory(repo.path + "/pins")) ?? [] where !refs.contains("pins/" + name) {
            try? fs.unlink(repo.path + "/pins/" + name)
        }
        return result
    }

    // MARK: - Sources

    private func fromServer(_ url: String) throws {
        let target = try RedisURL(url)
        result.source = target.display
        let tmp = repo.tmpDir + "/replication.\(getpid()).rdb"
        let client = ReplicationClient(url: target, timeout: options.timeout)
        let (size, crc) = try client.fetchSnapshot(to: tmp, fs: fs, progress: options.progress)
        let summary: RDBSummary
        do { summary = try Ingest.checkRDB(path: tmp) } catch { unlink(tmp); throw BackupError(.failed, "\(target.display): the snapshot the server sent is not valid, nothing stored: \(error)") }
        _ = try addSnapshot(tmp: tmp, size: size, crc: crc, summary: summary, source: target.display, kind: "replication", chain: nil)
        var state = cat.sources[target.display] ?? SourceState()
        state.lastRDB = hex64(crc); state.lastRun = runMs
        cat.sources[target.display] = state
    }

    private func fromFile(_ path: String) throws {
        let key = "file:" + absolutePath(path)
        result.source = key
        let (fd, size0) = try FileIO.openForReading(path)
        defer { close(fd) }
        let size = size0 ?? 0
        var head = [UInt8](repeating: 0, count: 9)
        let n = pread(fd, &head, 9, 0)
        let isRDB = n >= 5 && (head.starts(with: Array("REDIS".utf8)) || head.starts(with: Array("VALKEY".utf8)))
        guard isRDB else { return try archiveSingleAOF(fd: fd, path: path, key: key, preamble: nil) }
        if try unchanged(fd: fd, key: key, name: path) { return }
        // Copied and checked in one go; commands after the RDB make it an AOF with a preamble.
        let tmp = repo.tmpDir + "/snapshot.\(getpid()).rdb"
        let (copied, crc, summary) = try Ingest.copyRDB(from: fd, length: size, name: path, to: tmp, fs: fs, allowTail: true, progress: options.progress)
        if summary.length == copied {
            try storeSnapshot(tmp: tmp, size: copied, crc: crc, summary: summary, fd: fd, key: key, kind: "rdb-file", name: path)
            return
        }
        unlink(tmp)
        var next: UInt8 = 0
        if pread(fd, &next, 1, off_t(summary.length)) == 1, next != UInt8(ascii: "*"), next != UInt8(ascii: "#") {
            throw BackupError(.failed, "\(path): \(size - summary.length) byte(s) after the end of the RDB at offset \(summary.length) (a stale tail from an interrupted or in-place copy?); nothing stored")
        }
        try archiveSingleAOF(fd: fd, path: path, key: key, preamble: summary)
    }

    private func fromDirectory(_ dir: String) throws {
        let key = "dir:" + absolutePath(dir)
        result.source = key
        var aofDir: String?
        if let names = try? AOFCheck.listDirectory(dir), names.contains(where: { $0.hasSuffix(".manifest") && !$0.hasPrefix("temp-") }) {
            aofDir = dir                                        // pointed at the appendonlydir itself
        } else if access(dir + "/" + options.appenddirname, F_OK) == 0 {
            aofDir = dir + "/" + options.appenddirname
        }
        let dump = dir + "/" + options.dbfilename
        let hasDump = aofDir != dir && access(dump, F_OK) == 0
        guard aofDir != nil || hasDump else {
            throw BackupError(.failed, "\(dir): neither \(options.dbfilename) nor \(options.appenddirname)/ is there (is this Redis's dir?)")
        }
        if hasDump {
            // Redis replaces its dump by rename, so the open file is one whole generation.
            let (fd, size) = try FileIO.openForReading(dump)
            defer { close(fd) }
            if try !unchanged(fd: fd, key: key, name: dump) {
                let tmp = repo.tmpDir + "/snapshot.\(getpid()).rdb"
                let (copied, crc, summary) = try Ingest.copyRDB(from: fd, length: size ?? 0, name: dump, to: tmp, fs: fs, progress: options.progress)
                try storeSnapshot(tmp: tmp, size: copied, crc: crc, summary: summary, fd: fd, key: key, kind: "dump", name: dump)
            }
        }
        if let aofDir { try archiveAOFDirectory(aofDir, key: key + "#aof") }
    }

    /// "dev:inode:size:mtime" of an open file: what says a file is the one stored last time.
    static func identity(_ fd: Int32) -> String {
        var st = stat()
        fstat(fd, &st)
        return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    /// True (and a note) when the RDB is the very file stored by the last run and that snapshot
    /// is still in the repository.
    private func unchanged(fd: Int32, key: String, name: String) throws -> Bool {
        guard let st = cat.sources[key], let last = st.lastRDB, st.lastRDBFile == BackupCreate.identity(fd),
              cat.snapshots.contains(where: { $0.source == key && $0.crc64 == last }) else { return false }
        result.notes.append("\(name) is unchanged since the last run; not stored again")
        return true
    }

    // MARK: - Snapshots

    /// Publishes a checked copy unless it is byte-identical to the last one from this source.
    private func storeSnapshot(tmp: String, size: Int, crc: UInt64, summary: RDBSummary, fd: Int32, key: String, kind: String, name: String) throws {
        var state = cat.sources[key] ?? SourceState()
        state.lastRun = runMs
        state.lastRDBFile = BackupCreate.identity(fd)
        if state.lastRDB == hex64(crc), cat.snapshots.contains(where: { $0.source == key && $0.crc64 == hex64(crc) }) {
            unlink(tmp)
            result.notes.append("\(name) has the same content as the last run's (CRC-64 \(hex64(crc))); not stored again")
        } else {
            try addSnapshot(tmp: tmp, size: size, crc: crc, summary: summary, source: key, kind: kind, chain: nil)
            state.lastRDB = hex64(crc)
        }
        cat.sources[key] = state
    }

    /// Publishes `tmp` as a snapshot and adds it to the working catalog.
    @discardableResult
    func addSnapshot(tmp: String?, size: Int, crc: UInt64?, summary: RDBSummary?, source: String, kind: String,
                     chain: String?, time: Int64? = nil) throws -> Snapshot {
        let id = repo.newID(prefix: "", at: runMs, taken: Set(cat.snapshots.map(\.id)))
        var file: String?
        if let tmp {
            let rel = "snapshots/\(id).rdb"
            try fs.publish(tmp, as: repo.path + "/" + rel, removeOnFailure: true)
            published.append(rel)
            file = rel
        }
        let s = Snapshot(id: id, file: file, source: source, kind: kind, label: options.label, createdAt: runMs,
                         time: time ?? summary?.ctime ?? runMs / 1000, magic: summary?.magic, rdbVersion: summary?.version,
                         redisVersion: summary?.redisVersion, keys: summary?.keys ?? 0, expires: summary?.expires ?? 0,
                         databases: summary?.databases ?? [:], functions: summary?.functions ?? 0, size: size,
                         crc64: crc.map(hex64), rdbChecksum: summary?.checksum, chain: chain)
        cat.snapshots.append(s)
        result.snapshots.append(s)
        return s
    }

    // MARK: - AOF chains

    /// A file of the source, open (so it stays readable whatever Redis does to its name).
    struct OpenFile {
        var name: String
        var seq: Int64?
        var fd: Int32
        var size: Int
        var device: UInt64
        var inode: UInt64
    }

    static func openPinned(_ path: String, name: String, seq: Int64?) throws -> OpenFile? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { if errno == ENOENT { return nil }; throw SystemError("cannot open \(path)") }
        var st = stat()
        fstat(fd, &st)
        return OpenFile(name: name, seq: seq, fd: fd, size: Int(st.st_size), device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Reads the manifest and opens every file it lists, then reads the manifest again: equal
    /// manifests mean the open files are one consistent generation (a rewrite that finished in
    /// between shows as a changed manifest, and the whole read is repeated).
    static func pinManifest(_ dir: String) throws -> (AOFManifest, [OpenFile], String) {
        let (_, _, mpath0) = try AOFCheck.resolve(dir)
        guard let mpath = mpath0 else { throw BackupError(.failed, "\(dir): no AOF manifest") }
        for _ in 0..<20 {
            let before = try FileIO.readFile(mpath)
            let m: AOFManifest
            do { m = try AOFManifest.parse(before) } catch { throw BackupError(.failed, "\(mpath): \(error)") }
            var files = [OpenFile]()
            var missing = false
            for e in ([m.base].compactMap { $0 } + m.incrs) {
                let n = String(decoding: e.file, as: UTF8.self)
                guard let f = try openPinned(dir + "/" + n, name: n, seq: e.seq) else { missing = true; break }
                files.append(f)
            }
            let after = (try? FileIO.readFile(mpath)) ?? []
            if !missing && after == before { return (m, files, mpath) }
            for f in files { close(f.fd) }
            usleep(100_000)
        }
        throw BackupError(.failed, "\(mpath) kept changing (or lists a missing file) over 20 reads; is a rewrite looping? nothing stored")
    }

    private func archiveAOFDirectory(_ dir: String, key: String) throws {
        let (manifest, files, _) = try BackupCreate.pinManifest(dir)
        defer { for f in files { close(f.fd) } }
        var state = cat.sources[key] ?? SourceState()
        let baseName = manifest.base.map { String(decoding: $0.file, as: UTF8.self) }
        let incrFiles = files.filter { f in manifest.incrs.contains { String(decoding: $0.file, as: UTF8.self) == f.name } }
        var reason: String?
        if state.chain == nil || cat.chain(state.chain!) == nil || cat.chain(state.chain!)!.closed {
            reason = nil
        } else if state.baseFile != baseName {
            reason = "the AOF was rewritten (base \(state.baseFile ?? "none") -> \(baseName ?? "none"))"
        } else {
            for t in state.files {
                guard let f = incrFiles.first(where: { $0.name == t.name }) else {
                    reason = "\(t.name) left the manifest without a rewrite"; break
                }
                if let why = BackupCreate.mismatch(t, f) { reason = why; break }
            }
        }
        let continuing = state.chain != nil && reason == nil && !(cat.chain(state.chain!)?.closed ?? true)
        if !continuing {
            var oldEnd: Int64?
            var tailComplete = true
            if let old = state.chain, let idx = cat.chains.firstIndex(where: { $0.id == old }), !cat.chains[idx].closed {
                (oldEnd, tailComplete) = try closeChain(idx, state: state, dir: dir, current: incrFiles)
                result.notes.append("chain \(old) closed: \(reason ?? "new chain")")
            }
            // The new chain's base.
            let chainID = repo.newID(prefix: "c", at: runMs, taken: Set(cat.chains.map(\.id)))
            var baseTime: Int64
            let snap: Snapshot
            if manifest.base != nil, let bf = files.first(where: { $0.name == baseName }) {
                let tmp = repo.tmpDir + "/base.\(getpid()).rdb"
                if baseName!.hasSuffix(".rdb") {
                    let (size, crc, summary) = try Ingest.copyRDB(from: bf.fd, length: bf.size, name: dir + "/" + baseName!, to: tmp, fs: fs, progress: options.progress)
                    baseTime = summary.ctime ?? runMs / 1000
                    snap = try addSnapshot(tmp: tmp, size: size, crc: crc, summary: summary, source: key, kind: "aof-base", chain: chainID, time: baseTime)
                } else {
                    let ts = try Ingest.convertRESPBase(path: dir + "/" + baseName!, to: tmp, fs: fs)
                    let summary = try Ingest.checkRDB(path: tmp)
                    let crc = try crcOfFile(tmp)
                    baseTime = ts ?? runMs / 1000
                    snap = try addSnapshot(tmp: tmp, size: FileIO.fileSize(tmp), crc: crc, summary: summary, source: key, kind: "aof-base", chain: chainID, time: baseTime)
                }
            } else {
                // No base: the chain starts from an empty dataset, at the first #TS (else now).
                baseTime = runMs / 1000
                if let first = incrFiles.first, let ts = BackupCreate.firstTimestamp(first) { baseTime = ts }
                snap = try addSnapshot(tmp: nil, size: 0, crc: nil, summary: nil, source: key, kind: "empty", chain: chainID, time: baseTime)
            }
            var gap: String?
            if let reason, !reason.hasPrefix("the AOF was rewritten") {
                result.warnings.append("\(key): a new chain starts: \(reason)")
            }
            if let oldEnd, baseTime > oldEnd + 1 {
                if tailComplete {
                    // Every command of the old files is archived, but nothing proves the AOF was
                    // on until the rewrite (off and on again also makes a new base): the seconds
                    // between the old chain's last known moment and the new base stay unclaimed.
                    gap = "not restorable from \(formatTime(oldEnd + 1)) to \(formatTime(baseTime - 1)): \(reason ?? "the previous chain ended"); the old files were archived to their end, but a new base alone does not prove the AOF stayed on in between"
                    result.notes.append("\(key): \(gap!)")
                } else {
                    gap = "not restorable from \(formatTime(oldEnd + 1)) to \(formatTime(baseTime - 1)): \(reason ?? "the previous chain ended"), and the commands the old AOF file gained after the last run were lost before this run could archive them (no hard-link pin: set aof-disable-auto-gc yes, keep the repository on Redis's file system, or run backups more often)"
                    result.warnings.append("gap in the restorable window of \(key): \(gap!)")
                }
            }
            cat.chains.append(Chain(id: chainID, source: key, snapshot: snap.id, start: baseTime, end: baseTime, increments: [],
                                    closed: false, timestamps: false, gapBefore: gap))
            result.chainsStarted.append(chainID)
            state = SourceState(chain: chainID, baseFile: baseName, baseSeq: manifest.base?.seq, files: [], lastRDB: state.lastRDB, lastRun: state.lastRun)
        }
        // Archive the new complete commands of every incr file, in manifest order.
        let chainID = state.chain!
        let idx = cat.chains.firstIndex { $0.id == chainID }!
        let completeThrough = runMs / 1000 - 1
        var newFiles = [SourceState.Tracked]()
        for f in incrFiles {
            var t = state.files.first { $0.name == f.name }
                ?? SourceState.Tracked(name: f.name, seq: f.seq, device: f.device, inode: f.inode, archived: 0, tail: "", pin: nil)
            try archiveRange(f.fd, name: dir + "/" + f.name, sourceName: f.name, seq: f.seq, size: f.size, tracked: &t, chainIndex: idx, completeThrough: completeThrough)
            newFiles.append(t)
        }
        // Pin the live (last) incr with a hard link so its tail survives a rewrite before the next run.
        if let live = incrFiles.last, var t = newFiles.last {
            let pinRel = "pins/\(chainID)-\(live.name)"
            if t.pin == nil || access(repo.path + "/" + pinRel, F_OK) != 0 {
                let pinPath = repo.path + "/" + pinRel
                unlink(pinPath)
                if try fs.link(dir + "/" + live.name, pinPath) {
                    var st = stat()
                    if stat(pinPath, &st) == 0, UInt64(st.st_ino) == live.inode { t.pin = pinRel } else { unlink(pinPath); t.pin = nil }
                } else {
                    t.pin = nil
                    result.notes.append("\(dir)/\(live.name) cannot be hard-linked into the repository (another file system): if Redis rewrites the AOF before the next run, the commands after this run are lost to the backup unless aof-disable-auto-gc is yes")
                }
                newFiles[newFiles.count - 1] = t
            }
        }
        cat.chains[idx].end = max(cat.chains[idx].end, completeThrough)
        state.files = newFiles
        state.lastRun = runMs
        cat.sources[key] = state
    }

    /// Why a tracked file no longer continues what was archived from it, or nil.
    static func mismatch(_ t: SourceState.Tracked, _ f: OpenFile) -> String? {
        if f.device != t.device || f.inode != t.inode { return "\(t.name) was replaced by another file since the last run" }
        if f.size < t.archived { return "\(t.name) is shorter (\(f.size) bytes) than what was archived from it (\(t.archived)): it was truncated" }
        if !t.tail.isEmpty {
            let n = t.tail.count / 2
            var b = [UInt8](repeating: 0, count: n)
            let r = pread(f.fd, &b, n, off_t(t.archived - n))
            if r != n || hexBytes(b) != t.tail { return "\(t.name) was rewritten in place since the last run (its bytes before offset \(t.archived) changed)" }
        }
        return nil
    }

    static func firstTimestamp(_ f: OpenFile) -> Int64? {
        var b = [UInt8](repeating: 0, count: 64)
        let r = pread(f.fd, &b, 64, 0)
        guard r > 4, b.starts(with: Array("#TS:".utf8)) else { return nil }
        var v: Int64 = 0, i = 4
        while i < r, b[i] >= 48, b[i] <= 57 { v = v * 10 + Int64(b[i] - 48); i += 1 }
        return i > 4 ? v : nil
    }

    /// Copies the complete commands of `fd` after `tracked.archived` (up to `size`) into a new
    /// increment of the chain. A partial command at the end (being written) waits for the next run.
    private func archiveRange(_ fd: Int32, name: String, sourceName: String, seq: Int64?, size: Int,
                              tracked t: inout SourceState.Tracked, chainIndex: Int, completeThrough: Int64, final: Bool = false) throws {
        guard size > t.archived else { return }
        var scanner = AOFScanner(startOffset: t.archived)
        let reached: Int
        do { reached = try AOFCheck.scan(fd, from: t.archived, upTo: size, &scanner) } catch { throw SystemError("cannot read \(name)") }
        if reached < size && !scanner.finished {
            throw BackupError(.failed, "\(name) shrank while it was being read (truncated during the run, \(reached) of \(size) bytes); nothing stored")
        }
        scanner.finish()
        if scanner.failure == .corrupt {
            throw BackupError(.failed, "\(name): not a valid AOF at offset \(scanner.badByteOffset ?? scanner.okUpTo)\(scanner.message.map { " (\($0))" } ?? ""); nothing stored")
        }
        let end = scanner.okUpTo
        guard end > t.archived else { return }
        var chain = cat.chains[chainIndex]
        let index = (chain.increments.last?.index ?? 0) + 1
        let rel = "chains/\(chain.id)/\(index).aof"
        let tmp = repo.tmpDir + "/incr.\(getpid()).aof"
        let (copied, crc) = try Ingest.copy(from: fd, offset: t.archived, length: end - t.archived, name: name, to: tmp, fs: fs, progress: nil)
        try fs.mkdir(repo.path + "/chains/\(chain.id)")
        try fs.publish(tmp, as: repo.path + "/" + rel, removeOnFailure: true)
        published.append(rel)
        // Commands in it are later than timeFrom: than the previous increment's complete second,
        // or (the first) at or after the snapshot's second.
        let timeFrom = chain.increments.last?.completeThrough ?? (chain.start - 1)
        // A live file is complete only through the second before the run (more commands of the
        // run's own second may follow); a file that can no longer change, through its last #TS.
        let through = final ? max(completeThrough, scanner.lastTimestamp ?? completeThrough) : completeThrough
        let inc = Increment(index: index, file: rel, sourceFile: sourceName, sourceSeq: seq, from: t.archived, to: t.archived + copied,
                            crc64: hex64(crc), commands: scanner.commands, firstTimestamp: scanner.firstTimestamp,
                            lastTimestamp: scanner.lastTimestamp, createdAt: runMs, timeFrom: timeFrom,
                            completeThrough: max(through, timeFrom))
        if scanner.firstTimestamp != nil { chain.timestamps = true }
        chain.increments.append(inc)
        cat.chains[chainIndex] = chain
        result.increments.append((chain.id, inc))
        // Remember the bytes before the cut, to notice an in-place rewrite next time.
        let n = min(32, end)
        var tail = [UInt8](repeating: 0, count: n)
        _ = pread(fd, &tail, n, off_t(end - n))
        t.tail = hexBytes(tail)
        t.archived = end
    }

    /// Archives what the closed chain's files still hold (from the source directory while Redis
    /// keeps them as history, else from the pin) and closes it. Returns the time through which it
    /// is complete.
    private func closeChain(_ idx: Int, state: SourceState, dir: String, current: [OpenFile]) throws -> (Int64, Bool) {
        var complete = true
        var lastTS: Int64?
        for var t in state.files {
            var f: OpenFile?
            if let c = current.first(where: { $0.name == t.name && $0.inode == t.inode }) {
                f = OpenFile(name: c.name, seq: c.seq, fd: dup(c.fd), size: c.size, device: c.device, inode: c.inode)
            } else if let o = try BackupCreate.openPinned(dir + "/" + t.name, name: t.name, seq: t.seq), o.inode == t.inode {
                f = o
            } else {
                if let o = try BackupCreate.openPinned(dir + "/" + t.name, name: t.name, seq: t.seq) { close(o.fd) }
                if let p = t.pin, let o = try BackupCreate.openPinned(repo.path + "/" + p, name: t.name, seq: t.seq), o.inode == t.inode { f = o }
            }
            guard let file = f else { complete = false; continue }
            defer { close(file.fd) }
            if BackupCreate.mismatch(t, file) != nil { complete = false; continue }
            let before = cat.chains[idx].increments.count
            try archiveRange(file.fd, name: t.name, sourceName: t.name, seq: t.seq, size: file.size, tracked: &t,
                             chainIndex: idx, completeThrough: cat.chains[idx].end, final: true)
            if cat.chains[idx].increments.count > before, let ts = cat.chains[idx].increments.last?.lastTimestamp { lastTS = max(lastTS ?? 0, ts) }
        }
        cat.chains[idx].closed = true
        if complete, let lastTS { cat.chains[idx].end = max(cat.chains[idx].end, lastTS) }
        result.chainsClosed.append(cat.chains[idx].id)
        return (cat.chains[idx].end, complete)
    }

    /// A single AOF file (legacy, or one with an RDB preamble): a chain whose base is the
    /// preamble (or the empty dataset), extended run after run while the file only grows.
    private func archiveSingleAOF(fd: Int32, path: String, key: String, preamble: RDBSummary?) throws {
        var st = stat()
        fstat(fd, &st)
        let f = OpenFile(name: path.split(separator: "/").last.map(String.init) ?? path, seq: nil, fd: fd, size: Int(st.st_size),
                         device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        var state = cat.sources[key] ?? SourceState()
        var reason: String?
        if let c = state.chain, let ch = cat.chain(c), !ch.closed, let t = state.files.first {
            reason = BackupCreate.mismatch(t, f)
        } else {
            reason = "first run"
        }
        if let reason {
            var oldEnd: Int64?
            if let old = state.chain, let idx = cat.chains.firstIndex(where: { $0.id == old }), !cat.chains[idx].closed {
                cat.chains[idx].closed = true
                oldEnd = cat.chains[idx].end
                result.chainsClosed.append(old)
            }
            let chainID = repo.newID(prefix: "c", at: runMs, taken: Set(cat.chains.map(\.id)))
            var baseTime = runMs / 1000
            var archived = 0
            if let p = preamble {
                let tmp = repo.tmpDir + "/preamble.\(getpid()).rdb"
                let (size, crc) = try Ingest.copy(from: fd, offset: 0, length: p.length, name: path, to: tmp, fs: fs, progress: options.progress)
                baseTime = p.ctime ?? baseTime
                var s = p; s.trailingBytes = 0
                _ = try addSnapshot(tmp: tmp, size: size, crc: crc, summary: s, source: key, kind: "aof-preamble", chain: chainID, time: baseTime)
                archived = p.length
            } else {
                if let ts = BackupCreate.firstTimestamp(f) { baseTime = ts }
                _ = try addSnapshot(tmp: nil, size: 0, crc: nil, summary: nil, source: key, kind: "empty", chain: chainID, time: baseTime)
            }
            var gap: String?
            if let oldEnd, state.chain != nil {
                gap = reason + (baseTime > oldEnd + 1 ? "; not restorable from \(formatTime(oldEnd + 1)) to \(formatTime(baseTime - 1))" : "")
                result.warnings.append("\(key): a new chain starts: \(gap!)")
            }
            cat.chains.append(Chain(id: chainID, source: key, snapshot: cat.snapshots.last!.id, start: baseTime, end: baseTime,
                                    increments: [], closed: false, timestamps: false, gapBefore: gap))
            result.chainsStarted.append(chainID)
            state = SourceState(chain: chainID, files: [SourceState.Tracked(name: f.name, seq: nil, device: f.device, inode: f.inode,
                                                                            archived: archived, tail: "", pin: nil)])
        }
        let idx = cat.chains.firstIndex { $0.id == state.chain! }!
        var t = state.files[0]
        let completeThrough = runMs / 1000 - 1
        try archiveRange(fd, name: path, sourceName: f.name, seq: nil, size: f.size, tracked: &t, chainIndex: idx, completeThrough: completeThrough)
        cat.chains[idx].end = max(cat.chains[idx].end, completeThrough)
        state.files = [t]
        state.lastRun = runMs
        cat.sources[key] = state
    }
}

func absolutePath(_ p: String) -> String {
    guard let r = realpath(p, nil) else { return p }
    defer { free(r) }
    return String(cString: r)
}

func crcOfFile(_ path: String) throws -> UInt64 { try FileIO.crc64(path: path) }

