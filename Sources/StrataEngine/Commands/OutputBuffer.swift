#if canImport(Glibc)
import Glibc
#endif

/// Where a reply's bytes go: a plain byte array (tests, scripts, tools) or a client's
/// `OutputBuffer` (the server's hot path).
public protocol ReplySink {
    mutating func put(_ byte: UInt8)
    mutating func put(_ bytes: UnsafeRawBufferPointer)
    mutating func put(_ bytes: [UInt8])
}

extension Array: ReplySink where Element == UInt8 {
    @inline(__always) public mutating func put(_ byte: UInt8) { append(byte) }
    @inline(__always) public mutating func put(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
    @inline(__always) public mutating func put(_ bytes: [UInt8]) { append(contentsOf: bytes) }
}

/// A client's pending output: bytes appended at the end, written to the socket from the front.
///
/// Raw memory with a read offset: an append is a capacity check and a copy (no uniqueness test
/// per byte, as an array's append makes), and a partial socket write only moves the offset
/// (no shifting of what is left, which made slow readers of large replies quadratic).
public final class OutputBuffer: ReplySink {
    private var base: UnsafeMutablePointer<UInt8>
    public private(set) var capacity: Int
    private var start = 0
    private var end = 0
    /// Buffers above this are given back once drained (a client that once read a huge reply
    /// does not keep its memory).
    static let keepCapacity = 64 * 1024

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Bytes waiting to be written.
    public var count: Int { end - start }
    public var isEmpty: Bool { end == start }

    @inline(__always) private func reserve(_ n: Int) {
        if end + n > capacity { makeRoom(n) }
    }

    @inline(never) private func makeRoom(_ n: Int) {
        let pending = end - start
        if start > 0 && pending + n <= capacity / 2 {
            // Most of the buffer was already written: slide the rest to the front.
            memmove(base, base + start, pending)
        } else {
            var c = Swift.max(capacity * 2, 64)
            while c < pending + n { c *= 2 }
            let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            if pending > 0 { fresh.update(from: base + start, count: pending) }
            base.deallocate()
            base = fresh
            capacity = c
        }
        start = 0
        end = pending
    }

    @inline(__always) public func put(_ byte: UInt8) {
        reserve(1)
        base[end] = byte
        end += 1
    }

    @inline(__always) public func put(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        reserve(n)
        memcpy(base + end, bytes.baseAddress!, n)
        end += n
    }

    @inline(__always) public func put(_ bytes: [UInt8]) { bytes.withUnsafeBytes { put($0) } }

    /// The pending byte at `i` (0 is the next byte to be written).
    public subscript(i: Int) -> UInt8 { base[start + i] }

    /// Pending bytes `range` (positions as for the subscript), as an array.
    public func bytes(_ range: Range<Int>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: base + start + range.lowerBound, count: range.count))
    }

    /// True when the pending bytes from `at` begin with `prefix`.
    public func matches(_ prefix: [UInt8], at: Int) -> Bool {
        guard at >= 0, at + prefix.count <= count else { return false }
        return prefix.withUnsafeBytes { memcmp(base + start + at, $0.baseAddress!, prefix.count) == 0 }
    }

    /// Drops pending bytes from position `n` on (what a command wrote, for CLIENT REPLY OFF).
    public func truncate(to n: Int) {
        if n < count { end = start + Swift.max(0, n) }
    }

    /// Marks `n` bytes as written.
    public func removeFirst(_ n: Int) {
        start += Swift.min(n, count)
        if start == end { removeAll() }
    }

    public func removeAll() {
        start = 0
        end = 0
        if capacity > OutputBuffer.keepCapacity {
            base.deallocate()
            capacity = 4096
            base = .allocate(capacity: capacity)
        }
    }

    /// The pending bytes, for a write to the socket.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base + start, count: end - start))
    }
}
