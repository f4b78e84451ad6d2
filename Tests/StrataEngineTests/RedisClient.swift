import Foundation
import XCTest
import StrataTestSupport
@testable import StrataEngine

/// A minimal blocking RESP2/RESP3 client for driving the real redis-server in tests.
final class RedisClient {
    let fd: Int32
    private var buffer = [UInt8]()
    private var pos = 0

    /// A parser over bytes already received (no socket): for replies rendered by the engine.
    init(parsing bytes: [UInt8]) {
        fd = -1
        buffer = bytes
    }

    /// Parses one reply from `bytes` (RESP2 or RESP3).
    static func parse(_ bytes: [UInt8]) throws -> Reply { try RedisClient(parsing: bytes).readReply() }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 { close(fd); throw NSError(domain: "RedisClient", code: Int(errno)) }
    }

    deinit { if fd >= 0 { close(fd) } }

    func send(_ args: [[UInt8]]) {
        var out = [UInt8]("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
        var off = 0
        while off < out.count {
            let n = out[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            off += n
        }
    }

    func call(_ args: [[UInt8]]) throws -> Reply {
        send(args)
        return try readReply()
    }

    func call(_ words: String...) throws -> Reply { try call(words.map { Array($0.utf8) }) }

    private func fill() throws {
        if fd < 0 { throw NSError(domain: "RedisClient", code: 2, userInfo: [NSLocalizedDescriptionKey: "reply truncated"]) }
        if pos > 0 && pos == buffer.count { buffer.removeAll(keepingCapacity: true); pos = 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { throw NSError(domain: "RedisClient", code: 2, userInfo: [NSLocalizedDescriptionKey: "connection closed"]) }
        buffer += chunk[0..<n]
    }

    private func line() throws -> String {
        while true {
            if let i = buffer[pos...].firstIndex(of: 10), i > pos, buffer[i - 1] == 13 {
                let s = String(decoding: buffer[pos..<(i - 1)], as: UTF8.self)
                pos = i + 1
                return s
            }
            try fill()
        }
    }

    func readReply() throws -> Reply {
        let l = try line()
        let body = String(l.dropFirst())
        switch l.first {
        case "+": return .status(body)
        case "-": return .error(body)
        case ":": return .integer(Int64(body)!)
        case "$":
            let n = Int(body)!
            if n < 0 { return .bulk(nil) }
            while buffer.count - pos < n + 2 { try fill() }
            let b = Array(buffer[pos..<(pos + n)])
            pos += n + 2
            return .bulk(b)
        case "*":
            let n = Int(body)!
            if n < 0 { return .array(nil) }
            var items = [Reply]()
            for _ in 0..<n { items.append(try readReply()) }
            return .array(items)
        case "%", "~", ">":
            let n = Int(body)! * (l.first == "%" ? 2 : 1)
            var items = [Reply]()
            for _ in 0..<n { items.append(try readReply()) }
            return l.first == "%" ? .map(items) : l.first == "~" ? .set(items) : .push(items)
        case "_": return .bulk(nil)
        case ",": return .double(Array(body.utf8))
        case "#": return .bool(body == "t")
        case "(": return .bulk(Array(body.utf8))
        case "=":
            let n = Int(body)!
            while buffer.count - pos < n + 2 { try fill() }
            let b = Array(buffer[(pos + 4)..<(pos + n)])   // after "txt:"
            pos += n + 2
            return .verbatim(b)
        default:
            throw NSError(domain: "RedisClient", code: 3, userInfo: [NSLocalizedDescriptionKey: "bad reply line \(l)"])
        }
    }
}

func whichBinary(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// A real redis-server 7.0 on a free loopback port.
final class RedisServerProcess {
    private(set) var process = Process()
    private(set) var port = 0
    let dir: String

    init(dir: String = NSTemporaryDirectory() + "strata-engine-" + UUID().uuidString) throws {
        self.dir = dir
        guard let bin = whichBinary("redis-server") else { throw XCTSkip("redis-server not installed") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A port another process grabs between our probe and the server's bind is retried.
        for _ in 0..<5 {
            let p = Process()
            let candidate = freeLoopbackPort()
            p.executableURL = URL(fileURLWithPath: bin)
            p.arguments = ["--port", "\(candidate)", "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
                           "--enable-debug-command", "yes", "--daemonize", "no"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            for _ in 0..<200 {
                if let c = try? RedisClient(port: candidate), (try? c.call("PING")) == .status("PONG") {
                    process = p
                    port = candidate
                    return
                }
                if !p.isRunning { break }
                usleep(25_000)
            }
            if p.isRunning { p.terminate() }
        }
        throw NSError(domain: "RedisServerProcess", code: 1, userInfo: [NSLocalizedDescriptionKey: "redis-server did not start"])
    }

    func stop() {
        if let c = try? RedisClient(port: port) { c.send([Array("SHUTDOWN".utf8), Array("NOSAVE".utf8)]) }
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
        if process.isRunning { process.terminate() }
    }

    deinit { stop() }
}
