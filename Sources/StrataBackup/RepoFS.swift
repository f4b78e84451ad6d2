#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// Every change a backup run makes to the disk goes through this seam: file creation, writes,
/// fsync, rename, directory fsync, unlink, link, mkdir. It is where the tests inject faults
/// and kill points, through two environment variables read once per process:
///
/// - `STRATA_BACKUP_FAULT=op:n:ERRNO[,...]`: the n-th `op` (create, write, fsync, rename,
///   fsyncdir, unlink, link, mkdir, truncate) fails with ERRNO (ENOSPC, EIO, EXDEV, EACCES,
///   EROFS or a number), as the disk would.
/// - `STRATA_BACKUP_CRASH_AT=n`: the process kills itself with SIGKILL just before its n-th
///   step, which is what `kill -9` at that instant does. `STRATA_BACKUP_COUNT_STEPS=1` prints
///   the number of steps a run took on stderr at exit, so a test can walk every point.
public final class RepoFS: @unchecked Sendable {
    public enum Op: String, CaseIterable, Sendable {
        case create, write, fsync, rename, fsyncdir, unlink, link, mkdir, truncate
    }

    public static let shared = RepoFS(environment: RepoFS.readEnvironment())

    public private(set) var steps = 0
    private var counts: [Op: Int] = [:]
    private let crashAt: Int?
    private let faults: [(op: Op, n: Int, code: Int32)]
    public let countSteps: Bool

    static func readEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        for k in ["STRATA_BACKUP_FAULT", "STRATA_BACKUP_CRASH_AT", "STRATA_BACKUP_COUNT_STEPS"] {
            if let v = getenv(k) { env[k] = String(cString: v) }
        }
        return env
    }

    public init(environment env: [String: String]) {
        crashAt = env["STRATA_BACKUP_CRASH_AT"].flatMap { Int($0) }
        countSteps = env["STRATA_BACKUP_COUNT_STEPS"] == "1"
        var fs: [(Op, Int, Int32)] = []
        for spec in (env["STRATA_BACKUP_FAULT"] ?? "").split(separator: ",") {
            let p = spec.split(separator: ":").map(String.init)
            guard p.count == 3, let op = Op(rawValue: p[0]), let n = Int(p[1]) else { continue }
            let names: [String: Int32] = ["ENOSPC": ENOSPC, "EIO": EIO, "EXDEV": EXDEV, "EACCES": EACCES, "EROFS": EROFS, "EDQUOT": EDQUOT]
            guard let code = names[p[2]] ?? Int32(p[2]) else { continue }
            fs.append((op, n, code))
        }
        faults = fs
    }

    /// One step: the kill point, then the fault point.
    private func step(_ op: Op) -> Int32? {
        steps += 1
        if let c = crashAt, steps == c { kill(getpid(), SIGKILL) }
        counts[op, default: 0] += 1
        let n = counts[op]!
        return faults.first(where: { $0.op == op && $0.n == n })?.code
    }

    public func create(_ path: String, mode: mode_t = 0o600) throws -> Int32 {
        if let e = step(.create) { throw SystemError("cannot create \(path)", errno: e) }
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) } while fd < 0 && errno == EINTR
        if fd < 0 { throw SystemError("cannot create \(path)") }
        return fd
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        if let e = step(.write) { throw SystemError("cannot write \(path)", errno: e) }
        do { try FileIO.writeAll(fd, bytes) } catch { throw SystemError("cannot write \(path)") }
    }

    public func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try write(fd, $0, path: path) }
    }

    /// A write the kernel does for us (copy_file_range): the same kill and fault point.
    public func noteWrite(path: String) throws {
        if let e = step(.write) { throw SystemError("cannot write \(path)", errno: e) }
    }

    public func truncate(_ fd: Int32, to length: Int, path: String) throws {
        if let e = step(.truncate) { throw SystemError("cannot truncate \(path)", errno: e) }
        if ftruncate(fd, off_t(length)) != 0 { throw SystemError("cannot truncate \(path)") }
    }

    public func fsync(_ fd: Int32, path: String) throws {
        if let e = step(.fsync) { throw SystemError("fsync \(path)", errno: e) }
        if Glibc.fsync(fd) != 0 { throw SystemError("fsync \(path)") }
    }

    public func rename(_ from: String, _ to: String) throws {
        if let e = step(.rename) { throw SystemError("cannot rename \(from) to \(to)", errno: e) }
        if Glibc.rename(from, to) != 0 { throw SystemError("cannot rename \(from) to \(to)") }
    }

    public func fsyncDirectory(_ path: String) throws {
        if let e = step(.fsyncdir) { throw SystemError("fsync of directory \(path)", errno: e) }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemError("cannot open directory \(path)") }
        defer { close(fd) }
        if Glibc.fsync(fd) != 0 { throw SystemError("fsync of directory \(path)") }
    }

    public func unlink(_ path: String) throws {
        if let e = step(.unlink) { throw SystemError("cannot remove \(path)", errno: e) }
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw SystemError("cannot remove \(path)") }
    }

    public func removeDirectory(_ path: String) throws {
        if let e = step(.unlink) { throw SystemError("cannot remove \(path)", errno: e) }
        if rmdir(path) != 0 && errno != ENOENT { throw SystemError("cannot remove \(path)") }
    }

    /// A hard link; returns false (without throwing) when the two paths are on different file
    /// systems or the file system has no hard links.
    public func link(_ from: String, _ to: String) throws -> Bool {
        if let e = step(.link) { throw SystemError("cannot link \(from) to \(to)", errno: e) }
        if Glibc.link(from, to) == 0 { return true }
        if errno == EXDEV || errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK { return false }
        throw SystemError("cannot link \(from) to \(to)")
    }

    public func mkdir(_ path: String, mode: mode_t = 0o700) throws {
        if let e = step(.mkdir) { throw SystemError("cannot create directory \(path)", errno: e) }
        if Glibc.mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError("cannot create directory \(path)") }
    }

    /// Writes `bytes` to `path` whole or not at all: `tmpDir`/name, fsync, rename, fsync(dir).
    public func writeAtomically(_ bytes: [UInt8], to path: String, tmpDir: String, mode: mode_t = 0o600) throws {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let tmp = "\(tmpDir)/\(name).\(getpid()).tmp"
        let fd = try create(tmp, mode: mode)
        do {
            try write(fd, bytes, path: tmp)
            try fsync(fd, path: tmp)
            close(fd)
        } catch {
            close(fd); Glibc.unlink(tmp); throw error
        }
        try publish(tmp, as: path)
    }

    /// Renames a finished (fsynced) temporary file into place and makes the rename durable.
    /// `removeOnFailure`: a data file whose directory cannot be synced is taken back out (the
    /// catalog is not: the renamed catalog is whole, and the old one is gone).
    public func publish(_ tmp: String, as path: String, removeOnFailure: Bool = false) throws {
        do { try rename(tmp, path) } catch { Glibc.unlink(tmp); throw error }
        do { try fsyncDirectory(AtomicFile.directory(of: path)) } catch {
            if removeOnFailure { Glibc.unlink(path) }
            throw error
        }
    }
}
