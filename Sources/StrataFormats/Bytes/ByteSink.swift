#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered output to a file descriptor or to memory, feeding a CRC-64 with every byte written.
public final class ByteSink {
    private var buffer: [UInt8] = []
    private let fd: Int32
    private let flushThreshold: Int
    private var crc = CRC64()
    public var checksumming = true
    public private(set) var bytesWritten = 0
    /// Collected output when writing to memory.
    public private(set) var memory: [UInt8] = []

    /// Writes to `fileDescriptor` (owned by the caller).
    public init(fileDescriptor: Int32, bufferSize: Int = 1 << 20) {
        fd = fileDescriptor
        flushThreshold = bufferSize
        buffer.reserveCapacity(bufferSize + 64)
    }

    /// Collects output in memory (`memory`).
    public init() {
        fd = -1
        flushThreshold = 1 << 16
        buffer.reserveCapacity(flushThreshold + 64)
    }

    public var checksum: UInt64 {
        if checksumming { crc.update(buffer) }
        moveOut()
        return crc.value
    }

    public func setChecksumming(_ on: Bool) throws {
        try flush()
        checksumming = on
    }

    @inline(__always) public func write(_ b: UInt8) throws {
        buffer.append(b)
        if buffer.count >= flushThreshold { try flush() }
    }

    @inline(__always) public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func writeLE<T: FixedWidthInteger>(_ v: T) throws {
        try withUnsafeBytes(of: v.littleEndian) { try write($0) }
    }

    public func writeBE<T: FixedWidthInteger>(_ v: T) throws {
        try withUnsafeBytes(of: v.bigEndian) { try write($0) }
    }

    /// Hands buffered bytes to the file (or memory), updating the checksum first.
    public func flush() throws {
        if buffer.isEmpty { return }
        if checksumming { crc.update(buffer) }
        try moveOutThrowing()
    }

    private func moveOut() { try? moveOutThrowing() }

    private func moveOutThrowing() throws {
        if buffer.isEmpty { return }
        bytesWritten += buffer.count
        if fd < 0 {
            memory.append(contentsOf: buffer)
        } else {
            try buffer.withUnsafeBytes { try FileIO.writeAll(fd, $0) }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Errors from system calls, with the path and the call that failed.
public struct SystemError: Error, CustomStringConvertible {
    public let description: String
    public init(_ what: String, errno e: Int32 = errno) {
        description = "\(what): \(String(cString: strerror(e)))"
    }
    public init(message: String) { description = message }
}

/// The file-descriptor helpers every path that touches the disk goes through.
public enum FileIO {
    /// Writes every byte or throws; retries on EINTR and on short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let r = Glibc.write(fd, p, left)
            if r < 0 {
                if errno == EINTR { continue }
                throw SystemError("write")
            }
            p += r
            left -= r
        }
    }

    /// Opens a file for reading; returns the descriptor and its size when it is a regular file.
    public static func openForReading(_ path: String) throws -> (fd: Int32, size: Int?) {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 { throw SystemError("cannot open \(path)") }
        var st = stat()
        if fstat(fd, &st) != 0 { let e = errno; close(fd); throw SystemError("cannot stat \(path)", errno: e) }
        if (st.st_mode & S_IFMT) == S_IFDIR { close(fd); throw SystemError(message: "\(path) is a directory") }
        let isRegular = (st.st_mode & S_IFMT) == S_IFREG
        return (fd, isRegular ? Int(st.st_size) : nil)
    }

    /// True when both paths name the same existing file (same device and inode), however
    /// they are spelled: what keeps an output from replacing its own input.
    public static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// The size of the file at `path`, 0 when it cannot be stat'ed.
    public static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// The CRC-64 of a whole file (what backups record and verify); throws when it cannot be read.
    public static func crc64(path: String) throws -> UInt64 {
        let (fd, size) = try openForReading(path)
        defer { close(fd) }
        guard let v = BackgroundChecksum.compute(fd: fd, length: size ?? 0) else { throw SystemError("cannot read \(path)") }
        return v
    }

    /// Reads a whole file into memory.
    public static func readFile(_ path: String) throws -> [UInt8] {
        let (fd, size) = try openForReading(path)
        defer { close(fd) }
        var out = [UInt8]()
        out.reserveCapacity(size ?? 1 << 16)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let r = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if r < 0 { if errno == EINTR { continue }; throw SystemError("cannot read \(path)") }
            if r == 0 { break }
            out.append(contentsOf: chunk[0..<r])
        }
        return out
    }
}

/// Writes a file so that it is either complete or absent: a temporary file in the same
/// directory, every byte written, fsync, rename over the destination, fsync of the directory.
/// A failure at any step removes the temporary file and leaves the destination as it was.
public final class AtomicFile {
    public let path: String
    public let temporaryPath: String
    public let fd: Int32
    private var done = false

    public init(path: String, mode: mode_t = 0o644) throws {
        self.path = path
        let dir = AtomicFile.directory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        temporaryPath = (dir == "." && !path.hasPrefix("./") ? "" : dir + "/") + ".\(base).tmp-\(getpid())"
        var f: Int32
        repeat { f = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) } while f < 0 && errno == EINTR
        if f < 0 { throw SystemError("cannot create \(temporaryPath)") }
        fd = f
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    /// Makes the file durable and visible under `path`.
    public func commit() throws {
        guard !done else { return }
        done = true
        if fsync(fd) != 0 { let e = errno; close(fd); unlink(temporaryPath); throw SystemError("fsync \(temporaryPath)", errno: e) }
        if close(fd) != 0 { let e = errno; unlink(temporaryPath); throw SystemError("close \(temporaryPath)", errno: e) }
        if rename(temporaryPath, path) != 0 { let e = errno; unlink(temporaryPath); throw SystemError("rename to \(path)", errno: e) }
        let dfd = open(AtomicFile.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Removes the temporary file; the destination is untouched.
    public func abandon() {
        guard !done else { return }
        done = true
        close(fd)
        unlink(temporaryPath)
    }

    deinit { abandon() }
}
