#if canImport(Glibc)
import Glibc
#endif

/// Cutting an append-only file back to a valid prefix (`--fix`) or to a point in time
/// (`--truncate-to-timestamp`), without ever losing the original: every file changed is first
/// hard-linked (or copied) to `<name>.strata-orig-<UTC time>`, the shortened file is written to
/// a temporary file and renamed over the original, and incr files after the cut are removed from
/// the manifest and renamed `<name>.strata-dropped-<UTC time>` (so a later Redis cannot reuse
/// their sequence numbers and overwrite them). The manifest is rewritten before any file is cut,
/// so a crash part-way leaves a consistent (if less shortened) AOF.
public enum AOFRepair {
    public struct Plan: Sendable {
        /// Index into `AOFCheck.files` of the file that is cut, and the new length.
        public var file: Int
        public var cutAt: Int
        /// Later incr files removed from the manifest.
        public var dropped: [Int]
        public var bytesLost: Int
        public var commandsLost: Int
        public var why: String
    }

    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
        /// True when the user can still get the cut by asking for it (`--cut-damaged`).
        public let needsExplicitCut: Bool
        init(_ s: String, explicit: Bool = false) { description = s; needsExplicitCut = explicit }
    }

    /// The cut `--fix` makes: the valid prefix of the first damaged file. A damaged tail of the
    /// last file is cut; damage with readable commands after it, or in a file that other files
    /// follow, only when `cutDamaged`.
    public static func planFix(_ c: AOFCheck, cutDamaged: Bool) throws(Refusal) -> Plan? {
        guard let i = c.firstDamaged else { return nil }
        let f = c.files[i]
        if f.damage == .rdb {
            throw Refusal("the RDB part of \(f.name) is damaged at byte offset \(f.errorOffset ?? 0) (\(f.message ?? "")); cutting cannot repair an RDB, try `strata rdb salvage`")
        }
        let last = i == c.files.count - 1
        let dropped = Array((i + 1)..<c.files.count)
        var plan = Plan(file: i, cutAt: f.okUpTo, dropped: dropped,
                        bytesLost: f.size - f.okUpTo + dropped.reduce(0) { $0 + c.files[$1].size },
                        commandsLost: f.commandsAfterDamage + dropped.reduce(0) { $0 + c.files[$1].commands },
                        why: f.damage!.rawValue)
        if !last || f.damage == .corruptMiddle {
            guard cutDamaged else {
                var what = "\(f.name) is damaged at byte offset \(f.okUpTo)"
                if f.damage == .corruptMiddle, let r = f.resumesAt {
                    what += " and \(f.commandsAfterDamage) readable command(s) follow from offset \(r)"
                }
                if !last { what += "; \(dropped.count) later file(s) (\(dropped.map { c.files[$0].name }.joined(separator: ", "))) would have to be dropped" }
                throw Refusal("\(what). Cutting there loses \(plan.bytesLost) bytes (\(plan.commandsLost) commands); rerun with --fix --cut-damaged to do it anyway", explicit: true)
            }
            plan.why += last ? " (cut explicitly)" : " (cut explicitly; later files dropped)"
        }
        return plan
    }

    /// The cut `--truncate-to-timestamp T` makes: at the first `#TS:` later than T, in any file;
    /// later incr files are dropped. Nil when nothing is later than T.
    public static func planTimestamp(_ c: AOFCheck, _ t: Int64) throws(Refusal) -> Plan? {
        if let base = c.files.first(where: { $0.isBase }), let ct = base.rdbCtime, ct > t {
            throw Refusal("nothing before timestamp \(t): the base \(base.name) holds the dataset as of \(ct); the oldest point to cut to is \(ct)")
        }
        guard let i = c.files.firstIndex(where: { $0.timestampCut != nil }) else {
            if c.files.allSatisfy({ $0.firstTimestamp == nil }) {
                throw Refusal("no #TS: annotations in this AOF (it was written with aof-timestamp-enabled no), so it cannot be cut by time")
            }
            if let d = c.firstDamaged { throw Refusal("\(c.files[d].name) is damaged at byte offset \(c.files[d].okUpTo) before any timestamp later than \(t); run --fix first") }
            return nil
        }
        if let d = c.firstDamaged, d < i || (d == i && c.files[d].okUpTo < c.files[i].timestampCut!) {
            throw Refusal("\(c.files[d].name) is damaged at byte offset \(c.files[d].okUpTo), before the cut point; run --fix first")
        }
        let f = c.files[i]
        let cut = f.timestampCut!
        if cut == f.commandsStart && f.isBase && f.commandsStart == 0 {
            throw Refusal("\(f.name) has nothing before timestamp \(t) (its first timestamp is \(f.timestampCutValue!))")
        }
        let dropped = Array((i + 1)..<c.files.count)
        return Plan(file: i, cutAt: cut, dropped: dropped,
                    bytesLost: f.size - cut + dropped.reduce(0) { $0 + c.files[$1].size },
                    commandsLost: -1, why: "first timestamp after \(t) is \(f.timestampCutValue!)")
    }

    public struct Kept: Sendable { public var original: String; public var keptAs: String }

    static func utcStamp() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func p(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(tmv.tm_year + 1900, 4))\(p(tmv.tm_mon + 1, 2))\(p(tmv.tm_mday, 2))T\(p(tmv.tm_hour, 2))\(p(tmv.tm_min, 2))\(p(tmv.tm_sec, 2))Z"
    }

    static func freeName(_ base: String) -> String {
        var name = base, n = 1
        var st = stat()
        while lstat(name, &st) == 0 { n += 1; name = "\(base)-\(n)" }
        return name
    }

    /// Keeps `path` under a new name: a hard link, or a copy where links are not possible.
    static func keep(_ path: String, as name: String) throws {
        if link(path, name) == 0 { return }
        var st = stat()
        guard stat(path, &st) == 0 else { throw SystemError("stat \(path)") }
        try writeAtomically(name, mode: st.st_mode & 0o7777, firstBytesOf: path, count: Int(st.st_size))
    }

    /// Writes the first `count` bytes of `source` to `path` through an AtomicFile, 4 MB at a
    /// time (never the whole file in memory).
    static func writeAtomically(_ path: String, mode: mode_t, firstBytesOf source: String, count: Int) throws {
        let out = try AtomicFile(path: path, mode: mode)
        do {
            let (fd, _) = try FileIO.openForReading(source)
            defer { close(fd) }
            let cap = 4 << 20
            let buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
            defer { buf.deallocate() }
            var at = 0
            while at < count {
                let n = pread(fd, buf, min(cap, count - at), off_t(at))
                if n < 0 { if errno == EINTR { continue }; throw SystemError("read \(source)") }
                if n == 0 { throw SystemError(message: "\(source) ended at byte \(at), before byte \(count)") }
                try FileIO.writeAll(out.fd, UnsafeRawBufferPointer(start: buf, count: n))
                at += n
            }
            try out.commit()
        } catch { out.abandon(); throw error }
    }

    static func syncDirectory(_ path: String) {
        let dfd = open(AtomicFile.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Carries out a plan. Returns the originals kept and the files dropped.
    public static func apply(_ plan: Plan, to c: AOFCheck) throws -> (kept: [Kept], dropped: [Kept]) {
        let stamp = utcStamp()
        let f = c.files[plan.file]
        var kept = [Kept]()
        var dropped = [Kept]()
        // 1. Keep the originals of everything that changes.
        let keptFile = freeName("\(f.path).strata-orig-\(stamp)")
        try keep(f.path, as: keptFile)
        kept.append(Kept(original: f.path, keptAs: keptFile))
        if !plan.dropped.isEmpty, let mpath = c.manifestPath, var m = c.manifest {
            let keptManifest = freeName("\(mpath).strata-orig-\(stamp)")
            try keep(mpath, as: keptManifest)
            kept.append(Kept(original: mpath, keptAs: keptManifest))
            syncDirectory(f.path)
            // 2. The manifest without the dropped incr files.
            let names = Set(plan.dropped.map { Array(c.files[$0].name.utf8) })
            m.entries.removeAll { $0.type == .incr && names.contains($0.file) }
            let out = try AtomicFile(path: mpath)
            do { try m.serialized().withUnsafeBytes { try FileIO.writeAll(out.fd, $0) }; try out.commit() } catch { out.abandon(); throw error }
        }
        // 3. The shortened file, written beside the original and renamed over it.
        var st = stat()
        guard stat(f.path, &st) == 0 else { throw SystemError("stat \(f.path)") }
        try writeAtomically(f.path, mode: st.st_mode & 0o7777, firstBytesOf: keptFile, count: plan.cutAt)
        // 4. Dropped files out of Redis's way.
        for d in plan.dropped {
            let p = c.files[d].path
            let name = freeName("\(p).strata-dropped-\(stamp)")
            if rename(p, name) != 0 { throw SystemError("rename \(p)") }
            dropped.append(Kept(original: p, keptAs: name))
        }
        syncDirectory(f.path)
        return (kept, dropped)
    }
}
