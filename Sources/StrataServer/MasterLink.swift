#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// The replica side of Redis replication (REPLICAOF host port), on the server's event loop:
/// connect without blocking, the handshake redis-server's replicas make (PING, AUTH with
/// masterauth, REPLCONF listening-port and capa eof psync2, PSYNC ? -1), the full
/// resynchronisation's RDB (`$<length>` or the diskless `$EOF:<mark>` form) into a file, then
/// the master's command stream, whose bytes are counted as the replication offset.
///
/// The server gives it three things to do: load a received RDB, run a command of the stream,
/// and log. A link that fails (refused, timed out, a protocol error, a file that does not load)
/// closes and is tried again from the cron, as Redis retries once a second.
final class MasterLink {
    enum State: Equatable {
        case connecting
        /// Waiting for the reply to handshake step N.
        case handshake(Int)
        /// +FULLRESYNC read; waiting for `$<length>` or `$EOF:<mark>`.
        case payloadHeader
        case payload
        case streaming
        case down
    }

    let host: String
    let port: Int
    private(set) var state = State.down
    /// Bytes of the command stream applied since the full resynchronisation began, plus the
    /// offset the master announced (Redis's master_repl_offset on a replica).
    private(set) var offset: Int64 = 0
    private(set) var masterReplID = ""
    /// The offset the stream starts at (+FULLRESYNC's); `stream.offset` counts from there.
    private var streamBase: Int64 = 0
    private(set) var lastIO: Int64 = 0
    /// Seconds the link has been down (for INFO master_link_down_since_seconds).
    private(set) var downSince: Int64
    var isUp: Bool { state == .streaming }
    var syncInProgress: Bool { state == .payloadHeader || state == .payload }

    private var fd: Int32 = -1
    private let loop: EventLoop
    private var input: [UInt8] = []
    private var payloadFD: Int32 = -1
    private var payloadRemaining = 0
    private var eofMark: [UInt8]?
    private var payloadTail: [UInt8] = []
    private var stream = MasterLink.streamReader()
    /// Read buffer, kept between reads (the stream is read on every event while streaming).
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// The master's stream holds RESP commands only (no inline commands).
    private static func streamReader() -> RESPCommandReader {
        var l = RESPCommandReader.Limits()
        l.allowInline = false
        return RESPCommandReader(limits: l)
    }
    private var steps: [[String]] = []
    private var attemptStarted: Int64 = 0

    private let tempPath: String
    private let timeoutMs: Int64
    private let log: (String, String) -> Void
    private let loadPayload: (String) throws -> Void
    private let apply: ([[UInt8]]) -> Void

    init(host: String, port: Int, listeningPort: Int, auth: (user: String?, password: String)?, timeoutSeconds: Int,
         loop: EventLoop, log: @escaping (String, String) -> Void,
         loadPayload: @escaping (String) throws -> Void, apply: @escaping ([[UInt8]]) -> Void) {
        self.host = host; self.port = port; self.loop = loop
        self.log = log; self.loadPayload = loadPayload; self.apply = apply
        timeoutMs = Int64(max(1, timeoutSeconds)) * 1000
        tempPath = "temp-\(getpid())-replica.rdb"
        downSince = EventLoop.nowMs()
        var s: [[String]] = [["PING"]]
        if let auth { s.append(auth.user.map { ["AUTH", $0, auth.password] } ?? ["AUTH", auth.password]) }
        s.append(["REPLCONF", "listening-port", "\(listeningPort)"])
        s.append(["REPLCONF", "capa", "eof", "capa", "psync2"])
        s.append(["PSYNC", "?", "-1"])
        steps = s
    }

    // MARK: - Connection

    /// Starts a connection attempt (from REPLICAOF, and from the cron while the link is down).
    func connect() {
        guard state == .down else { return }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "\(port)", &hints, &res) == 0, let ai = res else {
            log("warning", "Unable to connect to MASTER: can't resolve \(host)")
            return
        }
        defer { freeaddrinfo(res) }
        let s = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { log("warning", "Unable to connect to MASTER: \(String(cString: strerror(errno)))"); return }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if Glibc.connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
            log("warning", "Unable to connect to MASTER: \(String(cString: strerror(errno)))")
            Glibc.close(s)
            return
        }
        log("notice", "Connecting to MASTER \(host):\(port)")
        log("notice", "MASTER <-> REPLICA sync started")
        fd = s
        state = .connecting
        attemptStarted = EventLoop.nowMs()
        lastIO = attemptStarted
        loop.add(fd, [.read, .write]) { [unowned self] ev in self.event(ev) }
    }

    /// Closes the link (REPLICAOF NO ONE, or a failure before a retry).
    func close(reason: String? = nil) {
        if let reason { log("warning", reason) }
        if fd >= 0 { loop.remove(fd); Glibc.close(fd); fd = -1 }
        if payloadFD >= 0 { Glibc.close(payloadFD); payloadFD = -1; unlink(tempPath) }
        if state != .down { downSince = EventLoop.nowMs() }
        state = .down
        input = []
        stream = MasterLink.streamReader()
    }

    /// Once a second: reconnect while down, give up on a silent master, acknowledge the offset.
    func cron() {
        let now = EventLoop.nowMs()
        switch state {
        case .down: connect()
        case .streaming:
            if now - lastIO > timeoutMs { close(reason: "MASTER timeout: no data nor PING received..."); return }
            sendAck()
        default:
            if now - lastIO > timeoutMs { close(reason: "Timeout connecting to the MASTER...") }
        }
    }

    private func event(_ ev: UInt32) {
        if state == .connecting {
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { close(reason: "Error condition on socket for SYNC: \(String(cString: strerror(err)))"); return }
            if ev & Epoll.OUT == 0 { return }
            loop.modify(fd, .read)
            log("notice", "Non blocking connect for SYNC fired the event.")
            state = .handshake(0)
            send(steps[0])
            return
        }
        if ev & (Epoll.IN | Epoll.HUP | Epoll.ERR) != 0 { readAvailable() }
    }

    // MARK: - Reading

    private func readAvailable() {
        while fd >= 0 {
            let n = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { close(reason: "Connection with master lost."); return }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                close(reason: "Error reading from MASTER: \(String(cString: strerror(errno)))"); return
            }
            lastIO = EventLoop.nowMs()
            if !consume(readBuffer[0..<n]) { return }
        }
    }

    /// Handles bytes from the master; false once the link was closed.
    private func consume(_ bytes: ArraySlice<UInt8>) -> Bool {
        switch state {
        case .streaming:
            bytes.withUnsafeBytes { stream.feed($0) }
            return applyStream()
        case .payload:
            return writePayload(bytes)
        default:
            input += bytes
            while let line = takeLine() {
                if !handleLine(line) { return false }
                if state == .payload {
                    let rest = input; input = []
                    return rest.isEmpty || writePayload(rest[...])
                }
            }
            return true
        }
    }

    private func takeLine() -> [UInt8]? {
        guard let nl = input.firstIndex(of: 10) else { return nil }
        var line = Array(input[..<nl])
        if line.last == 13 { line.removeLast() }
        input.removeFirst(nl + 1)
        return line
    }

    /// A reply line of the handshake or the payload header; false once the link was closed.
    private func handleLine(_ line: [UInt8]) -> Bool {
        let text = String(decoding: line, as: UTF8.self)
        if line.isEmpty { return true }   // the master's keepalive newlines while it prepares the RDB
        switch state {
        case .handshake(let i):
            let step = steps[i]
            if step[0] == "PSYNC" {
                guard text.hasPrefix("+FULLRESYNC ") else {
                    close(reason: "Unexpected reply to PSYNC from master: \(text)"); return false
                }
                let parts = text.split(separator: " ")
                masterReplID = parts.count > 1 ? String(parts[1]) : ""
                offset = parts.count > 2 ? Int64(parts[2]) ?? 0 : 0
                streamBase = offset
                log("notice", "Full resync from master: \(masterReplID):\(offset)")
                state = .payloadHeader
                return true
            }
            if text.hasPrefix("-") {
                // Redis's replica accepts an error to PING only when it is NOAUTH (AUTH follows),
                // and ignores errors to REPLCONF capa (an older master).
                let tolerated = (step[0] == "PING" && text.hasPrefix("-NOAUTH")) || (step[0] == "REPLCONF" && step[1] == "capa")
                if !tolerated { close(reason: "Error reply to \(step[0]) from master: '\(text)'"); return false }
            }
            state = .handshake(i + 1)
            send(steps[i + 1])
            return true
        case .payloadHeader:
            guard line.first == UInt8(ascii: "$") else { close(reason: "Bad protocol from MASTER, the first byte is not '$': \(text)"); return false }
            if text.hasPrefix("$EOF:") {
                let mark = Array(line.dropFirst(5))
                guard mark.count == 40 else { close(reason: "Bad EOF mark from MASTER: \(text)"); return false }
                eofMark = mark
                payloadRemaining = -1
                log("notice", "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
            } else {
                guard let n = Int(text.dropFirst()), n >= 0 else { close(reason: "Bad payload length from MASTER: \(text)"); return false }
                eofMark = nil
                payloadRemaining = n
                log("notice", "MASTER <-> REPLICA sync: receiving \(n) bytes from master to disk")
            }
            unlink(tempPath)
            payloadFD = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if payloadFD < 0 { close(reason: "Opening the temp file needed for MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))"); return false }
            payloadTail = []
            state = .payload
            if payloadRemaining == 0 { return finishPayload(extra: []) }
            return true
        default:
            return true
        }
    }

    /// Appends received RDB bytes to the temp file; at the end loads it and starts streaming.
    private func writePayload(_ bytes: ArraySlice<UInt8>) -> Bool {
        var chunk = bytes
        var extra: ArraySlice<UInt8> = []
        if let mark = eofMark {
            // The last 40 bytes may be the mark: hold them back until more come or they match.
            var all = payloadTail + chunk
            if all.count >= 40 && Array(all.suffix(40)) == mark {
                all.removeLast(40)
                if !writeAll(all[...]) { return false }
                return finishPayload(extra: [])
            }
            let keep = min(40, all.count)
            payloadTail = Array(all.suffix(keep))
            chunk = all.dropLast(keep)
        } else {
            let take = min(payloadRemaining, chunk.count)
            extra = chunk.dropFirst(take)
            chunk = chunk.prefix(take)
            payloadRemaining -= take
        }
        if !writeAll(chunk) { return false }
        if eofMark == nil && payloadRemaining == 0 { return finishPayload(extra: extra) }
        return true
    }

    private func writeAll(_ bytes: ArraySlice<UInt8>) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(payloadFD, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                close(reason: "Write error writing the RDB from MASTER to disk: \(String(cString: strerror(errno)))")
                return false
            }
            done += n
        }
        return true
    }

    private func finishPayload(extra: ArraySlice<UInt8>) -> Bool {
        fsync(payloadFD)
        Glibc.close(payloadFD)
        payloadFD = -1
        log("notice", "MASTER <-> REPLICA sync: Flushing old data")
        log("notice", "MASTER <-> REPLICA sync: Loading DB in memory")
        do {
            try loadPayload(tempPath)
        } catch {
            unlink(tempPath)
            close(reason: "Failed trying to load the MASTER synchronization DB from disk: \(error)")
            return false
        }
        log("notice", "MASTER <-> REPLICA sync: Finished with success")
        state = .streaming
        lastIO = EventLoop.nowMs()
        sendAck()
        if !extra.isEmpty {
            extra.withUnsafeBytes { stream.feed($0) }
            return applyStream()
        }
        return true
    }

    /// Runs the complete commands of the stream; REPLCONF GETACK is answered, not applied.
    private func applyStream() -> Bool {
        do {
            while fd >= 0 {
                guard let item = try stream.next() else { break }
                // The offset counts every byte of the stream up to the end of the last command
                // (a GETACK reports the offset before itself, as Redis's replica does).
                defer { offset = streamBase + Int64(stream.offset) }
                guard case .command(let argv) = item, !argv.isEmpty else { continue }
                // (Names compared only at their lengths: no string per applied command.)
                if argv.count >= 2 && argv[0].count == 8 && Server.lower(argv[0]) == "replconf" && Server.lower(argv[1]) == "getack" {
                    sendAck()
                } else if !(argv.count == 1 && argv[0].count == 4 && Server.lower(argv[0]) == "ping") {
                    apply(argv)
                }
            }
        } catch {
            close(reason: "Protocol error from MASTER: \(error)")
            return false
        }
        return fd >= 0
    }

    // MARK: - Writing

    private func sendAck() {
        guard state == .streaming else { return }
        send(["REPLCONF", "ACK", "\(offset)"])
    }

    private func send(_ parts: [String]) {
        var out = Array("*\(parts.count)\r\n".utf8)
        for p in parts { out += Array("$\(p.utf8.count)\r\n".utf8) + Array(p.utf8) + [13, 10] }
        // A few dozen bytes on a connected socket: written at once (the kernel buffer takes it).
        let n = out.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n != out.count { close(reason: "Error writing to MASTER: \(n < 0 ? String(cString: strerror(errno)) : "short write")") }
    }
}
