#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// An error with the exit status the CLI documents.
public struct BackupError: Error, CustomStringConvertible {
    public enum Kind: Int32, Sendable {
        case failed = 1, usage = 2, locked = 3, damaged = 4, notRepository = 5
    }
    public let kind: Kind
    public let description: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; description = message }
}

/// A backup repository on disk:
///
/// ```
/// REPO/FORMAT               "strata-backup-repository 1": what this directory is, and its version
/// REPO/catalog.json         the commit point (checksummed), written last
/// REPO/catalog.json.copy    the same, written after it (pgBackRest's .copy)
/// REPO/lock                 flock()ed by every run (0600)
/// REPO/snapshots/ID.rdb     snapshots
/// REPO/chains/ID/N.aof      AOF increments of a chain
/// REPO/pins/                hard links that keep a source's live AOF file readable after Redis deletes it
/// REPO/tmp/                 files being written; whatever is here at the start of a run is a leftover
/// ```
public final class Repository {
    public let path: String
    public let fs: RepoFS
    public private(set) var catalog: Catalog
    /// Problems found while opening (a damaged or stale catalog copy), for verify to report.
    public private(set) var catalogNotes: [String] = []
    private var lockFD: Int32 = -1
    public let writable: Bool

    public static let formatLine = "strata-backup-repository 1\n"

    public var tmpDir: String { path + "/tmp" }
    public var catalogPath: String { path + "/catalog.json" }
    public var copyPath: String { path + "/catalog.json.copy" }

    /// Opens (and with `create`, initialises) the repository, taking its lock: exclusive for a
    /// run that writes, shared for one that reads. `wait`: seconds to wait for the lock.
    public init(path: String, writable: Bool, create: Bool, wait: Double = 0, lock: Bool = true, fs: RepoFS = .shared) throws {
        self.path = path
        self.fs = fs
        self.writable = writable
        catalog = Catalog()
        var st = stat()
        let exists = stat(path, &st) == 0
        if exists && (st.st_mode & S_IFMT) != S_IFDIR {
            throw BackupError(.notRepository, "\(path) is not a directory, so it is not a backup repository")
        }
        if !exists {
            guard create else { throw BackupError(.notRepository, "\(path) does not exist (no backup repository there)") }
            try fs.mkdir(path)
        }
        let hasFormat = access(path + "/FORMAT", F_OK) == 0
        if !hasFormat {
            // Empty, or what an initialisation killed before FORMAT was written leaves behind.
            let names = (try? AOFCheck.listDirectory(path)) ?? []
            let initNames: Set<String> = ["lock", "tmp", "snapshots", "chains", "pins", "catalog.json", "catalog.json.copy"]
            let onlyInit = names.allSatisfy { initNames.contains($0) }
                && ["snapshots", "chains", "pins"].allSatisfy { ((try? AOFCheck.listDirectory(path + "/" + $0)) ?? []).isEmpty }
            guard create, onlyInit else {
                throw BackupError(.notRepository, names.isEmpty
                    ? "\(path) is empty: no backup repository there yet (strata backup create makes one)"
                    : "\(path) is not a strata backup repository (no FORMAT file) and is not empty; refusing to use it")
            }
        }
        if lock || writable { try takeLock(exclusive: writable, wait: wait) }
        if !hasFormat {
            // Initialise: directories, an empty catalog (twice), FORMAT last.
            for d in ["tmp", "snapshots", "chains", "pins"] { try fs.mkdir(path + "/" + d) }
            for name in (try? AOFCheck.listDirectory(tmpDir)) ?? [] { unlink(tmpDir + "/" + name) }
            try fs.fsyncDirectory(path)
            let empty = try Catalog().encoded()
            try fs.writeAtomically(empty, to: catalogPath, tmpDir: tmpDir)
            try fs.writeAtomically(empty, to: copyPath, tmpDir: tmpDir)
            try fs.writeAtomically(Array(Repository.formatLine.utf8), to: path + "/FORMAT", tmpDir: tmpDir, mode: 0o644)
        }
        try checkFormat()
        catalog = try loadCatalog()
        if writable { try cleanLeftovers() }
    }

    deinit { if lockFD >= 0 { close(lockFD) } }

    private func takeLock(exclusive: Bool, wait: Double) throws {
        let lp = path + "/lock"
        var fd: Int32
        repeat { fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) } while fd < 0 && errno == EINTR
        if fd < 0 && !exclusive && (errno == EACCES || errno == EROFS) {
            fd = open(lp, O_RDONLY | O_CLOEXEC)   // a read-only repository can still be listed
        }
        if fd < 0 { throw BackupError(.failed, "cannot open the lock file \(lp): \(String(cString: strerror(errno)))") }
        let deadline = monotonicSeconds() + wait
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            guard errno == EWOULDBLOCK else {
                let e = errno; close(fd)
                throw BackupError(.failed, "cannot lock \(lp): \(String(cString: strerror(e)))")
            }
            if monotonicSeconds() >= deadline {
                var holder = ""
                var buf = [UInt8](repeating: 0, count: 64)
                let n = pread(fd, &buf, 64, 0)
                if n > 0, let pid = Int(String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n").first ?? "") { holder = " (pid \(pid))" }
                close(fd)
                throw BackupError(.locked, "repository \(path) is locked by another strata backup run\(holder)\(wait > 0 ? "; gave up after \(Int(wait)) s" : "; use --wait SECONDS to wait for it")")
            }
            usleep(50_000)
        }
        if exclusive {
            let pid = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        lockFD = fd
    }

    private func checkFormat() throws {
        let bytes: [UInt8]
        do { bytes = try FileIO.readFile(path + "/FORMAT") } catch {
            throw BackupError(.notRepository, "\(path)/FORMAT cannot be read: \(error)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, parts[0] == "strata-backup-repository", let v = Int(parts[1]) else {
            throw BackupError(.notRepository, "\(path)/FORMAT does not name a strata backup repository")
        }
        if v > Catalog.formatVersion {
            throw BackupError(.notRepository, "\(path) is a repository of format \(v), written by a newer strata; this strata reads format \(Catalog.formatVersion) and will not touch it")
        }
    }

    /// catalog.json, or its copy when the main file is damaged or older.
    private func loadCatalog() throws -> Catalog {
        func read(_ p: String) -> (Catalog?, String?) {
            guard let b = try? FileIO.readFile(p) else { return (nil, "missing") }
            do { return (try Catalog.decode(b), nil) } catch Catalog.DecodeError.newer(let v) {
                return (nil, "newer:\(v)")
            } catch Catalog.DecodeError.damaged(let why) { return (nil, why) } catch { return (nil, "\(error)") }
        }
        let (main, mainWhy) = read(catalogPath)
        let (copy, copyWhy) = read(copyPath)
        for why in [mainWhy, copyWhy] {
            if let w = why, w.hasPrefix("newer:") {
                throw BackupError(.notRepository, "\(path): the catalog is of format \(w.dropFirst(6)), written by a newer strata; refusing to use it")
            }
        }
        switch (main, copy) {
        case let (m?, c?):
            if m.generation < c.generation {
                catalogNotes.append("catalog.json (generation \(m.generation)) is older than catalog.json.copy (\(c.generation)); the copy is used")
                return c
            }
            if m != c {
                catalogNotes.append("catalog.json.copy is at generation \(c.generation), catalog.json at \(m.generation) (a run stopped between the two writes; the next run rewrites the copy)")
            }
            return m
        case let (m?, nil):
            catalogNotes.append("DAMAGED: catalog.json.copy: \(copyWhy ?? "?") (catalog.json is intact and is used)")
            return m
        case let (nil, c?):
            catalogNotes.append("DAMAGED: catalog.json: \(mainWhy ?? "?"); catalog.json.copy (generation \(c.generation)) is used")
            return c
        case (nil, nil):
            throw BackupError(.damaged, "\(path): catalog.json (\(mainWhy ?? "?")) and catalog.json.copy (\(copyWhy ?? "?")) are both unreadable")
        }
    }

    /// Makes `new` the repository's state: catalog.json, then catalog.json.copy, each atomic.
    public func commit(_ new: Catalog) throws {
        precondition(writable)
        var c = new
        c.generation = max(catalog.generation, new.generation) + 1
        let bytes = try c.encoded()
        try fs.writeAtomically(bytes, to: catalogPath, tmpDir: tmpDir)
        catalog = c
        do { try fs.writeAtomically(bytes, to: copyPath, tmpDir: tmpDir) } catch {
            throw BackupError(.failed, "the catalog was committed (the backup is complete) but its copy catalog.json.copy could not be written: \(error); the next run rewrites it")
        }
    }

    /// Every file of the repository the catalog names.
    public func referencedFiles(_ c: Catalog) -> Set<String> {
        var s = Set<String>()
        for sn in c.snapshots { if let f = sn.file { s.insert(f) } }
        for ch in c.chains { for i in ch.increments { s.insert(i.file) } }
        for st in c.sources.values { for t in st.files { if let p = t.pin { s.insert(p) } } }
        return s
    }

    /// Files no commit made part of the repository (tmp/, and files of a run killed between
    /// their rename and the catalog commit, or of a prune killed after its commit).
    public func leftovers() -> [String] {
        let refs = referencedFiles(catalog)
        var out = [String]()
        for name in (try? AOFCheck.listDirectory(tmpDir)) ?? [] { out.append("tmp/" + name) }
        for name in (try? AOFCheck.listDirectory(path + "/snapshots")) ?? [] where !refs.contains("snapshots/" + name) {
            out.append("snapshots/" + name)
        }
        for name in (try? AOFCheck.listDirectory(path + "/pins")) ?? [] where !refs.contains("pins/" + name) {
            out.append("pins/" + name)
        }
        let chainIDs = Set(catalog.chains.map(\.id))
        for d in (try? AOFCheck.listDirectory(path + "/chains")) ?? [] {
            let files = (try? AOFCheck.listDirectory(path + "/chains/" + d)) ?? []
            for f in files where !refs.contains("chains/\(d)/\(f)") { out.append("chains/\(d)/\(f)") }
            if !chainIDs.contains(d) { out.append("chains/\(d)/") }
        }
        return out.sorted()
    }

    private func cleanLeftovers() throws {
        // A catalog copy left behind by a run killed between the two writes.
        if catalogNotes.contains(where: { $0.contains("catalog.json.copy is at generation") || $0.contains("catalog.json (generation") || $0.hasPrefix("DAMAGED") }) {
            let bytes = try catalog.encoded()
            try fs.writeAtomically(bytes, to: catalogPath, tmpDir: tmpDir)
            try fs.writeAtomically(bytes, to: copyPath, tmpDir: tmpDir)
            catalogNotes.removeAll()
        }
        let left = leftovers()
        for l in left where !l.hasSuffix("/") { try fs.unlink(path + "/" + l) }
        for l in left where l.hasSuffix("/") { try fs.removeDirectory(path + "/" + String(l.dropLast())) }
    }

    /// A new identifier: the UTC time and a counter that keeps it unique in the catalog.
    public func newID(prefix: String, at ms: Int64, taken: Set<String>) -> String {
        let stamp = formatUTCCompact(ms / 1000)
        var n = 0
        while true {
            let id = n == 0 ? "\(prefix)\(stamp)" : "\(prefix)\(stamp)-\(n)"
            if !taken.contains(id) && access(path + "/snapshots/\(id).rdb", F_OK) != 0 && access(path + "/chains/\(id)", F_OK) != 0 { return id }
            n += 1
        }
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

public func nowMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// 20261124T224501Z
func formatUTCCompact(_ seconds: Int64) -> String {
    var t = time_t(seconds)
    var tm = Glibc.tm()
    gmtime_r(&t, &tm)
    func p(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
    return "\(p(tm.tm_year + 1900, 4))\(p(tm.tm_mon + 1, 2))\(p(tm.tm_mday, 2))T\(p(tm.tm_hour, 2))\(p(tm.tm_min, 2))\(p(tm.tm_sec, 2))Z"
}

/// ISO 8601 with the offset, in local time or UTC: 2026-11-24T22:45:01+01:00.
public func formatTime(_ seconds: Int64, utc: Bool = false) -> String {
    var t = time_t(seconds)
    var tm = Glibc.tm()
    if utc { gmtime_r(&t, &tm) } else { localtime_r(&t, &tm) }
    func p(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
    let off = utc ? 0 : tm.tm_gmtoff
    let sign = off < 0 ? "-" : "+"
    let a = abs(off)
    return "\(p(Int(tm.tm_year) + 1900, 4))-\(p(Int(tm.tm_mon) + 1, 2))-\(p(Int(tm.tm_mday), 2))T\(p(Int(tm.tm_hour), 2)):\(p(Int(tm.tm_min), 2)):\(p(Int(tm.tm_sec), 2))\(sign)\(p(a / 3600, 2)):\(p(a % 3600 / 60, 2))"
}
