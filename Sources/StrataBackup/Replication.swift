#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// `redis://[user:password@]host:port[/db]`
public struct RedisURL: Sendable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    /// The URL without the password: what the catalog and messages show.
    public var display: String { "redis://\(user.map { "\($0)@" } ?? "")\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    public init(_ s: String) throws {
        if s.hasPrefix("rediss://") { throw BackupError(.usage, "\(s): TLS (rediss://) is not supported; use a local stunnel or back up the data directory") }
        guard s.hasPrefix("redis://") else { throw BackupError(.usage, "\(s): a server is named redis://[user:password@]host:port") }
        var rest = Substring(s.dropFirst(8))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") {
            let cred = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = cred.firstIndex(of: ":") {
                let u = RedisURL.unescape(cred[..<colon])
                user = u.isEmpty ? nil : u
                password = RedisURL.unescape(cred[cred.index(after: colon)...])
            } else {
                password = RedisURL.unescape(cred)
            }
        }
        var hostPart = rest
        var portPart: Substring = "6379"
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() }
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
        }
        guard !hostPart.isEmpty, let p = Int(portPart), p > 0, p < 65536 else {
            throw BackupError(.usage, "\(s): a server is named redis://[user:password@]host:port (bad host or port)")
        }
        host = String(hostPart)
        port = p
    }

    static func unescape(_ s: Substring) -> String {
        var out = [UInt8]()
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                out.append(v); i += 3
            } else { out.append(b[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Takes a snapshot from a live server over the replication handshake, as `redis-cli --rdb`
/// does (AUTH, REPLCONF capa eof, REPLCONF rdb-only 1, SYNC), without its traps: the snapshot
/// goes to a new temporary file (never an old one with a stale tail), the `$EOF:` mark of a
/// diskless transfer is never written, and the caller publishes it only after checking it.
final class ReplicationClient {
    let url: RedisURL
    let timeout: Double
    private var fd: Int32 = -1
    private var buf = [UInt8]()
    private var pos = 0
    private let chunkSize = 1 << 20
    private let chunk = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)

    init(url: RedisURL, timeout: Double) {
        self.url = url
        self.timeout = timeout
    }

    deinit { if fd >= 0 { close(fd) }; chunk.deallocate() }

    private func fail(_ m: String) -> BackupError { BackupError(.failed, "\(url.display): \(m)") }

    private func connect() throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(url.host, String(url.port), &hints, &res)
        guard rc == 0, let first = res else { throw fail("cannot resolve \(url.host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), a.pointee.ai_protocol)
            if s >= 0 {
                if Glibc.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 || errno == EINPROGRESS {
                    var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                    let r = poll(&p, 1, Int32(min(timeout, 30) * 1000))
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                    if r == 1 && err == 0 {
                        let flags = fcntl(s, F_GETFL)
                        _ = fcntl(s, F_SETFL, flags & ~O_NONBLOCK)
                        fd = s
                        return
                    }
                    lastError = r == 0 ? "connection timed out" : String(cString: strerror(err == 0 ? errno : err))
                } else {
                    lastError = String(cString: strerror(errno))
                }
                close(s)
            }
            ai = a.pointee.ai_next
        }
        throw fail("cannot connect: \(lastError)")
    }

    private func send(_ parts: [String]) throws {
        var out = Array("*\(parts.count)\r\n".utf8)
        for p in parts { let b = Array(p.utf8); out += Array("$\(b.count)\r\n".utf8) + b + [13, 10] }
        try sendRaw(out)
    }

    private func sendRaw(_ out: [UInt8]) throws {
        do { try out.withUnsafeBytes { try FileIO.writeAll(fd, $0) } } catch { throw fail("connection lost while sending: \(error)") }
    }

    /// Waits for bytes (any byte, keepalive newlines included, resets the clock).
    private func fill() throws {
        if pos > 0 && pos == buf.count { buf.removeAll(keepingCapacity: true); pos = 0 }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, Int32(timeout * 1000))
            if r < 0 { if errno == EINTR { continue }; throw fail("poll: \(String(cString: strerror(errno)))") }
            if r == 0 { throw fail("no data for \(Int(timeout)) s (the server may still be forking; raise --timeout)") }
            break
        }
        // One receive buffer for the whole transfer (not a fresh megabyte per recv).
        let n = recv(fd, chunk, chunkSize, 0)
        if n < 0 { throw fail("connection error: \(String(cString: strerror(errno)))") }
        if n == 0 { throw fail("the server closed the connection") }
        buf.append(contentsOf: UnsafeRawBufferPointer(start: chunk, count: n))
    }

    private func readLine() throws -> [UInt8] {
        while true {
            if let nl = buf[pos...].firstIndex(of: 10) {
                var line = Array(buf[pos..<nl])
                pos = nl + 1
                if line.last == 13 { line.removeLast() }
                return line
            }
            if buf.count - pos > 1 << 16 { throw fail("reply line longer than 64 KB: not a Redis server?") }
            try fill()
        }
    }

    private func expectOK(_ what: String) throws {
        let line = try readLine()
        guard line.first == UInt8(ascii: "+") else {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("-WRONGPASS") || text.hasPrefix("-NOAUTH") || text.hasPrefix("-ERR invalid password") {
                throw fail("authentication failed: \(text.dropFirst())")
            }
            throw fail("\(what) was refused: \(text.isEmpty ? "(empty reply)" : String(text.dropFirst()))")
        }
    }

    /// The whole exchange; the snapshot lands in `tmp` (fsynced). Returns its size and CRC-64.
    func fetchSnapshot(to tmp: String, fs: RepoFS, progress: ProgressHandler?) throws -> (Int, UInt64) {
        try connect()
        if let pw = url.password {
            try send(url.user.map { ["AUTH", $0, pw] } ?? ["AUTH", pw])
            try expectOK("AUTH")
        }
        try send(["REPLCONF", "capa", "eof"])
        try expectOK("REPLCONF capa eof")
        try send(["REPLCONF", "rdb-only", "1"])
        let rdbOnly = try readLine()        // older servers refuse it: the connection is closed after the RDB anyway
        _ = rdbOnly
        try sendRaw(Array("SYNC\r\n".utf8))
        // Keepalive newlines while the server forks, then $<len> or $EOF:<mark>.
        var header: [UInt8]
        repeat { header = try readLine() } while header.isEmpty
        guard header.first == UInt8(ascii: "$") else {
            let text = String(decoding: header, as: UTF8.self)
            throw fail("SYNC was refused: \(text.hasPrefix("-") ? String(text.dropFirst()) : text)")
        }
        let out = try fs.create(tmp)
        var ok = false
        defer { close(out); if !ok { unlink(tmp) } }
        var crc = CRC64()
        var written = 0
        func emit(_ bytes: ArraySlice<UInt8>) throws {
            guard !bytes.isEmpty else { return }
            try bytes.withUnsafeBytes { b in
                crc.update(b)
                try fs.write(out, b, path: tmp)
            }
            written += bytes.count
        }
        if header.starts(with: Array("$EOF:".utf8)) {
            let mark = Array(header.dropFirst(5))
            guard mark.count == 40 else { throw fail("bad diskless transfer header (\(header.count) bytes)") }
            // Hold back the last 40 bytes: the stream ends with the mark, which is not RDB data.
            while true {
                if buf.count - pos >= 40 && buf[(buf.count - 40)...].elementsEqual(mark) {
                    try emit(buf[pos..<(buf.count - 40)])
                    pos = buf.count
                    break
                }
                if buf.count - pos > 40 {
                    try emit(buf[pos..<(buf.count - 40)])
                    pos = buf.count - 40
                    buf.removeFirst(pos); pos = 0
                }
                progress?(written, nil)
                try fill()
            }
        } else {
            guard let len = Int(String(decoding: header.dropFirst(), as: UTF8.self)), len >= 0 else {
                throw fail("bad transfer header \(String(decoding: header, as: UTF8.self))")
            }
            var left = len
            while left > 0 {
                if pos == buf.count { buf.removeAll(keepingCapacity: true); pos = 0; try fill() }
                let take = min(left, buf.count - pos)
                try emit(buf[pos..<(pos + take)])
                pos += take
                left -= take
                progress?(written, len)
            }
        }
        try fs.fsync(out, path: tmp)
        close(fd); fd = -1
        ok = true
        return (written, crc.value)
    }
}
