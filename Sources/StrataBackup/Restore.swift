#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine

/// Point-in-time restore: the dataset as of the last command at or before a second, from a
/// backup repository, a Redis 7 appendonlydir or a single AOF file with `#TS:` annotations.
public enum Restore {
    public enum Target: Equatable, Sendable { case latest, at(Int64) }

    /// unix seconds, ISO 8601 with a zone (`2026-11-24T10:42:17+08:00`, `...Z`), a local time
    /// (`2026-11-24 10:42:17` or with a T), or `latest`.
    public static func parseTime(_ s: String) -> Target? {
        if s == "latest" { return .latest }
        if let v = Int64(s), v >= 0 { return .at(v) }
        let b = Array(s.utf8)
        func num(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= b.count else { return nil }
            var v = 0
            for i in from..<(from + n) { guard b[i] >= 48, b[i] <= 57 else { return nil }; v = v * 10 + Int(b[i] - 48) }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), b[4] == UInt8(ascii: "-"), let mo = num(5, 2), b[7] == UInt8(ascii: "-"), let d = num(8, 2),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), let h = num(11, 2), b[13] == UInt8(ascii: ":"), let mi = num(14, 2),
              b[16] == UInt8(ascii: ":"), let sec = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, sec < 61 else { return nil }
        var t = tm()
        t.tm_year = Int32(y - 1900); t.tm_mon = Int32(mo - 1); t.tm_mday = Int32(d); t.tm_hour = Int32(h); t.tm_min = Int32(mi); t.tm_sec = Int32(sec)
        var i = 19
        if i < b.count, b[i] == UInt8(ascii: ".") { i += 1; while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 } }   // fractions: the second holds
        if i == b.count {
            t.tm_isdst = -1
            return .at(Int64(mktime(&t)))
        }
        if b[i] == UInt8(ascii: "Z") && i + 1 == b.count { return .at(Int64(timegm(&t))) }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let oh = num(i + 1, 2) else { return nil }
        var om = 0
        if i + 3 < b.count {
            let j = b[i + 3] == UInt8(ascii: ":") ? i + 4 : i + 3
            guard let m = num(j, 2), j + 2 == b.count else { return nil }
            om = m
        } else if i + 3 != b.count { return nil }
        let off = Int64(oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        return .at(Int64(timegm(&t)) - off)
    }

    /// What can be restored: spans of seconds, each from one starting dataset.
    public struct Window: Sendable {
        public var start: Int64
        public var end: Int64
        /// Without #TS annotations only these seconds are exact (the ends of increments).
        public var points: [Int64]?
        public var description: String
        public var plan: Plan
    }

    /// The files to read for one window.
    public struct Plan: Sendable {
        public struct Part: Sendable {
            public var path: String
            public var name: String
            /// CRC-64 the repository recorded, checked before the file is used.
            public var crc64: String?
            public var size: Int?
            /// Byte offset where commands start (after an RDB preamble the AOF reader handles).
            public var isRDB: Bool
            /// (timeFrom, completeThrough] for repository increments.
            public var span: (Int64, Int64)?
            public var rdbChecksumVerified = false
        }
        public var base: Part?
        public var baseDescription: String
        public var baseTime: Int64
        public var parts: [Part]
        public var timestamps: Bool
    }

    // MARK: windows

    public static func windows(source: String) throws -> [Window] {
        var st = stat()
        guard stat(source, &st) == 0 else { throw BackupError(.failed, "\(source): \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR && access(source + "/FORMAT", F_OK) == 0 {
            let repo = try Repository(path: source, writable: false, create: false, lock: false)
            return repositoryWindows(repo)
        }
        return [try aofWindow(source)]
    }

    static func repositoryWindows(_ repo: Repository) -> [Window] {
        let cat = repo.catalog
        var out = [Window]()
        for c in cat.chains {
            guard let s = cat.snapshot(c.snapshot) else { continue }
            let base = s.file.map { Plan.Part(path: repo.path + "/" + $0, name: "snapshot \(s.id)", crc64: s.crc64, size: s.size, isRDB: true, span: nil,
                                              rdbChecksumVerified: s.rdbChecksum == "verified") }
            let parts = c.increments.map { i in
                Plan.Part(path: repo.path + "/" + i.file, name: "\(i.file) (\(i.sourceFile) bytes \(i.from)-\(i.to))", crc64: i.crc64, size: i.size,
                          isRDB: false, span: (i.timeFrom, i.completeThrough))
            }
            let plan = Plan(base: base, baseDescription: "snapshot \(s.id) (\(s.kind), data as of \(formatTime(s.time)))", baseTime: c.start,
                            parts: parts, timestamps: c.timestamps)
            var points: [Int64]?
            if !c.timestamps && !c.increments.isEmpty { points = [c.start] + c.increments.map(\.completeThrough) }
            out.append(Window(start: c.start, end: c.end, points: points, description: "chain \(c.id) of \(c.source)", plan: plan))
        }
        for s in cat.snapshots where s.chain == nil {
            guard let f = s.file else { continue }
            let base = Plan.Part(path: repo.path + "/" + f, name: "snapshot \(s.id)", crc64: s.crc64, size: s.size, isRDB: true, span: nil,
                                 rdbChecksumVerified: s.rdbChecksum == "verified")
            out.append(Window(start: s.time, end: s.time, points: nil, description: "snapshot \(s.id) of \(s.source)",
                              plan: Plan(base: base, baseDescription: "snapshot \(s.id) (\(s.kind), data as of \(formatTime(s.time)))", baseTime: s.time, parts: [], timestamps: true)))
        }
        return out.sorted { $0.start != $1.start ? $0.start < $1.start : $0.end < $1.end }
    }

    /// An appendonlydir (or a data directory holding one) or a single AOF file: one window from
    /// its base's time to the last write (the newest file's modification time).
    static func aofWindow(_ source: String) throws -> Window {
        let reader: AOFReader
        do { reader = try AOFReader(path: source) } catch { throw BackupError(.failed, "\(source): \(error)") }
        var parts = [Plan.Part]()
        var base: Plan.Part?
        var baseTime: Int64?
        var lastMtime: Int64 = 0
        var timestamps = false
        for p in reader.parts {
            var st = stat()
            if stat(p.path, &st) != 0 { throw BackupError(.failed, "\(p.path): \(String(cString: strerror(errno))) (listed in the manifest)") }
            lastMtime = max(lastMtime, Int64(st.st_mtim.tv_sec))
            let (fd, _) = try FileIO.openForReading(p.path)
            defer { close(fd) }
            var head = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &head, 64, 0)
            let isRDB = n >= 5 && (head.starts(with: Array("REDIS".utf8)) || head.starts(with: Array("VALKEY".utf8)))
            if isRDB {
                // Its time is its ctime aux field: when Redis forked for the rewrite.
                let s = try Ingest.checkRDB(fd: fd, size: nil, name: p.path, allowTail: true)
                if p.isBase { baseTime = s.ctime }
            } else if n > 4, head.starts(with: Array("#TS:".utf8)) {
                var v: Int64 = 0, i = 4
                while i < n, head[i] >= 48, head[i] <= 57 { v = v * 10 + Int64(head[i] - 48); i += 1 }
                if baseTime == nil { baseTime = v }
                timestamps = true
            }
            let part = Plan.Part(path: p.path, name: p.name, crc64: nil, size: nil, isRDB: isRDB, span: nil)
            if p.isBase { base = part } else { parts.append(part) }
        }
        // Any #TS in the incr files?
        if !timestamps {
            for p in parts {
                let (fd, size) = try FileIO.openForReading(p.path)
                defer { close(fd) }
                // The scan stops at the first annotation (any time is "later" than Int64.min).
                var sc = AOFScanner()
                sc.stopAfterTimestamp = Int64.min
                try AOFCheck.scan(fd, from: 0, &sc)
                if let t = sc.firstTimestamp { timestamps = true; if baseTime == nil { baseTime = t } }
            }
        }
        guard let start = baseTime else {
            throw BackupError(.failed, "\(source): no time can be placed on this data: the base has no ctime and no #TS: annotation appears (aof-timestamp-enabled yes writes them)")
        }
        let plan = Plan(base: base, baseDescription: base.map { "\($0.name) (data as of \(formatTime(start)))" } ?? "the empty dataset", baseTime: start,
                        parts: parts, timestamps: timestamps)
        return Window(start: start, end: max(start, lastMtime), points: timestamps ? nil : [max(start, lastMtime)],
                      description: source, plan: plan)
    }

    // MARK: choosing

    public static func choose(_ windows: [Window], _ target: Target, now: Int64) throws -> (Window, Int64) {
        guard !windows.isEmpty else { throw BackupError(.failed, "nothing to restore from: no snapshot and no chain") }
        let latest = windows.map(\.end).max()!
        let t: Int64
        switch target {
        case .latest: t = latest
        case .at(let v): t = v
        }
        if t > now { throw BackupError(.failed, "\(formatTime(t)) is in the future; the newest restorable point is \(formatTime(latest))") }
        // The newest starting point at or before t whose window reaches t.
        let covering = windows.filter { $0.start <= t && t <= $0.end }.sorted { $0.start > $1.start }
        guard let w = covering.first else {
            let before = windows.filter { $0.end < t }.map(\.end).max()
            let after = windows.filter { $0.start > t }.map(\.start).min()
            if before == nil, let after {
                throw BackupError(.failed, "\(formatTime(t)) is before the oldest restorable point, \(formatTime(after))")
            }
            if let before, after == nil {
                throw BackupError(.failed, "\(formatTime(t)) is after the newest restorable point, \(formatTime(before)) (nothing was archived after it)")
            }
            throw BackupError(.failed, "\(formatTime(t)) falls in a gap: restorable up to \(formatTime(before!)) and again from \(formatTime(after!))")
        }
        if let pts = w.points, !pts.contains(t) {
            let lo = pts.filter { $0 <= t }.max(), hi = pts.filter { $0 >= t }.min()
            throw BackupError(.failed, "\(w.description) has no #TS: annotations, so only the ends of its increments are exact; nearest restorable points: \([lo, hi].compactMap { $0 }.map { formatTime($0) }.joined(separator: " and "))")
        }
        return (w, t)
    }

    // MARK: replay

    public struct Options: Sendable {
        public var match: [[UInt8]] = []
        /// Shift each TTL so the time it had left at the target starts counting now.
        public var ttlFromNow = false
        public var allowPartial = false
        public var now: Int64 = nowMilliseconds()
        public init() {}
    }

    public struct Report: Sendable {
        public var window = ""
        public var base = ""
        public var target: Int64 = 0
        /// The second of the last command applied (the base's time when none was).
        public var reached: Int64 = 0
        public var commands = 0
        public var files: [(name: String, commands: Int)] = []
        public var keys = 0
        public var expiredAtTarget = 0
        public var filteredOut = 0
        /// With allowPartial: where replay stopped on damage.
        public var stoppedAt: String?
        public var functions: [[UInt8]] = []
    }

    /// Loads the window's base and its commands up to `t` into `engine` (whose clock is moved to
    /// each command's second while replaying), judges expiry at the end of second `t`, and
    /// applies the key filter and TTL shift.
    public static func replay(_ w: Window, to t: Int64, into engine: Engine, options: Options) throws -> Report {
        var r = Report()
        r.window = w.description
        r.base = w.plan.baseDescription
        r.target = t
        r.reached = w.plan.baseTime
        var clockMs = w.plan.baseTime * 1000
        let saved = engine.clock
        engine.clock = { clockMs }
        defer { engine.clock = saved }
        let replay = AOFReplay(engine: engine)
        func check(_ p: Plan.Part) throws {
            guard let want = p.crc64 else { return }
            if let size = p.size, FileIO.fileSize(p.path) != size {
                throw BackupError(.damaged, "\(p.name): \(FileIO.fileSize(p.path)) bytes, the catalog recorded \(size)")
            }
            // A snapshot whose RDB checksum was verified when stored is checked by the reader as
            // it loads (the file's CRC-64 follows from it): no separate pass.
            if p.rdbChecksumVerified { return }
            let got = try crcOfFile(p.path)
            if hex64(got) != want { throw BackupError(.damaged, "\(p.name): its CRC-64 does not match the catalog's (damaged)") }
        }
        func feed(_ p: Plan.Part, stopAfter: Int64?) throws -> Bool {
            let reader: AOFReader
            do { reader = try AOFReader(path: p.path) } catch { throw BackupError(.failed, "\(p.name): \(error)") }
            var n = 0
            defer { if n > 0 { r.files.append((p.name, n)) } }
            do {
                while let item = try reader.next() {
                    if case .command(_, let ts, _, _) = item, let ts {
                        if let stop = stopAfter, ts > stop { return false }
                        clockMs = ts * 1000
                        r.reached = max(r.reached, ts)
                    }
                    if case .command = item { n += 1 }
                    try replay.apply(item)
                }
            } catch let e as AOFReplay.ReplayError {
                throw BackupError(.damaged, "\(p.name): \(e.description)")
            } catch let e as FormatError {
                throw BackupError(.damaged, "\(p.name): \(e.description)")
            }
            return true
        }
        var more = true
        if let b = w.plan.base {
            // A single AOF file is its own base: its commands stop at t too.
            try check(b)
            more = try feed(b, stopAfter: w.plan.timestamps ? t : nil)
        }
        partLoop: for p in w.plan.parts where more {
            // An increment holds only commands after its span's start: one starting at or after
            // t (and, without #TS, one ending after t) is not needed, and is not even read.
            if let span = p.span, span.0 >= t || (!w.plan.timestamps && span.1 > t) { break }
            do {
                try check(p)
                if !(try feed(p, stopAfter: w.plan.timestamps ? t : nil)) { break partLoop }
            } catch let e as BackupError where e.kind == .damaged {
                guard options.allowPartial else {
                    throw BackupError(.damaged, "\(e.description); refusing to restore past it (--allow-partial restores up to the damage)")
                }
                r.stoppedAt = "\(e.description): stopped before this file; data restored up to \(formatTime(r.reached))"
                break partLoop
            }
            if let span = p.span, !w.plan.timestamps { r.reached = max(r.reached, span.1) }
        }
        replay.finish()
        r.commands = replay.commands
        r.functions = replay.functions.map(\.code)
        // Expiry as of the end of second t (the moment "at t" means: after its last command);
        // then the filter and the TTL shift, measured from that same moment.
        let cutoff = (t + 1) * 1000
        for db in engine.databases where db.count > 0 {
            var drop = [[UInt8]]()
            db.expires.forEach { k, when in if when < cutoff { drop.append(k) } }
            for k in drop { engine.delete(db, k) }
            r.expiredAtTarget += drop.count
            if !options.match.isEmpty {
                var out = [[UInt8]]()
                db.dict.forEach { k, _ in if !options.match.contains(where: { Glob.matches($0, k) }) { out.append(k) } }
                for k in out { engine.delete(db, k) }
                r.filteredOut += out.count
            }
            if options.ttlFromNow {
                var shifted = [([UInt8], Int64)]()
                db.expires.forEach { k, when in shifted.append((k, options.now + (when - cutoff))) }
                for (k, v) in shifted { engine.setExpire(db, k, v) }
            }
            r.keys += db.count
        }
        return r
    }

    // MARK: output

    public enum Format: String, Sendable { case rdb, aof }

    /// Writes the engine's dataset as a data directory both redis-server and strata serve start
    /// from: `dump.rdb`, or (aof) an appendonlydir with a base, an empty incr and a manifest plus
    /// the same `dump.rdb` for servers started with appendonly no. Built beside OUTDIR and renamed
    /// into place whole; an existing non-empty OUTDIR is refused unless `force`.
    public static func write(_ engine: Engine, functions: [[UInt8]], to outDir: String, format: Format, force: Bool) throws {
        let parent = AtomicFile.directory(of: outDir)
        let name = outDir.split(separator: "/").last.map(String.init) ?? outDir
        let tmp = parent + "/.\(name).strata-restore-\(getpid())"
        let old = parent + "/.\(name).strata-old-\(getpid())"
        try checkOutDir(outDir, force: force)
        removeTree(tmp)
        guard mkdir(tmp, 0o755) == 0 else { throw BackupError(.failed, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var done = false
        defer { if !done { removeTree(tmp) } }
        func rdb(_ path: String, aux: [([UInt8], [UInt8])]) throws {
            let f = try AtomicFile(path: path)
            do {
                let sink = ByteSink(fileDescriptor: f.fd)
                let writer = RDBWriter(sink: sink, target: Engine.dumpTarget)
                try engine.save(to: writer, functions: functions, aux: aux)
                try sink.flush()
                try f.commit()
            } catch { f.abandon(); throw BackupError(.failed, "cannot write \(path): \(error)") }
        }
        try rdb(tmp + "/dump.rdb", aux: [])
        if format == .aof {
            let dir = tmp + "/appendonlydir"
            guard mkdir(dir, 0o755) == 0 else { throw BackupError(.failed, "cannot create \(dir): \(String(cString: strerror(errno)))") }
            try rdb(dir + "/appendonly.aof.1.base.rdb", aux: [(Array("aof-base".utf8), Array("1".utf8))])
            let incr = try AtomicFile(path: dir + "/appendonly.aof.1.incr.aof")
            try incr.commit()
            let m = try AtomicFile(path: dir + "/appendonly.aof.manifest")
            do {
                let text = Array("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n".utf8)
                try text.withUnsafeBytes { try FileIO.writeAll(m.fd, $0) }
                try m.commit()
            } catch { m.abandon(); throw error }
        }
        var st = stat()
        if stat(outDir, &st) == 0 {
            // An empty directory is replaced by rename; a non-empty one (with force) is moved aside first.
            if Glibc.rename(tmp, outDir) != 0 {
                guard force else { throw BackupError(.failed, "cannot replace \(outDir): \(String(cString: strerror(errno)))") }
                guard Glibc.rename(outDir, old) == 0 else { throw BackupError(.failed, "cannot move \(outDir) aside: \(String(cString: strerror(errno)))") }
                guard Glibc.rename(tmp, outDir) == 0 else {
                    let e = errno; _ = Glibc.rename(old, outDir)
                    throw BackupError(.failed, "cannot rename into \(outDir): \(String(cString: strerror(e)))")
                }
                removeTree(old)
            }
        } else if Glibc.rename(tmp, outDir) != 0 {
            throw BackupError(.failed, "cannot create \(outDir): \(String(cString: strerror(errno)))")
        }
        done = true
        let dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Refuses a non-empty OUTDIR without force, and an OUTDIR that is a file.
    public static func checkOutDir(_ outDir: String, force: Bool) throws {
        var st = stat()
        guard stat(outDir, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw BackupError(.failed, "\(outDir) exists and is not a directory") }
        let names = (try? AOFCheck.listDirectory(outDir)) ?? []
        if !names.isEmpty && !force { throw BackupError(.failed, "\(outDir) is not empty; refusing to replace it (--force replaces it)") }
    }

    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for n in (try? AOFCheck.listDirectory(path)) ?? [] { removeTree(path + "/" + n) }
            rmdir(path)
        } else { unlink(path) }
    }
}
