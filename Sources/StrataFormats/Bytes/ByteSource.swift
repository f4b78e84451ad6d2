#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// The CRC-64 of a file's first `length` bytes, computed on another thread with pread.
final class BackgroundChecksum: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the worker before `done` is signalled, read after waiting on it.
    private var result: UInt64?
    let length: Int

    init(fd: Int32, length: Int) {
        self.length = length
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            self.result = BackgroundChecksum.compute(fd: fd, length: length)
            self.done.signal()
        }
    }

    /// nil when the file could not be read (the caller then checksums itself).
    func wait() -> UInt64? {
        done.wait()
        done.signal()
        return result
    }

    static func compute(fd: Int32, length: Int) -> UInt64? {
        let chunk = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        var crc = CRC64()
        var off = 0
        while off < length {
            let r = pread(fd, buf, min(chunk, length - off), off_t(off))
            if r < 0 { if errno == EINTR { continue }; return nil }
            if r == 0 { return nil }
            crc.update(buf, count: r)
            off += r
        }
        return crc.value
    }
}

/// A forward-only byte cursor over a file descriptor or an in-memory buffer that cannot
/// over-read: every read first makes sure the bytes exist, and a length that runs past the end
/// of a regular file is refused before anything is allocated for it.
///
/// Memory stays bounded by the largest single read (the largest value in an RDB file), not by
/// the file. When `checksumming` is on, every byte consumed is fed to a CRC-64 as it passes, so a
/// file is read and verified in a single pass.
public final class ByteSource {
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0            // first unconsumed byte in buffer
    private var end = 0              // one past the last valid byte in buffer
    private var crcMark = 0          // bytes in buffer before this index are already in `crc`
    private var base = 0             // absolute offset of buffer[0]
    private let fd: Int32
    private var atEOF: Bool
    /// Total size when known (regular files, memory): lets impossible lengths fail up front.
    public let knownSize: Int?
    private var crc = CRC64()
    public var checksumming = true
    /// For regular files: the checksum of everything but the 8-byte trailer, computed in
    /// parallel on the second core. Used when the reader asks at exactly that offset (the
    /// normal case); otherwise the bytes are checksummed here as they pass.
    private var background: BackgroundChecksum?

    /// Reads from a file descriptor the caller owns (it is not closed here). With
    /// `parallelChecksum`, a large regular file read from its start is also checksummed on the
    /// second core (for RDB files, whose CRC-64 covers all but the last 8 bytes).
    public init(fileDescriptor: Int32, knownSize: Int?, chunkSize: Int = 1 << 20, parallelChecksum: Bool = true) {
        self.fd = fileDescriptor
        self.capacity = chunkSize
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
        self.atEOF = false
        self.knownSize = knownSize
        if parallelChecksum, let knownSize, knownSize > 1 << 22, lseek(fileDescriptor, 0, SEEK_CUR) == 0 {
            background = BackgroundChecksum(fd: fileDescriptor, length: knownSize - 8)
        }
    }

    /// Reads from bytes in memory.
    public init(bytes: [UInt8]) {
        self.fd = -1
        let cap = max(bytes.count, 16)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { buf.copyMemory(from: b, byteCount: $0.count) } }
        self.capacity = cap
        self.buffer = buf
        self.end = bytes.count
        self.atEOF = true
        self.knownSize = bytes.count
    }

    deinit { buffer.deallocate() }

    /// Moves the cursor of an in-memory source anywhere in its bytes (salvage resynchronises
    /// this way). The running checksum is reset.
    public func seek(to offset: Int) {
        precondition(fd < 0, "seek is for in-memory sources")
        start = min(max(offset, 0), end)
        crcMark = start
        crc = CRC64()
    }

    /// Absolute offset of the next byte to be read.
    @inline(__always) public var offset: Int { base + start }

    /// The CRC-64 of every byte consumed so far (while `checksumming` was on).
    public var checksum: UInt64 {
        if let bg = background {
            background = nil
            if offset == bg.length, let v = bg.wait() { return v }
            // Asked elsewhere than before the trailer (trailing bytes): read the prefix again.
            if let v = BackgroundChecksum.compute(fd: fd, length: offset) { return v }
            return ~crc.value   // unreadable: guaranteed not to match a stored value of crc
        }
        flushCRC()
        return crc.value
    }

    private func flushCRC() {
        if checksumming && background == nil && crcMark < start { crc.update(buffer + crcMark, count: start - crcMark) }
        crcMark = start
    }

    /// Turns checksumming on or off from the current position on.
    public func setChecksumming(_ on: Bool) {
        flushCRC()
        checksumming = on
    }

    /// Bytes left when the total is known.
    public var remainingKnown: Int? { knownSize.map { $0 - offset } }

    /// True when no byte is left.
    public func isAtEnd() throws -> Bool {
        if start < end { return false }
        try fill(minimum: 1, allowShort: true)
        return start >= end
    }

    /// Makes at least `n` bytes available at the cursor, or throws "unexpected end of file".
    @inline(__always)
    public func require(_ n: Int, _ what: @autoclosure () -> String) throws(FormatError) {
        if end - start >= n { return }
        if n < 0 { throw FormatError(offset: offset, "negative length while reading \(what())") }
        if let rem = remainingKnown, n > rem {
            throw FormatError(offset: offset, "unexpected end of file: \(what()) needs \(n) bytes, \(max(rem, 0)) left")
        }
        do { try fill(minimum: n, allowShort: false) } catch let e as FormatError {
            throw FormatError(offset: e.offset, e.message + " while reading \(what())")
        } catch { throw FormatError(offset: offset, "\(error)") }
    }

    private func fill(minimum n: Int, allowShort: Bool) throws {
        if atEOF {
            if allowShort { return }
            throw FormatError(offset: offset, "unexpected end of file (\(end - start) of \(n) bytes present)")
        }
        flushCRC()
        // Move the unconsumed tail to the front, grow if one read needs more than we hold.
        let live = end - start
        if n > capacity {
            var newCap = capacity
            while newCap < n { newCap *= 2 }
            let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
            nb.copyMemory(from: buffer + start, byteCount: live)
            buffer.deallocate()
            buffer = nb
            capacity = newCap
        } else if start > 0 {
            if live > 0 { buffer.copyMemory(from: buffer + start, byteCount: live) }
        }
        base += start
        start = 0
        end = live
        crcMark = 0
        while end < n || (allowShort && end == 0) {
            let r = read(fd, buffer + end, capacity - end)
            if r < 0 {
                if errno == EINTR { continue }
                throw FormatError(offset: offset, "read error: \(String(cString: strerror(errno)))")
            }
            if r == 0 {
                atEOF = true
                if allowShort { return }
                throw FormatError(offset: offset, "unexpected end of file (\(end) of \(n) bytes present)")
            }
            end += r
            if allowShort { break }
        }
    }

    @inline(__always)
    public func readByte(_ what: @autoclosure () -> String = "a byte") throws(FormatError) -> UInt8 {
        if start >= end { try require(1, what()) }
        let b = buffer.load(fromByteOffset: start, as: UInt8.self)
        start += 1
        return b
    }

    @inline(__always)
    public func peekByte() throws(FormatError) -> UInt8 {
        if start >= end { try require(1, "a byte") }
        return buffer.load(fromByteOffset: start, as: UInt8.self)
    }

    /// Reads `n` bytes into a new array.
    public func readBytes(_ n: Int, _ what: @autoclosure () -> String) throws(FormatError) -> [UInt8] {
        try require(n, what())
        let out = [UInt8](UnsafeRawBufferPointer(start: buffer + start, count: n))
        start += n
        return out
    }

    /// Lends the next `n` bytes without copying; valid only inside `body`.
    public func withBytes<R>(_ n: Int, _ what: @autoclosure () -> String,
                             _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try require(n, what())
        let r = try body(UnsafeRawBufferPointer(start: buffer + start, count: n))
        start += n
        return r
    }

    /// Hands up to `max` of the next bytes (what is buffered or one read brings) to `body`
    /// without copying them out; returns how many (0 at the end).
    public func consumeChunk(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        if start >= end {
            if try isAtEnd() { return 0 }
        }
        let n = min(max, end - start)
        body(UnsafeRawBufferPointer(start: buffer + start, count: n))
        start += n
        return n
    }

    public func skip(_ n: Int, _ what: @autoclosure () -> String) throws(FormatError) {
        var left = n
        while left > 0 {
            let chunk = min(left, capacity)
            try require(chunk, what())
            start += chunk
            left -= chunk
        }
    }

    @inline(__always)
    public func readLE<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        if end - start < size { try require(size, what()) }
        let v = T(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: T.self))
        start += size
        return v
    }

    @inline(__always)
    public func readBE<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        if end - start < size { try require(size, what()) }
        let v = T(bigEndian: buffer.loadUnaligned(fromByteOffset: start, as: T.self))
        start += size
        return v
    }
}
