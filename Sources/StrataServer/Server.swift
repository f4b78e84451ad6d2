#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine
import CStrataAlloc

/// Set from signal handlers, read by the cron.
nonisolated(unsafe) private var shutdownSignal: Int32 = 0

/// `strata serve`: StrataEngine behind Redis's protocol on an epoll loop, single-threaded
/// command execution as in Redis, loading and saving the data directory as redis-server does.
public final class Server: ScriptHost {
    public private(set) var config: ServerConfig
    let engine: Engine
    let loop: EventLoop
    private var listeners: [Int32] = []
    private var clients: [Int32: Client] = [:]
    private var nextClientID: Int64 = 1
    /// Writes since the last successful save (save points, INFO): the engine counts them.
    private var dirty: Int {
        get { engine.dirty }
        set { engine.dirty = newValue }
    }
    private var lastSave: Int64
    private var lastSaveOK = true
    private var childPID: pid_t = 0
    /// The append-only file (appendonly yes).
    private var aof: AppendOnlyFile?
    /// What the running child writes: nil an RDB, else an AOF rewrite's temp base and name.
    private var aofRewrite: (tempBase: String, baseName: String, preamble: Bool)?
    private var aofRewriteScheduled = false
    private var aofRewrites = 0
    private var aofLastRewriteOK = true
    private var childStarted: Int64 = 0
    private var commandsProcessed = 0
    private var evictedKeys = 0
    /// ACL users. `aclActive` is false while only an unrestricted default user exists (no check
    /// is then made per command).
    private lazy var acl = ACL(serverCommands: Server.serverCommandInfo)
    private var aclActive = false
    private var appliedRequirepass: String?
    /// CLIENT PAUSE: until when (ms, 0 = not paused), writes only or all, and who waits.
    private var pauseUntil: Int64 = 0
    private var pauseWritesOnly = false
    private var pausedClients: [Client] = []
    /// Lua (nil when liblua5.1 is missing: `scriptingUnavailable` says why).
    private var scripting: Scripting?
    /// The functions engine: its own interpreter, as Redis keeps (SCRIPT FLUSH leaves it).
    private var functions: Scripting?
    /// Libraries from the RDB/AOF that did not compile: saved again unchanged until FUNCTION FLUSH.
    private var unloadedLibraries: [[UInt8]] = []
    private var scriptingUnavailable = ""
    /// The client whose script runs (not read meanwhile) and the run, once past the busy threshold.
    private var scriptCaller: Client?
    private var busyScript: ScriptRun?
    /// Executes the commands scripts call (no connection; blocking commands do not block).
    private lazy var scriptClient: Client = {
        let c = Client(fd: -1, id: 0, limits: RESPCommandReader.Limits(), authenticated: true, now: EventLoop.nowMs(), address: "lua")
        c.executingTransaction = true
        return c
    }()
    /// Whether the last command found memory over maxmemory after evicting (scripts' OOM rules).
    private var outOfMemory = false
    /// redis.set_repl's targets for what is propagated now (1 AOF, 2 replicas).
    private var replMask: UInt8 = 3
    private var stats = CommandStats()
    private var peakMemory = 0
    /// Allocated bytes once the server was set up, before any data (MEMORY STATS).
    private var startupMemory = 0
    /// `maxmemory` in bytes (0: no limit), kept out of the config table for the command path.
    private var maxmemoryBytes = 0
    private var connectionsReceived = 0
    private let startTime: Int64
    private var renamed: [String: String] = [:]   // new name -> real name
    private var disabled: Set<String> = []
    private var logFile: Int32 = 1
    private var shuttingDown = false

    final class Client {
        let fd: Int32
        let id: Int64
        let reader: RESPCommandReader
        let out = OutputBuffer()
        var state = ClientState()
        var name: Bytes = []
        var authenticated: Bool
        /// The ACL user the connection is authenticated as.
        var user = "default"
        var closeAfterReply = false
        /// In the server's pending writes (its output goes out before the loop next waits).
        var writeQueued = false
        /// Closed: its socket is gone (a queued write skips it).
        var closed = false
        /// A command held by CLIENT PAUSE.
        var pausedCommand: [Bytes]?
        /// The command a script runs for (FUNCTION STATS).
        var currentCommand: [Bytes] = []
        /// The protocol HELLO chose: 2 (RESP2) or 3 (RESP3).
        var resp = 2
        var multi: [[Bytes]]? = nil
        var multiError = false
        /// WATCHed keys, and whether one of them was touched since (EXEC then fails).
        var watched: [WatchKey] = []
        /// Watched keys that were already logically expired when WATCHed (Redis's wk->expired).
        var watchedExpired: Set<WatchKey> = []
        var dirtyCAS = false
        /// Set while a blocking command waits (its input is not read meanwhile, as in Redis).
        var blocked: BlockedCall?
        var executingTransaction = false
        /// Pub/sub subscriptions, in subscription order.
        var channels: [Bytes] = []
        var patterns: [Bytes] = []
        var subscriptionCount: Int { channels.count + patterns.count }
        var lastInteraction: Int64
        let address: String
        /// A replica (SYNC/PSYNC done): receives the write stream; its input gets no replies.
        var isReplica = false
        var isMonitor = false
        enum ReplyMode { case on, off, skipNext, skipThis }
        var replyMode = ReplyMode.on
        /// When the output buffer first went over the soft limit (0: it is not over).
        var softLimitSince: Int64 = 0
        var replicaDB = -1
        /// A replica's REPLCONF listening-port (INFO replication, ROLE).
        var listeningPort = 0
        /// When a replica last sent REPLCONF ACK (ms).
        var lastAck: Int64 = 0
        var rdbOnly = false
        /// The socket's own end (CLIENT LIST laddr).
        var localAddress = ""
        let created: Int64
        /// The last command's name as sent, and its subcommand for a server command with
        /// subcommands (CLIENT LIST cmd=client|list).
        var lastName: Bytes = []
        var lastSub: Bytes?
        init(fd: Int32, id: Int64, limits: RESPCommandReader.Limits, authenticated: Bool, now: Int64, address: String) {
            self.fd = fd; self.id = id
            reader = RESPCommandReader(limits: limits)
            self.authenticated = authenticated
            lastInteraction = now
            created = now
            self.address = address
        }
    }

    /// Replaces loading dbfilename: fills the engine and returns the function libraries and a
    /// log line (`strata serve --from-backup`).
    public var initialData: ((Engine) throws -> ([[UInt8]], String))?

    public init(config: ServerConfig) throws {
        self.config = config
        engine = Engine(databases: config.int("databases"))
        loop = try EventLoop()
        startTime = Engine.systemClock()
        lastSave = startTime / 1000
        for (from, to) in config.renames {
            disabled.insert(from)
            if !to.isEmpty { renamed[to.lowercased()] = from }
        }
        applyConfig()
        startupMemory = Server.usedMemory()
    }

    // MARK: logging

    private static let levels = ["debug": 0, "verbose": 1, "notice": 2, "warning": 3]

    /// Redis's log line: `pid:M 24 Nov 2026 10:42:17.123 * message`.
    public func log(_ level: String, _ message: String) {
        guard (Server.levels[level] ?? 2) >= (Server.levels[config.string("loglevel").lowercased()] ?? 2) else { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        _ = strftime(&buf, 64, "%d %b %Y %H:%M:%S", &tmv)
        let ms = String(format3: Int(ts.tv_nsec) / 1_000_000)
        let mark = ["debug": ".", "verbose": "-", "notice": "*", "warning": "#"][level] ?? "*"
        let line = "\(getpid()):M \(String(cString: buf)).\(ms) \(mark) \(message)\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(logFile, $0.baseAddress, $0.count - 1) }
    }

    // MARK: startup

    /// Loads the data directory, binds, and serves until shutdown. Returns the exit status.
    public func run() -> Int32 {
        let logPath = config.string("logfile")
        if !logPath.isEmpty {
            let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 {
                let m = "Can't open the log file: \(String(cString: strerror(errno)))\n"
                _ = m.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
                return 1
            }
            logFile = fd
        }
        if config.bool("daemonize") {
            let pid = fork()
            if pid < 0 { log("warning", "fork: \(String(cString: strerror(errno)))"); return 1 }
            if pid > 0 { _exit(0) }
            setsid()
            if logPath.isEmpty { logFile = open("/dev/null", O_WRONLY) }
        }
        log("warning", "oO0OoO0OoO0Oo Strata is starting oO0OoO0OoO0Oo")
        log("warning", "Strata (Redis 7.0 compatible) version=\(Server.version), pid=\(getpid()), just started")
        if !config.ignored.isEmpty {
            log("notice", "Configuration directives accepted and ignored by strata serve: \(config.ignored.joined(separator: ", "))")
        }
        let dir = config.string("dir")
        if chdir(dir) != 0 {
            log("warning", "Can't chdir to '\(dir)': \(String(cString: strerror(errno)))")
            return 1
        }
        do {
            if config.bool("appendonly") {
                try startAOF()
            } else if let load = initialData {
                // serve --from-backup: the dataset comes from a restore, not from dir.
                let (functions, line) = try load(engine)
                functionLibraries = functions
                log("notice", line)
            } else {
                try loadData()
            }
        } catch {
            log("warning", "\(error)")
            log("warning", "Fatal error loading the DB, check the file named above. Exiting.")
            return 1
        }
        do { try listen() } catch {
            log("warning", "\(error)")
            return 1
        }
        let pidfile = config.string("pidfile")
        if !pidfile.isEmpty || config.bool("daemonize") {
            let path = pidfile.isEmpty ? "/var/run/redis.pid" : pidfile
            let text = "\(getpid())\n"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 { _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }; close(fd) }
            else { log("warning", "Failed to write PID file: \(String(cString: strerror(errno)))") }
        }
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM) { _ in shutdownSignal = SIGTERM }
        signal(SIGINT) { _ in shutdownSignal = SIGINT }
        let (api, why) = LuaAPI.load()
        if let api {
            scripting = Scripting(api: api, host: self)
            let f = Scripting(api: api, host: self)
            functions = f
            applyConfig()
            // The libraries the RDB or AOF brought: compiled now (one that fails is kept as saved).
            for code in functionLibraries {
                if case .failure(let e) = f.loadLibrary(code, replace: false) {
                    // Kept as it was saved (never dropped by a later save), just not callable.
                    let name = (try? Scripting.libraryMetadata(code).get().name) ?? "?"
                    log("warning", "Function library '\(name)' from the data files not loaded (kept as saved): \(e.message)")
                    unloadedLibraries.append(code)
                }
            }
        } else {
            scriptingUnavailable = why
            log("warning", why)
        }
        log("notice", "Ready to accept connections")
        if let v = config.values["replicaof"], v.count == 2, let port = Int(v[1]) {
            startReplication(host: v[0], port: port)
        }
        let hz = max(1, min(500, config.int("hz")))
        loop.run(periodMs: 1000 / hz, beforeSleep: { writePending() }) { cron() }
        let status = finalShutdown()
        if !pidfile.isEmpty { unlink(pidfile) }
        return status
    }

    public static let version = "7.0.15"

    /// appendonly yes: load the appendonlydir (as Redis 7.0: the dump file is not read), create
    /// a base when there is no AOF, open the last incr file and send every write to it.
    private func startAOF() throws {
        let a = AppendOnlyFile(dir: config.string("appenddirname"), prefix: config.string("appendfilename")) { [unowned self] l, m in self.log(l, m) }
        a.fsyncPolicy = config.string("appendfsync").lowercased()
        a.timestamps = config.bool("aof-timestamp-enabled")
        a.rdbPreamble = config.bool("aof-use-rdb-preamble")
        let t0 = EventLoop.nowMs()
        if let load = initialData {
            if access(a.manifestPath, F_OK) == 0 {
                throw ServerError("--from-backup with appendonly yes: \(config.string("dir"))/\(a.manifestPath) already holds an AOF; restoring over it would mix two datasets (use an empty dir)")
            }
            let (functions, line) = try load(engine)
            functionLibraries = functions
            log("notice", line)
        } else {
            let (functions, existed) = try a.load(into: engine, loadTruncated: config.bool("aof-load-truncated"), checkPackedDuplicates: sanitizesPayloads)
            functionLibraries = functions
            if existed {
                var keys = 0
                for db in engine.databases { keys += db.count }
                log("notice", "DB loaded from append only file: \(String(format3ms: EventLoop.nowMs() - t0)) seconds (\(keys) keys)")
            }
        }
        try a.open(engine: engine, functions: functionLibraries)
        aof = a
        installPropagation()
    }

    /// CONFIG SET appendonly: on writes a fresh base now and starts appending; off stops
    /// appending (the files stay). Returns an error reply, or nil.
    private func switchAppendOnly(on: Bool) -> Reply? {
        if !on {
            aof?.close(now: Engine.systemClock())
            aof = nil
            installPropagation()
            log("notice", "Background append only file rewriting stopped: AOF turned off")
            return nil
        }
        if childPID != 0 { return .error("ERR CONFIG SET failed (possibly related to argument 'appendonly') - a background save or rewrite is running; try again when it ends") }
        let a = AppendOnlyFile(dir: config.string("appenddirname"), prefix: config.string("appendfilename")) { [unowned self] l, m in self.log(l, m) }
        a.fsyncPolicy = config.string("appendfsync").lowercased()
        a.timestamps = config.bool("aof-timestamp-enabled")
        a.rdbPreamble = config.bool("aof-use-rdb-preamble")
        do { try a.startFresh(engine: engine, functions: functionLibraries, keepHistory: config.bool("aof-disable-auto-gc")) } catch {
            return .error("ERR CONFIG SET failed (possibly related to argument 'appendonly') - \(error)")
        }
        aof = a
        installPropagation()
        log("notice", "AOF turned on: wrote a new base from the current dataset")
        return nil
    }

    // MARK: propagation (AOF and replicas)

    private var replicas: [Client] = []
    /// The writes of the current top-level command, sent together when it ends.
    private var pendingCall: [([Bytes], Int, UInt8)]?

    /// The engine reports writes only while someone listens (building them costs).
    private func installPropagation() {
        engine.propagate = (aof != nil || !replicas.isEmpty) ? { [unowned self] args, db in self.propagated(args, db) } : nil
    }

    private func propagated(_ args: [Bytes], _ db: Int) {
        if replMask == 0 { return }
        if pendingCall != nil { pendingCall!.append((args, db, replMask)); return }
        emit([(args, db)], wrap: false)      // the cron's expiry, outside any command
    }

    private func beginCall() {
        if pendingCall == nil { pendingCall = [] }
    }

    private func endCall() {
        guard let c = pendingCall else { return }
        pendingCall = nil
        if c.isEmpty { return }
        // Redis 7.0 wraps only when one command (or EXEC) propagated several.
        if c.allSatisfy({ $0.2 == 3 }) {
            emit(c.map { ($0.0, $0.1) }, wrap: c.count > 1)
            return
        }
        // A script's redis.set_repl sent some writes to the AOF only or the replicas only.
        let toAOF = c.filter { $0.2 & 1 != 0 }.map { ($0.0, $0.1) }, toReplicas = c.filter { $0.2 & 2 != 0 }.map { ($0.0, $0.1) }
        if !toAOF.isEmpty { aof?.emit(toAOF, wrap: toAOF.count > 1, now: Engine.systemClock()) }
        if !toReplicas.isEmpty {
            feedReplicas(toReplicas, wrap: toReplicas.count > 1)
        }
    }

    /// One command's writes to the AOF and to every replica (MULTI/EXEC when several, as Redis 7.0).
    private func emit(_ cmds: [([Bytes], Int)], wrap: Bool) {
        aof?.emit(cmds, wrap: wrap, now: Engine.systemClock())
        feedReplicas(cmds, wrap: wrap)
    }

    /// The same writes to every replica, in its own selected db.
    private func feedReplicas(_ cmds: [([Bytes], Int)], wrap: Bool) {
        for r in replicas {
            var bytes = [UInt8]()
            AppendOnlyFile.encode(cmds, wrap: wrap, selectedDB: &r.replicaDB, into: &bytes)
            r.out.put(bytes)
            flush(r)
        }
    }

    /// SYNC / PSYNC: the dataset as an RDB (`$<length>` transfer), then the write stream.
    private func startReplica(_ c: Client, psync: Bool) -> Reply {
        if c.multi != nil { return .error("ERR Command not allowed inside a transaction") }
        if c.isReplica { return .noReply }
        let sink = ByteSink()
        do {
            let writer = RDBWriter(sink: sink, target: Engine.dumpTarget)
            writer.compression = config.bool("rdbcompression")
            try engine.save(to: writer, functions: functionLibraries)
            try sink.flush()
        } catch {
            return .error("ERR can't produce the RDB for the replica: \(error)")
        }
        let rdb = sink.memory
        if psync { c.out.put(Array("+FULLRESYNC \(replicationID) 0\r\n".utf8)) }
        c.out.put(Array("$\(rdb.count)\r\n".utf8))
        c.out.put(rdb)
        log("notice", "Replica \(c.address) asks for synchronization; sent \(rdb.count) bytes of RDB\(c.rdbOnly ? " (rdb-only)" : "")")
        if c.rdbOnly {
            c.closeAfterReply = true
        } else {
            c.isReplica = true
            c.replicaDB = -1
            replicas.append(c)
            installPropagation()
        }
        return .noReply
    }

    private lazy var replicationID: String = Server.randomReplicationID()

    /// BGREWRITEAOF: a new incr file takes the writes, a forked child writes the new base.
    private func backgroundRewriteAOF() -> Bool {
        guard let aof else { return false }
        let names: (tempBase: String, baseName: String, preamble: Bool)
        aof.rdbPreamble = config.bool("aof-use-rdb-preamble")
        do { names = try aof.startRewrite(now: Engine.systemClock()) } catch {
            log("warning", "Can't rewrite the append only file: \(error)")
            aofLastRewriteOK = false
            return false
        }
        let pid = fork()
        if pid < 0 {
            log("warning", "Can't rewrite append only file in background: fork: \(String(cString: strerror(errno)))")
            aofLastRewriteOK = false
            return false
        }
        if pid == 0 {
            do { try AppendOnlyFile.writeBase(engine: engine, functions: functionLibraries, preamble: names.preamble, to: names.tempBase); _exit(0) } catch { _exit(1) }
        }
        childPID = pid
        childStarted = Engine.systemClock() / 1000
        aofRewrite = names
        aof.holdFsync = config.bool("no-appendfsync-on-rewrite")
        aofRewriteScheduled = false
        log("notice", "Background append only file rewriting started by pid \(pid)")
        return true
    }

    /// As redis-server loads files: packed encodings are checked for repeated fields and
    /// members only with sanitize-dump-payload yes ("clients" skips loading).
    private var sanitizesPayloads: Bool { config.string("sanitize-dump-payload").lowercased() == "yes" }

    private func loadData() throws {
        let file = config.string("dbfilename")
        var st = stat()
        guard stat(file, &st) == 0 else {
            log("notice", "No \(file) in \(config.string("dir")): starting with an empty dataset")
            return
        }
        let t0 = EventLoop.nowMs()
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ServerError("Can't open \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var options = RDBReader.Options()
        options.checkPackedDuplicates = sanitizesPayloads
        let reader = RDBReader(source: ByteSource(fileDescriptor: fd, knownSize: Int(st.st_size)), options: options)
        engine.loading = true
        defer { engine.loading = false }
        do {
            let report = try engine.load(from: reader)
            functionLibraries = report.functions
            log("notice", "DB loaded from disk: \(String(format3ms: EventLoop.nowMs() - t0)) seconds (\(report.keys) keys, \(report.expiredSkipped) expired keys skipped)")
        } catch let e as FormatError {
            throw ServerError("Short read or corrupt RDB \(file) at byte offset \(e.offset): \(e.message)")
        }
    }

    private func listen() throws {
        let unixPath = config.string("unixsocket")
        if !unixPath.isEmpty {
            listeners.append(try bindUnixSocket(unixPath))
            log("notice", "The server is now ready to accept connections at \(unixPath)")
        }
        let port = config.int("port")
        guard port > 0 else {
            if unixPath.isEmpty { throw ServerError("Configured to not listen anywhere, exiting.") }
            for l in listeners { loop.add(l, .read) { [unowned self] _ in self.accept(l) } }
            return
        }
        var bound = 0
        for raw in config.binds {
            let optional = raw.hasPrefix("-")
            let addr = optional ? String(raw.dropFirst()) : raw
            do {
                listeners.append(try bindSocket(addr, port))
                bound += 1
            } catch {
                if optional { continue }
                throw ServerError("Warning: Could not create server TCP listening socket \(addr):\(port): \(error)")
            }
        }
        if bound == 0 { throw ServerError("Failed listening on port \(port) (TCP), aborting.") }
        for l in listeners { loop.add(l, .read) { [unowned self] _ in self.accept(l) } }
    }

    /// `unixsocket` (a stale socket file is replaced, as Redis does), mode `unixsocketperm`.
    private func bindUnixSocket(_ path: String) throws -> Int32 {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard bytes.count < capacity else { throw ServerError("Failed opening Unix socket: path too long (\(path))") }
        withUnsafeMutableBytes(of: &a.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw ServerError("Failed opening Unix socket: \(String(cString: strerror(errno)))") }
        unlink(path)
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        if r != 0 || Glibc.listen(fd, Int32(config.int("tcp-backlog"))) != 0 {
            let e = String(cString: strerror(errno)); close(fd)
            throw ServerError("Failed opening Unix socket: \(e)")
        }
        let perm = config.string("unixsocketperm")
        if perm != "0", let mode = mode_t(perm, radix: 8) { chmod(path, mode) }
        unixSocketPath = path
        return fd
    }

    private var unixSocketPath: String?

    private func bindSocket(_ host: String, _ port: Int) throws -> Int32 {
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw ServerError(String(cString: strerror(errno))) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var r: Int32
        if v6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host == "*" ? "::" : host, &a.sin6_addr) == 1 else { close(fd); throw ServerError("Invalid bind address '\(host)'") }
            r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host == "*" ? "0.0.0.0" : host, &a.sin_addr) == 1 else { close(fd); throw ServerError("Invalid bind address '\(host)'") }
            r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        if r != 0 || Glibc.listen(fd, Int32(config.int("tcp-backlog"))) != 0 {
            let e = String(cString: strerror(errno)); close(fd); throw ServerError(e)
        }
        return fd
    }

    // MARK: clients

    private func accept(_ listener: Int32) {
        while true {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(listener, $0, &len) } }
            if fd < 0 { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            connectionsReceived += 1
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let (address, loopback) = Server.describe(ss)
            if clients.count >= config.int("maxclients") {
                _ = "-ERR max number of clients reached\r\n".utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
                close(fd)
                continue
            }
            if config.bool("protected-mode") && config.string("requirepass").isEmpty && !loopback && config.values["bind"] == nil {
                let msg = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"
                _ = msg.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
                close(fd)
                continue
            }
            var limits = RESPCommandReader.Limits()
            limits.maxBulkLength = config.bytes("proto-max-bulk-len")
            let c = Client(fd: fd, id: nextClientID, limits: limits, authenticated: defaultUserOpen,
                           now: EventLoop.nowMs(), address: address)
            var local = sockaddr_storage()
            var localLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            if withUnsafeMutablePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLen) } }) == 0 {
                c.localAddress = Int32(local.ss_family) == AF_UNIX ? config.string("unixsocket") + ":0" : Server.describe(local).0
            }
            nextClientID += 1
            clients[fd] = c
            loop.add(fd, .read) { [unowned self] ev in self.clientEvent(c, ev) }
        }
    }

    static func describe(_ ss: sockaddr_storage) -> (String, Bool) {
        var s = ss
        var buf = [CChar](repeating: 0, count: 64)
        if Int32(s.ss_family) == AF_UNIX { return ("/unixsocket:0", true) }
        if Int32(s.ss_family) == AF_INET {
            return withUnsafePointer(to: &s) { p in p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var addr = a.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &buf, 64)
                let host = String(cString: buf)
                return ("\(host):\(UInt16(bigEndian: a.pointee.sin_port))", host.hasPrefix("127."))
            } }
        }
        return withUnsafePointer(to: &s) { p in p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
            var addr = a.pointee.sin6_addr
            inet_ntop(AF_INET6, &addr, &buf, 64)
            let host = String(cString: buf)
            return ("[\(host)]:\(UInt16(bigEndian: a.pointee.sin6_port))", host == "::1")
        } }
    }

    private func clientEvent(_ c: Client, _ events: UInt32) {
        if events & Epoll.OUT != 0 {
            aof?.flush(now: Engine.systemClock())
            writeOut(c)
        }
        if events & (Epoll.IN | Epoll.HUP | Epoll.ERR) != 0 { readFrom(c) }
    }

    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// `client-query-buffer-limit`, parsed once (checked after every read) and on CONFIG SET.
    private lazy var queryBufferLimit = config.bytes("client-query-buffer-limit")

    private func readFrom(_ c: Client) {
        if c === scriptCaller { return }
        let n = readBuffer.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { closeClient(c); return }
        if n < 0 { return }
        c.lastInteraction = EventLoop.nowMs()
        readBuffer.withUnsafeBytes { c.reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        processInput(c)
    }

    /// Runs the complete commands buffered for `c` (stopping while it is blocked), then writes.
    private func processInput(_ c: Client) {
        do {
            while !c.closeAfterReply && c.blocked == nil && c.pausedCommand == nil, let item = try c.reader.next() {
                if case .command(let args) = item { process(c, args); c.reader.recycle(args) }
            }
        } catch let e as FormatError {
            // Redis replies the protocol error, then closes this client only.
            reply(c, .error("ERR \(e.message)"))
            c.closeAfterReply = true
        } catch {
            closeClient(c); return
        }
        if c.reader.pendingBytes > queryBufferLimit {
            log("warning", "Closing client that reached max query buffer length (id=\(c.id) addr=\(c.address))")
            closeClient(c); return
        }
        flush(c)
    }

    private func reply(_ c: Client, _ r: Reply) { r.write(into: c.out, resp: c.resp) }

    /// Queues `c`'s output to be written before the loop next waits (`writePending`).
    @inline(__always)
    private func flush(_ c: Client) {
        guard !c.writeQueued else { return }
        c.writeQueued = true
        pendingWrites.append(c)
    }

    /// Clients with output to write (each once, in the order their output came).
    private var pendingWrites: [Client] = []
    private var writing: [Client] = []

    /// Writes the output the last round of events produced. The AOF reaches the file (and the
    /// disk, with appendfsync always) first, before any reply, as Redis's beforeSleep does.
    private func writePending() {
        guard !pendingWrites.isEmpty else { return }
        aof?.flush(now: Engine.systemClock())
        swap(&pendingWrites, &writing)
        for c in writing {
            c.writeQueued = false
            if !c.closed { writeOut(c) }
        }
        writing.removeAll(keepingCapacity: true)
    }

    /// Writes what the socket takes of `c`'s output; the rest waits for the socket to be
    /// writable (or the client is closed once over its output buffer limit).
    private func writeOut(_ c: Client) {
        while !c.out.isEmpty {
            let n = c.out.withUnsafeBytes { write(c.fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EAGAIN {
                    if enforceOutputLimits(c) { return }
                    loop.modify(c.fd, [.read, .write]); return
                }
                if errno == EINTR { continue }
                closeClient(c); return
            }
            c.out.removeFirst(n)
        }
        loop.modify(c.fd, .read)
        if c.closeAfterReply { closeClient(c) }
    }

    private func closeClient(_ c: Client) {
        guard clients[c.fd] != nil else { return }
        if c.isMonitor { monitors.removeAll { $0 === c } }
        if c.isReplica {
            replicas.removeAll { $0 === c }
            installPropagation()
            log("notice", "Connection with replica \(c.address) lost.")
        }
        unwatchAll(c)
        if c.blocked != nil { blockedClients.removeAll { $0 === c }; c.blocked = nil }
        for ch in c.channels { removeSubscriber(&channelSubscribers, ch, c) }
        for p in c.patterns { removeSubscriber(&patternSubscribers, p, c) }
        loop.remove(c.fd)
        clients[c.fd] = nil
        c.closed = true
        close(c.fd)
    }

    // MARK: commands

    static func lower(_ b: Bytes) -> String { String(decoding: b, as: UTF8.self).lowercased() }

    /// BLPOP and friends all start with "b" and are 5 to 10 bytes long; XREAD and XREADGROUP
    /// may block too (any case).
    @inline(__always)
    private static func maybeBlocking(_ name: Bytes) -> Bool {
        name.count >= 5 && name.count <= 10 && ((name[0] | 0x20) == UInt8(ascii: "b")
            || ((name[0] | 0x20) == UInt8(ascii: "x") && (name.count == 5 || name.count == 10)))   // XREAD, XREADGROUP
    }

    /// Commands the server handles itself (everything else goes to the engine).
    private static let serverCommands: Set<String> = ["acl", "fcall", "fcall_ro", "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "function", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "pubsub", "ping",
        "quit", "auth", "hello", "multi", "discard", "exec", "client", "info",
        "config", "save", "bgsave", "bgrewriteaof", "sync", "psync", "replconf", "replicaof", "slaveof", "role", "slowlog", "monitor", "wait", "latency", "memory", "lastsave", "time", "shutdown", "command", "debug", "watch", "unwatch", "reset"]
    private static let serverCommandBytes: [[UInt8]] = serverCommands.map { Array($0.utf8) }

    /// Server command names by length and first letter (a-z): a name is compared only with the
    /// few of its own length and initial (most engine commands match none).
    private static let serverCommandBuckets: [[[UInt8]]] = {
        var t = [[[UInt8]]](repeating: [], count: 16 * 26)
        for c in serverCommandBytes where c.count < 16 { t[c.count * 26 + Int(c[0] &- 97)].append(c) }
        return t
    }()

    /// True when `name` (any case) is a server command: bytes compared with ASCII case folding,
    /// no String and no hashing (this runs for every command).
    @inline(__always)
    private static func maybeServerCommand(_ name: Bytes) -> Bool {
        let n = name.count
        guard n >= 3 && n <= 12 else { return false }
        let initial = Int((name[0] | 0x20) &- 97)
        guard initial < 26 else { return false }
        let bucket = serverCommandBuckets[n * 26 + initial]
        if bucket.isEmpty { return false }
        return name.withUnsafeBufferPointer { b in
            for cand in bucket {
                var same = true
                for i in 1..<n where (b[i] >= 65 && b[i] <= 90 ? b[i] | 0x20 : b[i]) != cand[i] { same = false; break }
                if same { return true }
            }
            return false
        }
    }

    private func process(_ c: Client, _ argv: [Bytes]) {
        if c.isReplica {
            // A replica's REPLCONF ACK and the like get no reply, as in Redis; the ACK's time
            // counts for min-replicas-max-lag.
            if argv.count >= 2 && Server.lower(argv[0]) == "replconf" && Server.lower(argv[1]) == "ack" { c.lastAck = EventLoop.nowMs() }
            return
        }
        // CLIENT PAUSE: the command waits (and the client's later input with it) until the pause ends.
        if pauseUntil > 0 && Server.pauses(argv, c: c, writesOnly: pauseWritesOnly) {
            if EventLoop.nowMs() < pauseUntil {
                c.pausedCommand = argv
                pausedClients.append(c)
                return
            }
            pauseUntil = 0
        }
        if let err = aof?.lastWriteError, CommandTable.shared.lookup(Server.lower(argv[0]))?.flags.contains(.write) == true {
            reply(c, .error("MISCONF Errors writing to the AOF file: \(err)"))
            return
        }
        let timed = slowlogThreshold >= 0 || latencyThresholdMs > 0
        let t0 = timed ? Server.microseconds() : 0
        // CLIENT REPLY OFF|SKIP: the command runs, its reply is dropped.
        // (Subscription confirmations are sent even so: Redis writes them as pushes, in RESP2
        // too, and pushes pass CLIENT REPLY OFF.)
        let mark = c.replyMode != .on && Server.subscriptionCommands.contains(Server.lower(argv[0])) ? Int.max : c.out.count
        if c.replyMode == .skipNext { c.replyMode = .skipThis }
        defer {
            switch c.replyMode {
            case .off: c.out.truncate(to: mark)
            case .skipThis: c.out.truncate(to: mark); c.replyMode = .on
            default: break
            }
        }
        // A script is shown before the commands it runs (Redis feeds EVAL and FCALL first).
        let scriptShownFirst = !monitors.isEmpty && c.multi == nil && Server.scriptCommands.contains(Server.lower(argv[0]))
        if scriptShownFirst { feedMonitors(c, argv) }
        if engine.propagate != nil {
            // What one command propagates goes out together (MULTI/EXEC when several).
            beginCall()
            processCommand(c, argv)
            endCall()
        } else {
            processCommand(c, argv)
        }
        let took = timed ? Server.microseconds() - t0 : 0
        if timed {
            if slowlogThreshold >= 0 && took >= slowlogThreshold && c.blocked == nil { slowlogAdd(c, argv, took) }
            if latencyThresholdMs > 0 && took / 1000 >= latencyThresholdMs { latencyRecord("command", took / 1000) }
        }
        // Stats: a command queued by MULTI counts when EXEC runs it.
        let queued = c.multi != nil && c.out.matches(Server.queuedReply, at: mark)
        if !queued {
            // (EXEC's reply holds its commands' errors: they were counted one by one.)
            let isError = c.out.count > mark && c.out[mark] == UInt8(ascii: "-")
            recordStat(argv, usec: took, error: isError ? c.out.bytes((mark + 1)..<min(c.out.count, mark + 65))[...] : nil)
        }
        // A command queued by MULTI is shown when EXEC runs it, not now.
        if !monitors.isEmpty && !scriptShownFirst && (c.multi == nil || Server.lower(argv[0]) == "multi") { feedMonitors(c, argv) }
    }

    private static let scriptCommands: Set<String> = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]

    static let queuedReply = Array("+QUEUED\r\n".utf8)

    /// Server commands whose first argument is a subcommand (shown as `client|list`).
    private static let containerCommands: Set<String> = ["client", "config", "command", "acl", "slowlog", "latency", "script",
                                                         "function", "pubsub", "memory", "debug", "object", "xinfo", "xgroup", "cluster", "module"]

    /// One CLIENT LIST line, with the fields and flags of Redis 7.0's (`argv` is the command
    /// running for the client asking, whose arguments argv-mem counts).
    private func clientLine(_ x: Client, now: Int64, argv: [Bytes]?) -> String {
        var flags = ""
        if x.isMonitor { flags += "O" } else if x.isReplica { flags += "S" }
        if x.subscriptionCount > 0 { flags += "P" }
        if x.multi != nil { flags += "x" }
        if x.blocked != nil { flags += "b" }
        if x.dirtyCAS { flags += "d" }
        if x.closeAfterReply { flags += "c" }
        if x.address == "/unixsocket:0" { flags += "U" }
        if flags.isEmpty { flags = "N" }
        var cmd = x.lastName.isEmpty ? "NULL" : Server.lower(x.lastName)
        if let sub = x.lastSub { cmd += "|" + Server.lower(sub) }
        let addr = x.address == "/unixsocket:0" ? config.string("unixsocket") + ":0" : x.address
        let argvMem = argv?.reduce(0) { $0 + $1.count } ?? 0
        let multiMem = x.multi?.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } ?? 0
        let qbuf = x.reader.bufferedBytes, qfree = x.reader.freeBytes
        return "id=\(x.id) addr=\(addr) laddr=\(x.localAddress) fd=\(x.fd) name=\(String(decoding: x.name, as: UTF8.self)) age=\((now - x.created) / 1000) idle=\((now - x.lastInteraction) / 1000) flags=\(flags) db=\(x.state.db) sub=\(x.channels.count) psub=\(x.patterns.count) ssub=0 multi=\(x.multi.map { $0.count } ?? -1) qbuf=\(qbuf) qbuf-free=\(qfree) argv-mem=\(argvMem) multi-mem=\(multiMem) rbs=\(qbuf + qfree) rbp=\(qbuf) obl=0 oll=0 omem=\(x.out.count) tot-mem=\(qbuf + qfree + x.out.count + argvMem + multiMem) events=\(x.out.isEmpty ? "r" : "rw") cmd=\(cmd) user=\(x.user) redir=-1 resp=\(x.resp)\n"
    }

    private func recordStat(_ argv: [Bytes], usec: Int64, error: ArraySlice<UInt8>?) {
        if let i = stats.cachedEntry(argv) { stats.record(i, usec: usec, error: error); return }
        let name = stats.entry(argv) { [unowned self] n in self.serverCommand(n) != nil || CommandTable.shared.lookup(n) != nil || Server.blockingCommands.contains(n) }
        stats.record(name, usec: usec, error: error)
    }

    // MARK: COMMAND, LATENCY

    /// The names the server answers besides the engine's commands.
    private static let serverCommandInfo: [(String, Int, [String])] = [
        ("auth", -2, ["noscript", "loading", "stale", "fast", "no_auth"]), ("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth"]),
        ("multi", 1, ["noscript", "loading", "stale", "fast"]), ("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"]),
        ("discard", 1, ["noscript", "loading", "stale", "fast"]), ("watch", -2, ["noscript", "loading", "stale", "fast"]),
        ("unwatch", 1, ["noscript", "loading", "stale", "fast"]), ("subscribe", -2, ["pubsub", "noscript", "loading", "stale"]),
        ("psubscribe", -2, ["pubsub", "noscript", "loading", "stale"]), ("unsubscribe", -1, ["pubsub", "noscript", "loading", "stale"]),
        ("punsubscribe", -1, ["pubsub", "noscript", "loading", "stale"]), ("publish", 3, ["pubsub", "loading", "stale", "fast"]),
        ("pubsub", -2, []), ("client", -2, []), ("info", -1, ["loading", "stale"]), ("config", -2, []),
        ("save", 1, ["admin", "noscript"]), ("bgsave", -1, ["admin", "noscript"]), ("bgrewriteaof", 1, ["admin", "noscript"]),
        ("lastsave", 1, ["loading", "stale", "fast"]), ("time", 1, ["loading", "stale", "fast"]), ("shutdown", -1, ["admin", "noscript", "loading", "stale"]),
        ("command", -1, ["loading", "stale"]), ("slowlog", -2, []), ("monitor", 1, ["admin", "noscript", "loading", "stale"]),
        ("sync", 1, ["admin", "noscript"]), ("psync", -3, ["admin", "noscript"]),
        ("replicaof", 3, ["admin", "noscript", "stale"]), ("slaveof", 3, ["admin", "noscript", "stale"]),
        ("role", 1, ["noscript", "loading", "stale", "fast"]), ("replconf", -1, ["admin", "noscript", "loading", "stale"]),
        ("wait", 3, ["noscript"]), ("latency", -2, []), ("memory", -2, []), ("function", -2, []), ("quit", -1, ["noscript", "loading", "stale", "fast"]),
        ("reset", 1, ["noscript", "loading", "stale", "fast"]),
        ("eval", -3, ["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale"]),
        ("evalsha", -3, ["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale"]),
        ("eval_ro", -3, ["noscript", "skip_monitor", "no_mandatory_keys", "stale", "readonly"]),
        ("evalsha_ro", -3, ["noscript", "skip_monitor", "no_mandatory_keys", "stale", "readonly"]),
        ("script", -2, ["noscript"]), ("acl", -2, ["admin", "noscript", "loading", "stale"]),
        ("fcall", -3, ["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale"]),
        ("fcall_ro", -3, ["noscript", "skip_monitor", "no_mandatory_keys", "stale", "readonly"]),
    ]

    private static let serverCommandInfoByName: [String: (String, Int, [String])] =
        Dictionary(serverCommandInfo.map { ($0.0, $0) }, uniquingKeysWith: { a, _ in a })

    private func commandInfo(_ name: String) -> Reply? {
        if let cmd = CommandTable.shared.lookup(name) {
            var flagNames = cmd.flags.map(\.rawValue).sorted()
            if Server.movableKeys.contains(name) { flagNames.append("movablekeys") }
            let flags = flagNames.map { Reply.status($0) }
            return .array([.bulk(Array(name.utf8)), .integer(Int64(cmd.arity)), .set(flags), .integer(Int64(cmd.firstKey)),
                           .integer(Int64(cmd.lastKey)), .integer(Int64(cmd.keyStep)), .set([]), .set([]), .set([]), .array([])])
        }
        if let s = Server.serverCommandInfo.first(where: { $0.0 == name }) {
            return .array([.bulk(Array(name.utf8)), .integer(Int64(s.1)), .set((s.2 + (Server.movableKeys.contains(name) ? ["movablekeys"] : [])).map { .status($0) }), .integer(0), .integer(0), .integer(0),
                           .set([]), .set([]), .set([]), .array([])])
        }
        return nil
    }

    /// Commands whose key positions depend on their arguments (a numkeys count, STREAMS, STORE
    /// options): COMMAND INFO flags them movablekeys, as Redis does.
    static let movableKeys: Set<String> = ["zunionstore", "zinterstore", "zdiffstore", "zunion", "zinter", "zdiff", "zintercard",
        "sintercard", "lmpop", "blmpop", "zmpop", "bzmpop", "xread", "xreadgroup", "eval", "evalsha", "eval_ro", "evalsha_ro",
        "fcall", "fcall_ro", "sort", "sort_ro", "migrate", "georadius", "georadiusbymember"]

    private func commandCommand(_ a: [Bytes]) -> Reply {
        let sub = a.count > 1 ? Server.lower(a[1]) : ""
        let allNames = Array(CommandTable.shared.commands.keys) + Server.serverCommandInfo.map(\.0)
        switch sub {
        case "": return .array(allNames.sorted().compactMap { commandInfo($0) })
        case "count": return .integer(Int64(Set(allNames).count))
        case "list":
            // COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
            var names = Set(allNames)
            if a.count > 2 {
                guard a.count == 5, Server.lower(a[2]) == "filterby" else { return .error("ERR syntax error") }
                switch Server.lower(a[3]) {
                case "module": names = []   // no modules
                case "aclcat":
                    let cat = Server.lower(a[4])
                    names = names.filter { acl.categoriesOf[$0]?.contains(cat) == true }
                case "pattern": names = names.filter { Glob.matches(a[4], Array($0.utf8), caseless: true) }
                default: return .error("ERR syntax error")
                }
            }
            return .array(names.sorted().map { .bulk(Array($0.utf8)) })
        case "info":
            let names = a.count > 2 ? a.dropFirst(2).map { Server.lower($0) } : Set(allNames).sorted()
            return .array(names.map { commandInfo($0) ?? .null })
        case "docs":
            // Docs are not kept: an empty map (redis-cli then shows no hints).
            return .map([])
        case "getkeys":
            guard a.count >= 4 else { return .error("ERR wrong number of arguments for 'command|getkeys' command") }
            let args = Array(a.dropFirst(2))
            if ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"].contains(Server.lower(args[0])) {
                // Scripts name their keys by count: script numkeys key... arg...
                guard args.count >= 3, let n = Decimal.parseCanonical(args[2]), n >= 0, n <= Int64(args.count - 3) else {
                    return .error("ERR Invalid arguments specified for command")
                }
                return .array(args[3..<(3 + Int(n))].map { .bulk($0) })   // none for 0, as Redis 7.0
            }
            if Server.lower(args[0]) == "memory" {
                // MEMORY USAGE key: the one subcommand with a key.
                guard args.count >= 3, Server.lower(args[1]) == "usage" else { return .error("ERR The command has no key arguments") }
                return .array([.bulk(args[2])])
            }
            guard let cmd = CommandTable.shared.lookup(Server.lower(args[0])) else { return .error("ERR Invalid command specified") }
            if (cmd.arity > 0 && args.count != cmd.arity) || (cmd.arity < 0 && args.count < -cmd.arity) { return .error("ERR Invalid number of arguments specified for command") }
            let keys = Server.allKeys(Server.lower(args[0]), args, cmd)
            if keys.isEmpty { return .error("ERR The command has no key arguments") }
            return .array(keys.map { .bulk($0) })
        default:
            return .error("ERR unknown subcommand '\(sub)'. Try COMMAND HELP.")
        }
    }

    /// Every key of a call, including those counted by a numkeys argument and XREAD's streams
    /// (Redis's key specs), for COMMAND GETKEYS.
    static func allKeys(_ name: String, _ args: [Bytes], _ cmd: Command) -> [Bytes] {
        func numkeys(at i: Int) -> [Bytes] {
            guard i < args.count, let n = Int(String(decoding: args[i], as: UTF8.self)), n > 0, i + n < args.count else { return [] }
            return Array(args[(i + 1)...(i + n)])
        }
        switch name {
        case "zunionstore", "zinterstore", "zdiffstore": return args.count > 1 ? [args[1]] + numkeys(at: 2) : []
        case "zunion", "zinter", "zdiff", "zintercard", "sintercard", "lmpop", "zmpop": return numkeys(at: 1)
        case "blmpop", "bzmpop": return numkeys(at: 2)
        case "xread", "xreadgroup":
            guard let s = args.firstIndex(where: { String(decoding: $0, as: UTF8.self).lowercased() == "streams" }) else { return [] }
            let n = (args.count - s - 1) / 2
            return Array(args[(s + 1)..<(s + 1 + n)])
        default: return cmd.keys(args)
        }
    }

    /// latency-monitor-threshold (ms, 0 = off): commands slower than it are recorded as the
    /// "command" event, as Redis's latency monitor does.
    private var latencyEvents: [String: (latest: Int64, latestMs: Int64, maxMs: Int64, history: [(Int64, Int64)])] = [:]

    private func latencyCommand(_ a: [Bytes]) -> Reply {
        let sub = a.count > 1 ? Server.lower(a[1]) : ""
        switch sub {
        case "help":
            guard a.count == 2 else { return .error("ERR wrong number of arguments for 'latency|help' command") }
            return .array(["LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "DOCTOR", "    Return a human readable latency analysis report.",
                           "GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
                           "HISTORY <event>", "    Return time-latency samples for the <event> class.",
                           "LATEST", "    Return the latest latency samples for all events.",
                           "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
                           "    (default: reset all data for all event classes)",
                           "HISTOGRAM [COMMAND ...]", "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                           "    If no commands are specified then all histograms are replied.",
                           "HELP", "    Prints this help."].map { .status($0) })
        case "latest":
            return .array(latencyEvents.keys.sorted().map { k in
                let e = latencyEvents[k]!
                return .array([.bulk(Array(k.utf8)), .integer(e.latest), .integer(e.latestMs), .integer(e.maxMs)])
            })
        case "history":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'latency|history' command") }
            let e = latencyEvents[String(decoding: a[2], as: UTF8.self)]
            return .array((e?.history ?? []).map { .array([.integer($0.0), .integer($0.1)]) })
        case "reset":
            let names = a.count > 2 ? a.dropFirst(2).map { String(decoding: $0, as: UTF8.self) } : Array(latencyEvents.keys)
            var n = 0
            for k in names where latencyEvents.removeValue(forKey: k) != nil { n += 1 }
            return .integer(Int64(n))
        case "histogram":
            let names = a.dropFirst(2).map { Server.lower($0) }
            return .map(stats.histograms(names).flatMap { name, calls, points -> [Reply] in
                [.bulk(Array(name.utf8)), .map([.bulk("calls"), .integer(Int64(calls)), .bulk("histogram_usec"),
                                                .map(points.flatMap { [Reply.integer($0.0), .integer(Int64($0.1))] })])]
            })
        case "doctor":
            return .bulk(Array((latencyEvents.isEmpty
                ? "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a little more.\n"
                : latencyEvents.keys.sorted().map { "\($0): latest \(latencyEvents[$0]!.latestMs) ms, max \(latencyEvents[$0]!.maxMs) ms\n" }.joined()).utf8))
        default:
            return .error("ERR unknown subcommand '\(sub)'. Try LATENCY HELP.")
        }
    }

    private func latencyRecord(_ event: String, _ ms: Int64) {
        let now = Engine.systemClock() / 1000
        var e = latencyEvents[event] ?? (now, 0, 0, [])
        e.latest = now; e.latestMs = ms; e.maxMs = max(e.maxMs, ms)
        if e.history.last?.0 == now { e.history[e.history.count - 1].1 = max(e.history[e.history.count - 1].1, ms) } else { e.history.append((now, ms)) }
        if e.history.count > 160 { e.history.removeFirst(e.history.count - 160) }
        latencyEvents[event] = e
    }

    // MARK: MONITOR

    private var monitors: [Client] = []
    private static let unmonitored: Set<String> = ["config", "debug", "save", "bgsave", "bgrewriteaof", "shutdown", "slowlog",
                                                   "monitor", "sync", "psync", "replconf", "lastsave", "info", "client"]

    /// `+<unix.micros> [<db> <addr>] "arg" ...`, each argument quoted as sdscatrepr does.
    private func feedMonitors(_ c: Client, _ argv: [Bytes]) {
        let name = Server.lower(argv[0])
        if Server.unmonitored.contains(name) || c.isMonitor { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let micros = String(Int(ts.tv_nsec) / 1000)
        var line = Array("+\(ts.tv_sec).\(String(repeating: "0", count: 6 - micros.count) + micros) [\(c.state.db) \(c === scriptClient ? "lua" : c.address == "/unixsocket:0" ? "unix:\(config.string("unixsocket"))" : c.address)]".utf8)
        for (i, a) in argv.enumerated() {
            line.append(32)
            let redact = i > 0 && (name == "auth" || (name == "hello" && i >= 3 && argv.count > 2))
            line += Server.repr(redact ? Array("(redacted)".utf8) : a)
        }
        line += [13, 10]
        for m in monitors { m.out.put(line); flush(m) }
    }

    /// Redis's sdscatrepr: a double-quoted string with \\, \", \n, \r, \t, \a, \b and \xNN escapes.
    static func repr(_ b: Bytes) -> Bytes {
        var out: Bytes = [34]
        let hex = Array("0123456789abcdef".utf8)
        for ch in b {
            switch ch {
            case 92, 34: out += [92, ch]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 7: out += [92, 97]
            case 8: out += [92, 98]
            case 32...126: out.append(ch)
            default: out += [92, 120, hex[Int(ch >> 4)], hex[Int(ch & 15)]]
            }
        }
        out.append(34)
        return out
    }

    // MARK: output buffer limits

    /// `client-output-buffer-limit <class> <hard> <soft> <seconds>` for this client's class.
    private func outputLimits(_ c: Client) -> (hard: Int, soft: Int, seconds: Int) {
        let cls = c.isReplica ? "replica" : (c.subscriptionCount > 0 ? "pubsub" : "normal")
        let v = config.outputBufferLimits[cls] ?? ServerConfig.outputBufferDefaults[cls]!
        return (ServerConfig.memory(v[0]) ?? 0, ServerConfig.memory(v[1]) ?? 0, Int(v[2]) ?? 0)
    }

    /// Redis's checkClientOutputBufferLimits: over the hard limit, or over the soft limit for
    /// longer than its seconds, the client is closed. Returns true when it was.
    private func enforceOutputLimits(_ c: Client) -> Bool {
        let (hard, soft, seconds) = outputLimits(c)
        let used = c.out.count
        var over = hard > 0 && used >= hard
        if !over && soft > 0 && used >= soft {
            let now = EventLoop.nowMs()
            if c.softLimitSince == 0 { c.softLimitSince = now } else if now - c.softLimitSince > Int64(seconds) * 1000 { over = true }
        } else if soft == 0 || used < soft {
            c.softLimitSince = 0
        }
        guard over else { return false }
        log("warning", "Client id=\(c.id) addr=\(c.address) name=\(String(decoding: c.name, as: UTF8.self)) scheduled to be closed ASAP for overcoming of output buffer limits.")
        closeClient(c)
        return true
    }

    // MARK: SLOWLOG

    private struct SlowlogEntry { let id: Int64; let time: Int64; let micros: Int64; let args: [Bytes]; let addr: String; let name: Bytes }
    private var slowlog: [SlowlogEntry] = []     // newest first
    private var slowlogNextID: Int64 = 0
    private lazy var slowlogThreshold: Int64 = Int64(config.int("slowlog-log-slower-than"))
    /// latency-monitor-threshold, parsed once (and on CONFIG SET), not per command.
    private lazy var latencyThresholdMs: Int64 = Int64(config.int("latency-monitor-threshold"))

    static func microseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// Redis's slowlogCreateEntry: at most 32 arguments (the last says how many more), each at
    /// most 128 bytes (with how many more).
    private func slowlogAdd(_ c: Client, _ argv: [Bytes], _ micros: Int64) {
        let name = Server.lower(argv[0])
        if name == "exec" { return }
        // Secrets are redacted as Redis does (AUTH's arguments, HELLO's AUTH user and password,
        // CONFIG SET of requirepass/masterauth).
        var argv = argv
        let redacted = Array("(redacted)".utf8)
        if name == "auth" { for i in 1..<argv.count { argv[i] = redacted } }
        if name == "hello", let i = argv.firstIndex(where: { Server.lower($0) == "auth" }), i + 2 < argv.count { argv[i + 1] = redacted; argv[i + 2] = redacted }
        if name == "config", argv.count >= 4, Server.lower(argv[1]) == "set" {
            for i in stride(from: 2, to: argv.count - 1, by: 2) where ["requirepass", "masterauth", "masteruser"].contains(Server.lower(argv[i])) { argv[i + 1] = redacted }
        }
        var args = [Bytes]()
        let n = min(argv.count, 32)
        for i in 0..<n {
            if n == 32 && i == 31 && argv.count > 32 { args.append(Array("... (\(argv.count - 31) more arguments)".utf8)); break }
            let a = argv[i]
            args.append(a.count > 128 ? Array(a.prefix(128)) + Array("... (\(a.count - 128) more bytes)".utf8) : a)
        }
        slowlog.insert(SlowlogEntry(id: slowlogNextID, time: Engine.systemClock() / 1000, micros: micros, args: args, addr: c.address, name: c.name), at: 0)
        slowlogNextID += 1
        let maxLen = max(0, config.int("slowlog-max-len"))
        if slowlog.count > maxLen { slowlog.removeLast(slowlog.count - maxLen) }
    }

    private func slowlogCommand(_ a: [Bytes]) -> Reply {
        let sub = a.count > 1 ? Server.lower(a[1]) : ""
        switch sub {
        case "get":
            guard a.count <= 3 else { return .error("ERR wrong number of arguments for 'slowlog|get' command") }
            var count = 10
            if a.count == 3 {
                guard let v = Int(String(decoding: a[2], as: UTF8.self)), v >= -1 else { return .error("ERR count should be greater than or equal to -1") }
                count = v == -1 ? slowlog.count : v
            }
            return .array(slowlog.prefix(count).map { e in
                .array([.integer(e.id), .integer(e.time), .integer(e.micros), .array(e.args.map { .bulk($0) }),
                        .bulk(Array(e.addr.utf8)), .bulk(e.name)])
            })
        case "len":
            return a.count == 2 ? .integer(Int64(slowlog.count)) : .error("ERR wrong number of arguments for 'slowlog|len' command")
        case "reset":
            guard a.count == 2 else { return .error("ERR wrong number of arguments for 'slowlog|reset' command") }
            slowlog.removeAll()
            return .ok
        case "help":
            return .array(["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET [<count>]",
                           "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                           "    Entries are made of:", "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                           "    client name", "LEN", "    Return the length of the slowlog.", "RESET", "    Reset the slowlog.", "HELP",
                           "    Prints this help."].map { .status($0) })
        default:
            return .error("ERR unknown subcommand or wrong number of arguments for '\(sub)'. Try SLOWLOG HELP.")
        }
    }

    private func processCommand(_ c: Client, _ argv: [Bytes]) {
        commandsProcessed += 1
        c.lastName = argv[0]
        if c.lastSub != nil { c.lastSub = nil }
        // The fast path: an authenticated client outside MULTI, no renamed commands, an engine command.
        if c.authenticated && c.multi == nil && c.subscriptionCount == 0 && renamed.isEmpty && disabled.isEmpty && maxmemoryBytes == 0 && busyScript == nil && !aclActive && masterLink == nil && minReplicasToWrite == 0 && !Server.maybeServerCommand(argv[0]) {
            if watchers.isEmpty && blockedClients.isEmpty && !Server.maybeBlocking(argv[0]) {
                engine.execute(argv, client: &c.state).write(into: c.out, resp: c.resp)
                return
            }
            let r = execute(c, Server.lower(argv[0]), argv)
            if case .status(let st) = r, st == Server.noReplyMarker { return }
            r.write(into: c.out, resp: c.resp)
            return
        }
        var args = argv
        var name = Server.lower(args[0])
        if args.count > 1 && Server.containerCommands.contains(name) { c.lastSub = args[1] }
        if let real = renamed[name] { name = real; args[0] = Array(real.utf8) }
        else if disabled.contains(name) {
            reply(c, unknown(argv)); return
        }
        if !c.authenticated && !["auth", "hello", "quit"].contains(name) {
            reply(c, .error("NOAUTH Authentication required.")); return
        }
        if aclActive && !["auth", "hello", "quit", "reset"].contains(name) {
            guard let u = acl.user(c.user), u.enabled else { closeClient(c); return }
            if let denial = aclDenial(u, name, args) { reject(c, name, denial.message); return }
        }
        if c.subscriptionCount > 0 && c.resp == 2 && !["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset"].contains(name) {
            reply(c, .error("ERR Can't execute '\(name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
            return
        }
        if let run = busyScript, !Server.allowedWhileBusy(name, args) {
            reject(c, name, "BUSY Redis is busy running a script. You can only call \(run.isFunction ? "FUNCTION KILL" : "SCRIPT KILL") or SHUTDOWN NOSAVE.")
            return
        }
        // What EXEC would run counts as EXEC's own flags (Redis's cmd_flags / cmd_inv_flags).
        // (Looked up only on a replica or under min-replicas-to-write.)
        lazy var writes = name == "exec" ? (c.multi ?? []).contains { Server.isWrite(Server.lower($0[0]), $0) } : Server.isWrite(name, args)
        // A replica whose link is down answers only "stale" commands (replica-serve-stale-data no).
        if let link = masterLink, !link.isUp, c !== masterClient, !config.bool("replica-serve-stale-data") {
            let stale = name == "exec" ? (c.multi ?? []).allSatisfy { Server.staleAllowed(Server.lower($0[0])) } : Server.staleAllowed(name)
            if !stale {
                reject(c, name, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
                return
            }
        }
        // min-replicas-to-write: writes need that many replicas that acknowledged recently.
        if minReplicasToWrite > 0 && masterLink == nil && c !== masterClient && writes {
            let need = minReplicasToWrite
            let lagMs = Int64(config.int("min-replicas-max-lag")) * 1000, now = EventLoop.nowMs()
            if replicas.filter({ now - $0.lastAck <= lagMs }).count < need {
                reject(c, name, "NOREPLICAS Not enough good replicas to write.")
                return
            }
        }
        // A replica refuses writes from its clients (replica-read-only yes); queued in MULTI, the
        // refusal fails the transaction, as Redis does.
        if masterLink != nil && c !== masterClient && config.bool("replica-read-only") && writes {
            reject(c, name, "READONLY You can't write against a read only replica.")
            return
        }
        outOfMemory = false
        // A replica applies its master's writes whatever its own maxmemory says (Redis's
        // replica-ignore-maxmemory yes).
        if maxmemoryBytes > 0 && c !== masterClient && !performEvictions() {
            outOfMemory = true
            // Out of memory: commands that may grow it are refused, and inside MULTI anything
            // but EXEC/DISCARD (the transaction then fails), as Redis does.
            func denyoom(_ n: String) -> Bool { CommandTable.shared.lookup(n)?.flags.contains(.denyoom) ?? false }
            var deny = denyoom(name) || (name == "function" && args.count > 1 && ["load", "restore"].contains(Server.lower(args[1])))
            if name == "exec", let q = c.multi { deny = q.contains { denyoom(Server.lower($0[0])) } }
            if c.multi != nil && !["exec", "discard", "quit", "reset"].contains(name) { deny = true }
            if deny {
                reject(c, name, "OOM command not allowed when used memory > 'maxmemory'.")
                return
            }
        }
        if c.multi != nil && ["save", "shutdown", "sync", "psync"].contains(name) {
            reject(c, name, "ERR Command not allowed inside a transaction")   // Redis's no-multi commands
            return
        }
        if c.multi != nil && !["exec", "discard", "multi", "watch", "quit", "reset"].contains(name) {
            if serverCommand(name) == nil && !engine.implements(args[0]) && !Server.blockingCommands.contains(name) {
                c.multiError = true; reply(c, unknown(argv)); return
            }
            c.multi!.append(args)
            reply(c, .status("QUEUED"))
            return
        }
        let r = execute(c, name, args)
        if case .status(let st) = r, st == Server.noReplyMarker { return }
        reply(c, r)
    }

    /// Redis's rejectCommand: a refused command inside MULTI fails the transaction; a refused
    /// EXEC discards it with EXECABORT and the reason.
    private func reject(_ c: Client, _ name: String, _ message: String) {
        if c.multi != nil && name == "exec" {
            c.multi = nil
            c.multiError = false
            unwatchAll(c)
            reply(c, .error("EXECABORT Transaction discarded because of: \(message)"))
            return
        }
        if c.multi != nil { c.multiError = true }
        reply(c, .error(message))
    }

    /// A handler's way to send nothing (SHUTDOWN closes the connection instead of replying).
    static let noReplyMarker = "\u{0}strata-no-reply"

    private func unknown(_ argv: [Bytes]) -> Reply { .error(Engine.unknownCommandMessage(argv)) }

    private func execute(_ c: Client, _ name: String, _ args: [Bytes]) -> Reply {
        if name == "debug" {
            if !config.bool("enable-debug-command") {
                return .error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
            }
            if let r = debugCommand(c, args) { return r }
            return engine.execute(args, client: &c.state)
        }
        if let handler = serverCommand(name) {
            let before = engine.dirty
            let r = handler(c, args)
            // (FLUSHDB, SWAPDB, ...: a group reader's stream may be gone.)
            if engine.dirty != before && !blockedClients.isEmpty {
                if holdBlocked > 0 { blockedReady = true } else { serveBlocked() }
            }
            return r
        }
        if Server.blockingCommands.contains(name) { return blockingCommand(c, name, args) }
        if name == "xread" || name == "xreadgroup", let r = blockingStreamRead(c, args) { return r }
        let before = engine.dirty
        let r = watchers.isEmpty ? engine.execute(args, client: &c.state) : runWatched(c, name, args)
        if engine.dirty != before && !blockedClients.isEmpty {
            if holdBlocked > 0 { blockedReady = true } else { serveBlocked() }
        }
        return r
    }

    // MARK: DEBUG

    private var activeExpireEnabled = true
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: commands refused in scripts are allowed (Redis's tests use it).
    private var scriptsMayRunAnything = false

    /// The DEBUG subcommands that need the server (persistence, the cron); nil: the engine's.
    private func debugCommand(_ c: Client, _ a: [Bytes]) -> Reply? {
        guard a.count >= 2 else { return .error("ERR wrong number of arguments for 'debug' command") }
        switch Server.lower(a[1]) {
        case "reload":
            // Save (unless NOSAVE), empty the dataset, load the dump back: what a restart does.
            let opts = a.dropFirst(2).map { Server.lower($0) }
            if !opts.contains("nosave") {
                do { try writeRDB(to: config.string("dbfilename")) } catch { return .error("ERR Error trying to save the DB: \(error)") }
            }
            if !opts.contains("noflush") { for db in engine.databases { db.dict.removeAll(); db.expires.removeAll() } }
            do { try loadData() } catch { return .error("ERR Error trying to load the RDB dump: \(error)") }
            log("notice", "DB reloaded by DEBUG RELOAD")
            return .ok
        case "loadaof":
            guard let aof else { return .error("ERR DEBUG LOADAOF needs appendonly yes") }
            aof.flush(now: Engine.systemClock())
            aof.sync(now: Engine.systemClock())
            for db in engine.databases { db.dict.removeAll(); db.expires.removeAll() }
            engine.propagate = nil
            defer { installPropagation() }
            do {
                let (functions, _) = try aof.load(into: engine, loadTruncated: config.bool("aof-load-truncated"), checkPackedDuplicates: sanitizesPayloads)
                functionLibraries = functions
            } catch { return .error("ERR Error loading the AOF: \(error)") }
            log("notice", "Append Only File loaded by DEBUG LOADAOF")
            return .ok
        case "sleep":
            guard a.count == 3, let secs = Double(String(decoding: a[2], as: UTF8.self)) else { return .error("ERR wrong number of arguments for 'debug|sleep' command") }
            usleep(useconds_t(max(0, secs) * 1_000_000))
            return .ok
        case "protocol":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'debug|protocol' command") }
            switch Server.lower(a[2]) {
            case "string": return .bulk("Hello World")
            case "integer": return .integer(12345)
            case "double": return .double(Array("3.141".utf8))
            case "bignum": return .bigNumber(Array("1234567999999999999999999999999999999".utf8))
            case "null": return .null
            case "array": return .array([.integer(0), .integer(1), .integer(2)])
            case "set": return .set([.integer(0), .integer(1), .integer(2)])
            case "map": return .map([.integer(0), .bool(false), .integer(1), .bool(true), .integer(2), .bool(false)])
            case "attrib":
                // An attribute precedes the reply for RESP3 clients; it is not a reply of its own.
                if c.resp >= 3 { c.out.put(Array("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n".utf8)) }
                return .bulk("Some real reply following the attribute")
            case "push":
                if c.resp < 3 { return .error("ERR RESP2 is not supported by this command") }
                reply(c, .push([.bulk("server-cpu-usage"), .integer(42)]))
                return .bulk("Some real reply following the push reply")
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "verbatim": return .verbatim(Array("This is a verbatim\nstring".utf8))
            default:
                return .error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
            }
        case "set-disable-deny-scripts":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'debug|set-disable-deny-scripts' command") }
            scriptsMayRunAnything = String(decoding: a[2], as: UTF8.self) != "0"
            return .ok
        case "set-active-expire":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'debug|set-active-expire' command") }
            activeExpireEnabled = String(decoding: a[2], as: UTF8.self) != "0"
            return .ok
        case "change-repl-id":
            return .ok
        case "quicklist-packed-threshold":
            // Strata's lists have no packed/plain node split: the threshold changes no reply.
            guard a.count == 3, ServerConfig.memory(String(decoding: a[2], as: UTF8.self)) != nil else {
                return .error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
            }
            return .ok
        case "populate":
            // DEBUG POPULATE count [prefix] [size]: prefix:N = "value:N" (zero-padded to size);
            // existing keys are left alone; nothing is propagated (as in Redis).
            guard a.count >= 3 && a.count <= 5, let n = Int(String(decoding: a[2], as: UTF8.self)), n >= 0 else {
                return .error("ERR value is out of range, must be positive")
            }
            let prefix = a.count >= 4 ? String(decoding: a[3], as: UTF8.self) : "key"
            let size = a.count == 5 ? Int(String(decoding: a[4], as: UTF8.self)) ?? -1 : 0
            if size < 0 { return .error("ERR value is out of range, must be positive") }
            let db = engine.databases[c.state.db]
            engine.propagate = nil
            defer { installPropagation() }
            for i in 0..<n {
                let key = Array("\(prefix):\(i)".utf8)
                if db.dict[key] != nil { continue }
                var v = Array("value:\(i)".utf8)
                if size > 0 { v = Array(v.prefix(size)) + [UInt8](repeating: 0, count: max(0, size - v.count)) }
                _ = engine.execute([Array("SET".utf8), key, v], client: &c.state)
            }
            return .ok
        case "object":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'debug|object' command") }
            // The key as stored, expired or not (Redis looks in the dictionary directly).
            guard c.state.db < engine.databases.count, let v = engine.databases[c.state.db].dict[a[2]] else { return .error("ERR no such key") }
            let length = max(0, ((try? RDBWriter.dumpPayload(v.rdbValue, target: Engine.dumpTarget))?.count ?? 11) - 11)
            return .status("Value at:0x0 refcount:1 encoding:\(v.encoding) serializedlength:\(length) lru:0 lru_seconds_idle:0")
        default:
            return nil
        }
    }

    // MARK: functions

    /// Function libraries loaded from the dump (their code as FUNCTION LOAD took it): kept and
    /// written back by every save, so serving a dump never drops them. Running them is scripting
    /// (not built yet); FUNCTION FLUSH removes them as Redis does.
    private var functionLibraries: [[UInt8]] = []

    /// FUNCTION LOAD / DELETE / FLUSH / LIST / DUMP / RESTORE / STATS / KILL / HELP.
    private func functionCommand(_ c: Client, _ a: [Bytes]) -> Reply {
        guard a.count >= 2 else { return .error("ERR wrong number of arguments for 'function' command") }
        let sub = Server.lower(a[1])
        func arity(_ ok: Bool) -> Reply? { ok ? nil : .error("ERR wrong number of arguments for 'function|\(sub)' command") }
        if sub == "help" {
            return .array(["FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "LOAD [REPLACE] <FUNCTION CODE>", "    Create a new library with the given library name and code.",
                           "DELETE <LIBRARY NAME>", "    Delete the given library.",
                           "LIST [LIBRARYNAME PATTERN] [WITHCODE]", "    Return general information on all the libraries:",
                           "    * Library name", "    * The engine used to run the Library", "    * Library description",
                           "    * Functions list", "    * Library code (if WITHCODE is given)",
                           "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                           "STATS", "    Return information about the current function running:", "    * Function name",
                           "    * Command used to run the function", "    * Duration in MS that the function is running",
                           "    If no function is running, return nil", "    In addition, returns a list of available engines.",
                           "KILL", "    Kill the current running function.", "FLUSH [ASYNC|SYNC]", "    Delete all the libraries.",
                           "    When called without the optional mode argument, the behavior is determined by the",
                           "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                           "    * ASYNC: Asynchronously flush the libraries.", "    * SYNC: Synchronously flush the libraries.",
                           "DUMP", "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                           "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                           "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                           "    control how to handle existing libraries (default APPEND):",
                           "    * FLUSH: delete all existing libraries.",
                           "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                           "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                           "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                           "      in case of functions name collision with another library).",
                           "HELP", "    Prints this help."].map { .status($0) })
        }
        if sub == "flush" {
            if a.count > 3 { return .error("ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.") }
            if a.count == 3 && !["async", "sync"].contains(Server.lower(a[2])) {
                return .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            }
            functions?.flushFunctions()
            unloadedLibraries = []
            functionLibraries = []
            functionsChanged(c, a)
            return .ok
        }
        guard let functions else { return .error("ERR \(scriptingUnavailable)") }
        switch sub {
        case "load":
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'function|load' command") }
            var replace = false
            var i = 2
            while i < a.count - 1 {
                guard Server.lower(a[i]) == "replace" else { return .error("ERR Unknown option given: \(String(decoding: a[i], as: UTF8.self))") }
                replace = true
                i += 1
            }
            if i >= a.count { return .error("ERR Function code is missing") }
            switch functions.loadLibrary(a[a.count - 1], replace: replace) {
            case .failure(let e): return .error(e.message)
            case .success(let name):
                functionsChanged(c, a)
                return .bulk(Array(name.utf8))
            }
        case "delete":
            if let e = arity(a.count == 3) { return e }
            guard functions.deleteLibrary(String(decoding: a[2], as: UTF8.self)) else { return .error("ERR Library not found") }
            functionsChanged(c, a)
            return .ok
        case "list":
            var withCode = false
            var pattern: Bytes?
            var i = 2
            while i < a.count {
                let o = Server.lower(a[i])
                if o == "withcode" && !withCode { withCode = true; i += 1; continue }
                if o == "libraryname" && pattern == nil {
                    guard i + 1 < a.count else { return .error("ERR library name argument was not given") }
                    pattern = a[i + 1]; i += 2; continue
                }
                return .error("ERR Unknown argument \(String(decoding: a[i], as: UTF8.self))")
            }
            return .array(functions.libraries.filter { pattern == nil || Glob.matches(pattern!, Array($0.name.utf8)) }.map { lib in
                var m: [Reply] = [.bulk("library_name"), .bulk(Array(lib.name.utf8)), .bulk("engine"), .bulk("LUA"),
                                  .bulk("functions"), .array(lib.functions.map { f in
                                      .map([.bulk("name"), .bulk(Array(f.name.utf8)),
                                            .bulk("description"), f.description.map { .bulk(Array($0.utf8)) } ?? .null,
                                            .bulk("flags"), .set(ScriptFlags.names.filter { f.flags.contains($0.1) }.map { .status($0.0) })])
                                  })]
                if withCode { m += [.bulk("library_code"), .bulk(lib.code)] }
                return .map(m)
            })
        case "dump":
            if let e = arity(a.count == 2) { return e }
            guard let p = try? RDBWriter.functionsPayload(functions.libraries.map(\.code), target: Engine.dumpTarget) else { return .error("ERR could not build the payload") }
            return .bulk(p)
        case "restore":
            guard a.count == 3 || a.count == 4 else { return .error("ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.") }
            var policy = "append"
            if a.count == 4 {
                policy = Server.lower(a[3])
                guard ["append", "replace", "flush"].contains(policy) else {
                    return .error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
                }
            }
            let codes: [[UInt8]]
            do { codes = try RDBReader.readFunctionsPayload(a[2], maxVersion: Engine.dumpTarget.version.number) } catch RDBReader.DumpPayloadError.versionOrChecksum {
                return .error("ERR DUMP payload version or checksum are wrong")
            } catch {
                return .error("ERR given payload is not a valid functions payload")
            }
            // All or nothing: tried on a copy of the current libraries first.
            let before = functions.libraries.map(\.code)
            if policy == "append" {
                for code in codes {
                    if case .success(let m) = Scripting.libraryMetadata(code),
                       functions.libraries.contains(where: { $0.name.lowercased() == m.name.lowercased() }) {
                        return .error("ERR Library \(m.name) already exists")
                    }
                }
            }
            if policy == "flush" { functions.flushFunctions() }
            for code in codes {
                if case .failure(let e) = functions.loadLibrary(code, replace: policy == "replace") {
                    functions.flushFunctions()
                    for old in before { _ = functions.loadLibrary(old, replace: false) }
                    return .error(e.message)
                }
            }
            functionsChanged(c, a)
            return .ok
        case "stats":
            if let e = arity(a.count == 2) { return e }
            if let run = scripting?.run, scriptCaller != nil, !run.isFunction {
                return .error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            }
            var running: Reply = .null
            if let run = functions.run, let caller = scriptCaller {
                running = .map([.bulk("name"), .bulk(Array(run.name.utf8)), .bulk("command"), .array(caller.currentCommand.map { .bulk($0) }),
                                .bulk("duration_ms"), .integer(EventLoop.nowMs() - run.startMs)])
            }
            let count = functions.libraries.reduce(0) { $0 + $1.functions.count }
            return .map([.bulk("running_script"), running,
                         .bulk("engines"), .map([.bulk("LUA"), .map([.bulk("libraries_count"), .integer(Int64(functions.libraries.count)),
                                                                     .bulk("functions_count"), .integer(Int64(count))])])])
        case "kill":
            if let e = arity(a.count == 2) { return e }
            if scripting?.run != nil { return .error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.") }
            guard let run = functions.run else { return .error("NOTBUSY No scripts in execution right now.") }
            if run.wrote {
                return .error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
            }
            run.killed = true
            return .ok
        default:
            return .error("ERR unknown subcommand '\(String(decoding: a[1], as: UTF8.self))'. Try FUNCTION HELP.")
        }
    }

    /// After FUNCTION LOAD/DELETE/FLUSH/RESTORE: the libraries saved with the data follow, the
    /// command goes to the AOF and replicas as given, and it counts as a change.
    private func functionsChanged(_ c: Client, _ a: [Bytes]) {
        if let functions { functionLibraries = functions.libraries.map(\.code) + unloadedLibraries }
        engine.dirty += 1
        if engine.propagate != nil { propagated(a, c.state.db) }
    }

    /// FCALL / FCALL_RO function numkeys key... arg...
    private func fcallCommand(_ c: Client, _ a: [Bytes], readOnly: Bool) -> Reply {
        guard let functions else { return .error("ERR \(scriptingUnavailable)") }
        let name = String(decoding: a[1], as: UTF8.self)
        guard functions.function(name) != nil else { return .error("ERR Function not found") }
        guard let n = Decimal.parseCanonical(a[2]) else { return .error("ERR Bad number of keys provided") }
        if n > Int64(a.count - 3) { return .error("ERR Number of keys can't be greater than number of args") }
        if n < 0 { return .error("ERR Number of keys can't be negative") }
        scriptCaller = c
        c.currentCommand = a
        let clock = freezeClock()
        holdBlocked += 1
        defer { scriptCaller = nil; busyScript = nil; replMask = 3; c.currentCommand = []; engine.clock = clock; releaseBlocked() }
        return functions.callFunction(name, keys: Array(a[3..<(3 + Int(n))]), args: Array(a[(3 + Int(n))...]),
                                      db: c.state.db, readOnlyCommand: readOnly, oom: outOfMemory)
    }

    // MARK: pub/sub

    private var channelSubscribers: [ByteKey: [Client]] = [:]
    private var patternSubscribers: [ByteKey: [Client]] = [:]

    private func removeSubscriber(_ table: inout [ByteKey: [Client]], _ name: Bytes, _ c: Client) {
        let k = ByteKey(name)
        table[k]?.removeAll { $0 === c }
        if table[k]?.isEmpty == true { table[k] = nil }
    }

    /// SUBSCRIBE / PSUBSCRIBE: one confirmation per name, with the client's subscription count.
    private func subscribe(_ c: Client, _ a: [Bytes], pattern: Bool) -> Reply {
        let kind = pattern ? "psubscribe" : "subscribe"
        if a.count < 2 { return .error("ERR wrong number of arguments for '\(kind)' command") }
        for name in a.dropFirst() {
            if pattern {
                if !c.patterns.contains(name) { c.patterns.append(name); patternSubscribers[ByteKey(name), default: []].append(c) }
            } else {
                if !c.channels.contains(name) { c.channels.append(name); channelSubscribers[ByteKey(name), default: []].append(c) }
            }
            reply(c, .push([.bulk(kind), .bulk(name), .integer(Int64(c.subscriptionCount))]))
        }
        return .noReply
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE [name ...]: every subscription when none is named.
    private func unsubscribe(_ c: Client, _ a: [Bytes], pattern: Bool) -> Reply {
        let kind = pattern ? "punsubscribe" : "unsubscribe"
        let names = a.count > 1 ? Array(a.dropFirst()) : (pattern ? c.patterns : c.channels)
        if names.isEmpty {
            reply(c, .push([.bulk(kind), .null, .integer(Int64(c.subscriptionCount))]))
            return .noReply
        }
        for name in names {
            if pattern {
                if let i = c.patterns.firstIndex(of: name) { c.patterns.remove(at: i); removeSubscriber(&patternSubscribers, name, c) }
            } else {
                if let i = c.channels.firstIndex(of: name) { c.channels.remove(at: i); removeSubscriber(&channelSubscribers, name, c) }
            }
            reply(c, .push([.bulk(kind), .bulk(name), .integer(Int64(c.subscriptionCount))]))
        }
        return .noReply
    }

    /// Delivers to channel subscribers, then to clients whose patterns match; the receiver count.
    /// `__keyspace@<db>__:<key>` with the event, `__keyevent@<db>__:<event>` with the key, as
    /// the classes on ask (Redis's notifyKeyspaceEvent).
    private func publishKeyspaceEvent(_ e: KeyspaceEvent) {
        let flags = engine.notifyFlags
        if flags.contains(.keyspace) {
            _ = publish(Array("__keyspace@\(e.db)__:".utf8) + e.key, Array(e.event.utf8))
        }
        if flags.contains(.keyevent) {
            _ = publish(Array("__keyevent@\(e.db)__:\(e.event)".utf8), e.key)
        }
    }

    private func publish(_ channel: Bytes, _ message: Bytes) -> Int {
        var n = 0
        for c in channelSubscribers[ByteKey(channel)] ?? [] {
            reply(c, .push([.bulk("message"), .bulk(channel), .bulk(message)]))
            flush(c)
            n += 1
        }
        for (p, list) in patternSubscribers where Glob.matches(p.bytes, channel) {
            for c in list {
                reply(c, .push([.bulk("pmessage"), .bulk(p.bytes), .bulk(channel), .bulk(message)]))
                flush(c)
                n += 1
            }
        }
        return n
    }

    private func pubsubCommand(_ a: [Bytes]) -> Reply {
        guard a.count >= 2 else { return .error("ERR wrong number of arguments for 'pubsub' command") }
        switch Server.lower(a[1]) {
        case "channels":
            if a.count > 3 { return .error("ERR wrong number of arguments for 'pubsub|channels' command") }
            let names = channelSubscribers.keys.map(\.bytes).filter { a.count == 2 || Glob.matches(a[2], $0) }
            return .array(names.map { .bulk($0) })
        case "numsub":
            return .array(a.dropFirst(2).flatMap { [Reply.bulk($0), .integer(Int64(channelSubscribers[ByteKey($0)]?.count ?? 0))] })
        case "numpat":
            if a.count != 2 { return .error("ERR wrong number of arguments for 'pubsub|numpat' command") }
            return .integer(Int64(patternSubscribers.count))
        default:
            return .error("ERR unknown subcommand '\(String(decoding: a[1], as: UTF8.self))'. Try PUBSUB HELP.")
        }
    }

    // MARK: blocking commands

    /// A parked call: the non-blocking attempt to retry, its deadline, its reply on timeout.
    struct BlockedCall {
        let attempt: [Bytes]
        let keys: [Bytes]
        let kind: String
        let deadline: Int64?   // monotonic ms; nil = forever
        let timeoutReply: Reply
    }

    static let blockingCommands: Set<String> = ["blpop", "brpop", "bzpopmin", "bzpopmax", "blmove", "brpoplpush", "blmpop", "bzmpop"]
    private var blockedClients: [Client] = []

    /// `getTimeoutFromObjectOrReply` in seconds: a float, not negative; 0 = forever.
    static func parseTimeout(_ b: Bytes) -> (Int64?, Reply?) {
        let t = String(decoding: b, as: UTF8.self)
        guard let v = Double(t), v.isFinite, !t.hasPrefix(" "), !t.isEmpty else { return (nil, .error("ERR timeout is not a float or out of range")) }
        if v < 0 { return (nil, .error("ERR timeout is negative")) }
        if v == 0 { return (nil, nil) }
        return (EventLoop.nowMs() + Int64(v * 1000), nil)
    }

    /// Tries the non-blocking form; nil when nothing is there yet (the caller then waits).
    /// A blocked command's non-blocking form, run as any write is: keys it changes are touched
    /// for WATCH (a push made by a served BRPOPLPUSH fails its destination's watchers' EXEC).
    private func attemptCommand(_ c: Client, _ args: [Bytes]) -> Reply {
        watchers.isEmpty ? engine.execute(args, client: &c.state) : runWatched(c, Server.lower(args[0]), args)
    }

    /// Whether a waiter may be served now: one of its keys holds a value of the type it waits
    /// for (a key turned into another type keeps it waiting, as Redis serves a list waiter
    /// only from a list; a wrong destination is still its error to hear).
    private func sourceReady(_ c: Client, _ call: BlockedCall) -> Bool {
        let want: String
        switch call.kind {
        case "bzpopmin", "bzpopmax", "bzmpop": want = "zset"
        case "xread": want = "stream"
        default: want = "list"
        }
        let sources = call.kind == "blmove" || call.kind == "brpoplpush" ? Array(call.keys.prefix(1)) : call.keys
        return sources.contains { k in
            if case .status(let t) = engine.execute([Array("TYPE".utf8), k], client: &c.state) { return t == want }
            return false
        }
    }

    /// Why a blocked XREADGROUP can no longer be served, if it cannot: a key that is no longer
    /// a stream, or a stream without the group.
    private func groupReadGone(_ c: Client, _ call: BlockedCall) -> String? {
        guard call.attempt.count > 2 else { return nil }
        for key in call.keys {
            guard case .status(let t) = engine.execute([Array("TYPE".utf8), key], client: &c.state), t == "stream" else {
                return "UNBLOCKED the stream key no longer exists"
            }
            if case .stream(let st)? = engine.databases[c.state.db].dict[key], st.groups[ByteKey(call.attempt[2])] == nil {
                return "NOGROUP the consumer group this client was blocked on no longer exists"
            }
        }
        return nil
    }

    private func attempt(_ c: Client, _ call: BlockedCall) -> Reply? {
        switch call.kind {
        case "blpop", "brpop", "bzpopmin", "bzpopmax":
            for k in call.keys {
                let pop: String = ["blpop": "LPOP", "brpop": "RPOP", "bzpopmin": "ZPOPMIN", "bzpopmax": "ZPOPMAX"][call.kind]!
                let r = attemptCommand(c, [Array(pop.utf8), k])
                switch r {
                case .error: return r
                case .bulk(let v?): return .array([.bulk(k), .bulk(v)])
                case .array(let a?) where !a.isEmpty: return .array([.bulk(k)] + a)
                default: continue
                }
            }
            return nil
        default:
            let r = attemptCommand(c, call.attempt)
            switch r {
            case .bulk(nil), .array(nil): return nil
            default: return r
            }
        }
    }

    /// BLPOP BRPOP BZPOPMIN BZPOPMAX BLMOVE BRPOPLPUSH BLMPOP BZMPOP: served at once when data is
    /// there (and propagated in the non-blocking form the engine runs), else the client waits
    /// until a write brings some or the timeout passes; inside MULTI they do not wait.
    private func blockingCommand(_ c: Client, _ name: String, _ args: [Bytes]) -> Reply {
        let arity: [String: Int] = ["blpop": -3, "brpop": -3, "bzpopmin": -3, "bzpopmax": -3, "blmove": 6, "brpoplpush": 4, "blmpop": -5, "bzmpop": -5]
        let a = arity[name]!
        if (a > 0 && args.count != a) || (a < 0 && args.count < -a) {
            return .error("ERR wrong number of arguments for '\(name)' command")
        }
        let B = { (s: String) in Array(s.utf8) }
        var call: BlockedCall
        switch name {
        case "blpop", "brpop", "bzpopmin", "bzpopmax":
            let (deadline, err) = Server.parseTimeout(args.last!)
            if let err { return err }
            call = BlockedCall(attempt: [], keys: Array(args[1..<(args.count - 1)]), kind: name, deadline: deadline, timeoutReply: .array(nil))
        case "blmove":
            let (deadline, err) = Server.parseTimeout(args[5])
            if let err { return err }
            call = BlockedCall(attempt: [B("LMOVE")] + args[1...4], keys: [args[1]], kind: name, deadline: deadline, timeoutReply: .null)
        case "brpoplpush":
            let (deadline, err) = Server.parseTimeout(args[3])
            if let err { return err }
            call = BlockedCall(attempt: [B("RPOPLPUSH"), args[1], args[2]], keys: [args[1]], kind: name, deadline: deadline, timeoutReply: .null)
        default:   // blmpop / bzmpop timeout numkeys key... LEFT|RIGHT|MIN|MAX [COUNT n]
            let (deadline, err) = Server.parseTimeout(args[1])
            if let err { return err }
            let n = Int(String(decoding: args[2], as: UTF8.self)) ?? 0
            let keys = n > 0 && 3 + n <= args.count ? Array(args[3..<(3 + n)]) : []
            call = BlockedCall(attempt: [B(name == "blmpop" ? "LMPOP" : "ZMPOP")] + args[2...], keys: keys, kind: name, deadline: deadline, timeoutReply: .array(nil))
        }
        if let r = attempt(c, call) { return r }
        if c.executingTransaction { return call.timeoutReply }
        c.blocked = call
        blockedClients.append(c)
        return .noReply
    }

    /// XREAD / XREADGROUP with BLOCK ms: the engine's read first (errors and data come back at
    /// once); with nothing to read, the client waits with "$" fixed to each stream's last ID
    /// at this moment, as Redis does. nil when the call has no BLOCK (the engine answers).
    private func blockingStreamRead(_ c: Client, _ args: [Bytes]) -> Reply? {
        let lowered = args.map { Server.lower($0) }
        guard let streamsAt = lowered.firstIndex(of: "streams"),
              let b = lowered[..<streamsAt].firstIndex(of: "block"), b + 1 < streamsAt else { return nil }
        let first = engine.execute(args, client: &c.state)
        guard case .array(nil) = first else { return first }
        if c.executingTransaction { return first }
        guard let ms = Int64(String(decoding: args[b + 1], as: UTF8.self)), ms >= 0 else { return first }
        var attempt = args
        let n = (args.count - streamsAt - 1) / 2
        for k in 0..<n where args[streamsAt + 1 + n + k] == Array("$".utf8) {
            let key = args[streamsAt + 1 + k]
            var last: Bytes = Array("0-0".utf8)
            if case .stream(let st)? = engine.databases[c.state.db].dict[key] ?? nil { last = Array(st.lastID.description.utf8) }
            attempt[streamsAt + 1 + n + k] = last
        }
        let call = BlockedCall(attempt: attempt, keys: Array(args[(streamsAt + 1)..<(streamsAt + 1 + n)]), kind: "xread",
                               deadline: ms == 0 ? nil : EventLoop.nowMs() + ms, timeoutReply: .array(nil))
        c.blocked = call
        blockedClients.append(c)
        return .noReply
    }

    /// Set while a transaction or a script runs: blocked clients are served when it ends, from
    /// the dataset it leaves (Redis's handleClientsBlockedOnKeys after the whole call), so a
    /// key pushed and deleted inside one EXEC wakes nobody.
    private var holdBlocked = 0
    private var blockedReady = false

    private func releaseBlocked() {
        holdBlocked -= 1
        if holdBlocked == 0 && blockedReady {
            blockedReady = false
            serveBlocked()
        }
    }

    /// After a write: serves waiting clients whose keys now have data, oldest first.
    private func serveBlocked() {
        var progress = true
        while progress {
            progress = false
            for c in blockedClients {
                guard let call = c.blocked else { continue }
                // XREADGROUP waits on a stream and its group: once a key is no longer a
                // stream (deleted, overwritten, flushed, swapped away) it is told so, as Redis's
                // unblockDeletedStreamReadgroupClients does, instead of waiting for nothing.
                // A group destroyed under it: NOGROUP, as when Redis serves it.
                if call.kind == "xread", let first = call.attempt.first, Server.lower(first) == "xreadgroup",
                   let error = groupReadGone(c, call) {
                    stats.recordFailureAfterBlocking(stats.entry(call.attempt) { _ in true }, error: ArraySlice(error.utf8))
                    unblock(c, with: .error(error))
                    progress = true
                    break
                }
                guard sourceReady(c, call), let r = attempt(c, call) else { continue }
                unblock(c, with: r)
                progress = true
                break
            }
        }
    }

    /// Replies the timeout value to clients whose wait is over.
    private func expireBlocked() {
        let now = EventLoop.nowMs()
        for c in blockedClients {
            guard let call = c.blocked, let d = call.deadline, d <= now else { continue }
            unblock(c, with: call.timeoutReply)
        }
    }

    /// Ends a client's wait with `r` and goes on with what it had sent after the command.
    private func unblock(_ c: Client, with r: Reply) {
        c.blocked = nil
        blockedClients.removeAll { $0 === c }
        reply(c, r)
        flush(c)
        processInput(c)
    }

    // MARK: WATCH

    /// Clients watching each (db, key).
    private var watchers: [WatchKey: [Client]] = [:]

    /// RESET (`clearClientConnectionState`): no transaction, watches, subscriptions, MONITOR or
    /// name; db 0, RESP2, replies on; authenticated only if the default user needs no password.
    private func resetClient(_ c: Client) {
        c.multi = nil; c.multiError = false
        unwatchAll(c)
        for name in c.channels { removeSubscriber(&channelSubscribers, name, c) }
        for name in c.patterns { removeSubscriber(&patternSubscribers, name, c) }
        c.channels = []; c.patterns = []
        if c.isMonitor { c.isMonitor = false; monitors.removeAll { $0 === c } }
        c.state.db = 0
        c.resp = 2
        c.replyMode = .on
        c.name = []
        c.authenticated = defaultUserOpen
        c.user = "default"
    }

    private func unwatchAll(_ c: Client) {
        for w in c.watched {
            watchers[w]?.removeAll { $0 === c }
            if watchers[w]?.isEmpty == true { watchers[w] = nil }
        }
        c.watched = []
        c.watchedExpired = []
        c.dirtyCAS = false
    }

    /// Present in the keyspace but past its TTL (not yet deleted).
    private func logicallyExpired(_ db: Int, _ key: Bytes) -> Bool {
        guard db < engine.databases.count else { return false }
        let d = engine.databases[db]
        guard d.expires.count > 0, let when = d.expires[key], d.dict[key] != nil else { return false }
        return when < engine.clock()
    }

    /// Redis's touchWatchedKey: watchers become dirty, except those that watched the key when it
    /// was already expired and now see it deleted (no logical change).
    private func touch(_ db: Int, _ key: Bytes) {
        let w = WatchKey(db: db, key: ByteKey(key))
        guard let list = watchers[w] else { return }
        for c in list {
            if c.watchedExpired.contains(w) {
                if db < engine.databases.count && engine.databases[db].dict[key] == nil { c.watchedExpired.remove(w) }
                continue
            }
            c.dirtyCAS = true
        }
    }

    /// Redis's touchAllWatchedKeysInDb for a database emptied (and, for SWAPDB, replaced by
    /// another): computed before the command runs, applied if it succeeds.
    private func watchedTouchesOnFlush(emptied: Int, replacedWith: Int?) -> [() -> Void] {
        var out: [() -> Void] = []
        guard emptied < engine.databases.count else { return out }
        for (w, list) in watchers where w.db == emptied {
            let k = w.key.bytes
            let inEmptied = engine.databases[emptied].dict[k] != nil
            let inReplacement = replacedWith.map { $0 < engine.databases.count && engine.databases[$0].dict[k] != nil } ?? false
            guard inEmptied || inReplacement else { continue }
            let replacementExpired = replacedWith.map { logicallyExpired($0, k) } ?? false
            for c in list {
                if c.watchedExpired.contains(w) {
                    if !inReplacement { out.append { c.watchedExpired.remove(w) }; continue }
                    if replacementExpired { continue }
                } else if !inEmptied && replacementExpired {
                    out.append { c.watchedExpired.insert(w) }; continue
                }
                out.append { c.dirtyCAS = true }
            }
        }
        return out
    }

    /// Runs a command while some client WATCHes keys, and marks the watchers of every key a
    /// write touched (Redis's signalModifiedKey), including the keys of flushed or swapped
    /// databases that existed.
    private func runWatched(_ c: Client, _ name: String, _ args: [Bytes]) -> Reply {
        let db = c.state.db
        guard let cmd = CommandTable.shared.lookup(name) else { return engine.execute(args, client: &c.state) }
        guard cmd.flags.contains(.write) else {
            // A read that found its key expired deleted it: that touches the key (as in Redis).
            let before = engine.dirty
            let r = engine.execute(args, client: &c.state)
            if engine.dirty != before { for k in cmd.keys(args) where engine.databases[db].dict[k] == nil { touch(db, k) } }
            return r
        }
        // Whole databases: what a flush or swap does to the watched keys, decided beforehand.
        var wholeDB: [() -> Void] = []
        if name == "flushdb" || name == "flushall" {
            for d in (name == "flushall" ? Array(0..<engine.databases.count) : [db]) { wholeDB += watchedTouchesOnFlush(emptied: d, replacedWith: nil) }
        } else if name == "swapdb", args.count == 3, let a = Int(String(decoding: args[1], as: UTF8.self)), let b = Int(String(decoding: args[2], as: UTF8.self)), a != b {
            wholeDB += watchedTouchesOnFlush(emptied: a, replacedWith: b)
            wholeDB += watchedTouchesOnFlush(emptied: b, replacedWith: a)
        }
        // SMOVE of a member the destination already holds changes only the source (Redis
        // signals the destination only when the member is added).
        var unchanged: Bytes?
        if name == "smove", args.count == 4, case .set(let d)? = engine.databases[db].dict[args[2]], d.contains(args[3]) {
            unchanged = args[2]
        }
        let before = engine.dirty
        let r = engine.execute(args, client: &c.state)
        if case .error = r { return r }
        for f in wholeDB { f() }
        guard engine.dirty != before else { return r }
        var keys = cmd.keys(args)
        if let u = unchanged, args[1] != u { keys.removeAll { $0 == u } }
        // Keys the declared positions do not cover (only these commands pay for lowercasing
        // their arguments).
        if name == "sort" || name == "georadius" || name == "georadiusbymember" {
            for i in 2..<max(2, args.count - 1) {
                let o = Server.lower(args[i])
                if o == "store" || o == "storedist" { keys.append(args[i + 1]) }
            }
        }
        if name == "xreadgroup", let s = args.firstIndex(where: { Server.lower($0) == "streams" }) {
            let n = (args.count - s - 1) / 2
            keys += args[(s + 1)..<(s + 1 + n)]
        }
        for k in keys { touch(db, k) }
        if name == "move", args.count == 3, let to = Int(String(decoding: args[2], as: UTF8.self)) { touch(to, args[1]) }
        return r
    }

    private typealias Handler = (Client, [Bytes]) -> Reply

    static let subscriptionCommands: Set<String> = ["subscribe", "psubscribe", "unsubscribe", "punsubscribe"]

    /// The server's handlers by name, built once (a closure per command was built per call).
    private lazy var serverHandlers: [String: Handler] = {
        var d = [String: Handler]()
        for n in Server.handledNames { if let h = makeServerCommand(n) { d[n] = h } }
        return d
    }()
    private static let handledNames: [String] = ["acl", "quit", "auth", "hello", "multi", "discard", "exec", "watch", "unwatch", "reset", "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "publish", "pubsub", "function", "fcall", "fcall_ro", "ping", "client", "info", "config", "save", "bgsave", "slowlog", "monitor", "sync", "psync", "replconf", "replicaof", "slaveof", "role", "bgrewriteaof", "lastsave", "time", "shutdown", "command", "wait", "latency", "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "memory"]

    @inline(__always)
    private func serverCommand(_ name: String) -> Handler? { serverHandlers[name] }

    private func makeServerCommand(_ name: String) -> Handler? {
        switch name {
        case "quit": return { c, _ in c.closeAfterReply = true; return .ok }
        case "auth": return { [unowned self] c, a in self.auth(c, a) }
        case "hello": return { [unowned self] c, a in self.hello(c, a) }
        case "multi": return { c, a in
            if a.count != 1 { return .error("ERR wrong number of arguments for 'multi' command") }
            if c.multi != nil { return .error("ERR MULTI calls can not be nested") }
            c.multi = []; c.multiError = false; return .ok
        }
        case "discard": return { [unowned self] c, _ in
            if c.multi == nil { return .error("ERR DISCARD without MULTI") }
            c.multi = nil
            self.unwatchAll(c)
            return .ok
        }
        case "exec": return { [unowned self] c, _ in
            guard let q = c.multi else { return .error("ERR EXEC without MULTI") }
            c.multi = nil
            defer { self.unwatchAll(c) }
            if c.multiError { return .error("EXECABORT Transaction discarded because of previous errors.") }
            // A watched key that expired since WATCH fails the transaction (isWatchedKeyExpired).
            if c.watched.contains(where: { !c.watchedExpired.contains($0) && self.logicallyExpired($0.db, $0.key.bytes) }) { c.dirtyCAS = true }
            if c.dirtyCAS { return .array(nil) }
            self.unwatchAll(c)   // the transaction's own writes do not abort it
            c.executingTransaction = true
            self.holdBlocked += 1
            defer { c.executingTransaction = false; self.releaseBlocked() }
            // Each queued command is timed (and slow-logged) on its own; EXEC itself is not.
            return .array(q.map { args in
                let t0 = Server.microseconds()
                let r = self.execute(c, Server.lower(args[0]), args)
                if !self.monitors.isEmpty { self.feedMonitors(c, args) }
                let took = Server.microseconds() - t0
                if self.slowlogThreshold >= 0 && took >= self.slowlogThreshold { self.slowlogAdd(c, args, took) }
                var error: ArraySlice<UInt8>?
                if case .error(let e) = r { error = ArraySlice(e.utf8.prefix(64)) }
                self.recordStat(args, usec: took, error: error)
                return r
            })
        }
        case "watch": return { [unowned self] c, a in
            if a.count < 2 { return .error("ERR wrong number of arguments for 'watch' command") }
            if c.multi != nil { return .error("ERR WATCH inside MULTI is not allowed") }
            for k in a.dropFirst() {
                let w = WatchKey(db: c.state.db, key: ByteKey(k))
                if c.watched.contains(w) { continue }
                c.watched.append(w)
                if self.logicallyExpired(w.db, k) { c.watchedExpired.insert(w) }
                self.watchers[w, default: []].append(c)
            }
            return .ok
        }
        case "unwatch": return { [unowned self] c, a in
            if a.count != 1 { return .error("ERR wrong number of arguments for 'unwatch' command") }
            self.unwatchAll(c)
            return .ok
        }
        case "reset": return { [unowned self] c, a in
            if a.count != 1 { return .error("ERR wrong number of arguments for 'reset' command") }
            self.resetClient(c)
            return .status("RESET")
        }
        case "subscribe", "psubscribe": return { [unowned self] c, a in self.subscribe(c, a, pattern: name == "psubscribe") }
        case "unsubscribe", "punsubscribe": return { [unowned self] c, a in self.unsubscribe(c, a, pattern: name == "punsubscribe") }
        case "publish": return { [unowned self] _, a in
            if a.count != 3 { return .error("ERR wrong number of arguments for 'publish' command") }
            return .integer(Int64(self.publish(a[1], a[2])))
        }
        case "pubsub": return { [unowned self] _, a in self.pubsubCommand(a) }
        case "function": return { [unowned self] c, a in self.functionCommand(c, a) }
        case "fcall", "fcall_ro": return { [unowned self] c, a in self.fcallCommand(c, a, readOnly: name == "fcall_ro") }
        case "ping": return { [unowned self] c, a in
            if a.count > 2 { return .error("ERR wrong number of arguments for 'ping' command") }
            if c.subscriptionCount > 0 && c.resp == 2 { return .array([.bulk("pong"), .bulk(a.count == 2 ? a[1] : [])]) }
            return self.engine.execute(a, client: &c.state)
        }
        case "client": return { [unowned self] c, a in self.clientCommand(c, a) }
        case "info": return { [unowned self] _, a in .verbatim(Array(self.info(a.count > 1 ? Server.lower(a[1]) : "default").utf8)) }
        case "config": return { [unowned self] _, a in self.configCommand(a) }
        case "save": return { [unowned self] _, a in
            if a.count != 1 { return .error("ERR wrong number of arguments for 'save' command") }
            if self.childPID != 0 { return .error("ERR Background save already in progress") }
            return self.saveNow() ? .ok : .error("ERR")
        }
        case "bgsave": return { [unowned self] _, _ in
            if self.childPID != 0 { return .error("ERR Background save already in progress") }
            return self.backgroundSave() ? .status("Background saving started") : .error("ERR Background save failed")
        }
        case "slowlog": return { [unowned self] _, a in self.slowlogCommand(a) }
        case "monitor": return { [unowned self] c, a in
            if a.count != 1 { return .error("ERR wrong number of arguments for 'monitor' command") }
            if c.multi != nil { return .error("ERR MONITOR inside MULTI is not allowed") }
            if !c.isMonitor { c.isMonitor = true; self.monitors.append(c) }
            return .ok
        }
        case "sync", "psync": return { [unowned self] c, _ in self.startReplica(c, psync: name == "psync") }
        case "replconf": return { c, a in
            if a.count >= 3 && Server.lower(a[1]) == "rdb-only" { c.rdbOnly = String(decoding: a[2], as: UTF8.self) == "1" }
            if a.count >= 3 && Server.lower(a[1]) == "listening-port" { c.listeningPort = Int(String(decoding: a[2], as: UTF8.self)) ?? 0 }
            return .ok
        }
        case "bgrewriteaof": return { [unowned self] _, a in
            if a.count != 1 { return .error("ERR wrong number of arguments for 'bgrewriteaof' command") }
            guard self.aof != nil else { return .error("ERR strata serve rewrites the AOF only with appendonly yes (strata aof rewrite compacts files offline)") }
            if self.aofRewrite != nil { return .error("ERR Background append only file rewriting already in progress") }
            if self.childPID != 0 {
                self.aofRewriteScheduled = true
                return .status("Background append only file rewriting scheduled")
            }
            return self.backgroundRewriteAOF() ? .status("Background append only file rewriting started") : .error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
        }
        case "lastsave": return { [unowned self] _, _ in .integer(self.lastSave) }
        case "time": return { _, _ in
            var ts = timespec(); clock_gettime(CLOCK_REALTIME, &ts)
            return .array([.bulk(Array("\(ts.tv_sec)".utf8)), .bulk(Array("\(ts.tv_nsec / 1000)".utf8))])
        }
        case "shutdown": return { [unowned self] _, a in
            let opt = a.count > 1 ? Server.lower(a[1]) : ""
            if a.count > 2 || (a.count == 2 && !["nosave", "save", "now", "force", "abort"].contains(opt)) { return .error("ERR syntax error") }
            if self.busyScript != nil {
                // A busy script cannot be left: the process ends here, nothing saved.
                self.log("warning", "User requested shutdown while a script was busy: exiting without saving.")
                _ = self.finalShutdown()
                let pid = self.config.string("pidfile")
                if !pid.isEmpty { unlink(pid) }
                exit(0)
            }
            if opt != "nosave" && (opt == "save" || !self.config.savePoints.isEmpty) {
                if !self.saveNow() { return .error("ERR Errors trying to SHUTDOWN. Check logs.") }
            }
            self.shuttingDown = true
            self.loop.stopRequested = true
            return .noReply
        }
        case "command": return { [unowned self] _, a in self.commandCommand(a) }
        case "replicaof", "slaveof": return { [unowned self] c, a in self.replicaofCommand(c, a) }
        case "role": return { [unowned self] _, _ in
            guard let link = self.masterLink else {
                return .array([.bulk("master"), .integer(0), .array(self.replicas.map { r in
                    let parts = r.address.split(separator: ":")
                    return .array([.bulk(Array((parts.dropLast().joined(separator: ":")).utf8)), .bulk(Array("\(r.listeningPort)".utf8)), .bulk("0")])
                })])
            }
            let st = link.isUp ? "connected" : link.syncInProgress ? "sync" : link.state == .down ? "connect" : "connecting"
            return .array([.bulk("slave"), .bulk(Array(link.host.utf8)), .integer(Int64(link.port)), .bulk(Array(st.utf8)), .integer(link.isUp ? link.offset : -1)])
        }
        case "wait": return { [unowned self] _, a in
            // No acknowledgements are tracked: the replicas whose stream is fully written count.
            guard a.count == 3, Int(String(decoding: a[1], as: UTF8.self)) != nil, Int(String(decoding: a[2], as: UTF8.self)) != nil else {
                return .error("ERR wrong number of arguments for 'wait' command")
            }
            return .integer(Int64(self.replicas.filter { $0.out.isEmpty }.count))
        }
        case "latency": return { [unowned self] _, a in self.latencyCommand(a) }
        case "eval", "evalsha", "eval_ro", "evalsha_ro": return { [unowned self] c, a in
            self.evalCommand(c, a, bySHA: name.hasPrefix("evalsha"), readOnly: name.hasSuffix("_ro"))
        }
        case "script": return { [unowned self] _, a in self.scriptCommand(a) }
        case "memory": return { [unowned self] c, a in self.memoryCommand(c, a) }
        case "acl": return { [unowned self] c, a in self.aclCommand(c, a) }
        default: return nil
        }
    }

    private func auth(_ c: Client, _ a: [Bytes]) -> Reply {
        guard a.count == 2 || a.count == 3 else { return .error("ERR wrong number of arguments for 'auth' command") }
        if a.count == 2, acl.user("default")?.nopass == true {
            return .error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        }
        let name = a.count == 3 ? String(decoding: a[1], as: UTF8.self) : "default"
        // A nopass user opens with any password (AUTH default x); others need one of theirs.
        guard let u = acl.user(name), u.enabled, u.nopass || u.passwords.contains(SHA256.hex(a.last!)) else {
            return .error("WRONGPASS invalid username-password pair or user is disabled.")
        }
        c.authenticated = true
        c.user = name
        return .ok
    }

    /// Whether a new connection starts authenticated (the default user is on and nopass).
    private var defaultUserOpen: Bool { acl.user("default").map { $0.enabled && $0.nopass } ?? true }

    /// After any ACL change: whether checks are needed at all.
    private func refreshACLState() {
        let all = acl.categoriesOf.count
        aclActive = acl.users.count > 1 || acl.users.values.contains { !($0.enabled && $0.allKeys && $0.allChannels && $0.allowed.count >= all) }
    }

    /// ACL SETUSER / GETUSER / DELUSER / LIST / USERS / WHOAMI / CAT / GENPASS / LOG / DRYRUN / HELP.
    private func aclCommand(_ c: Client, _ a: [Bytes]) -> Reply {
        let sub = Server.lower(a[1])
        func text(_ i: Int) -> String { String(decoding: a[i], as: UTF8.self) }
        switch sub {
        case "setuser":
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'acl|setuser' command") }
            do { try acl.setUser(text(2), (3..<a.count).map(text)) } catch let e as ACL.RuleError {
                return .error("ERR Error in ACL SETUSER modifier '\(a.count > 3 ? text(a.count - 1) : "")': \(e.message)")
            } catch { return .error("ERR \(error)") }
            refreshACLState()
            return .ok
        case "getuser":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'acl|getuser' command") }
            guard let u = acl.user(text(2)) else { return .null }
            var flags: [Reply] = [.bulk(u.enabled ? "on" : "off")]
            if u.allKeys { flags.append(.bulk("allkeys")) }
            if u.allChannels { flags.append(.bulk("allchannels")) }
            if u.commandRules == ["+@all"] { flags.append(.bulk("allcommands")) }
            if u.nopass { flags.append(.bulk("nopass")) }
            return .map([.bulk("flags"), .array(flags), .bulk("passwords"), .array(u.passwords.map { .bulk(Array($0.utf8)) }),
                         .bulk("commands"), .bulk(Array((u.commandRules.isEmpty ? "-@all" : u.commandRules.joined(separator: " ")).utf8)),
                         .bulk("keys"), .bulk(Array((u.allKeys ? "~*" : u.keyPatterns.map { "~" + String(decoding: $0, as: UTF8.self) }.joined(separator: " ")).utf8)),
                         .bulk("channels"), .bulk(Array((u.allChannels ? "&*" : u.channelPatterns.map { "&" + String(decoding: $0, as: UTF8.self) }.joined(separator: " ")).utf8)),
                         .bulk("selectors"), .array([])])
        case "deluser":
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'acl|deluser' command") }
            var n = 0
            for i in 2..<a.count {
                let name = text(i)
                if name == "default" { return .error("ERR The 'default' user cannot be removed") }
                if acl.deleteUser(name) {
                    n += 1
                    // Connections authenticated as the user are closed, as in Redis.
                    for other in clients.values where other.user == name && other !== c { closeClient(other) }
                    if c.user == name { c.closeAfterReply = true }
                }
            }
            refreshACLState()
            return .integer(Int64(n))
        case "list":
            return .array(acl.users.keys.sorted().map { .bulk(Array(acl.users[$0]!.description.utf8)) })
        case "users":
            return .array(acl.users.keys.sorted().map { .bulk(Array($0.utf8)) })
        case "whoami":
            return .bulk(Array(c.user.utf8))
        case "cat":
            if a.count == 2 { return .array(ACL.categories.map { .bulk(Array($0.utf8)) }) }
            let cat = Server.lower(a[2])
            guard ACL.categories.contains(cat) else { return .error("ERR Unknown category '\(text(2))'") }
            return .array(acl.categoriesOf.filter { $0.value.contains(cat) }.map(\.key).sorted().map { .bulk(Array($0.utf8)) })
        case "genpass":
            var bits = 256
            if a.count == 3 {
                guard let b = Int(text(2)), b > 0, b <= 4096 else { return .error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096") }
                bits = b
            }
            let digits = Array("0123456789abcdef".utf8)
            return .bulk((0..<((bits + 3) / 4)).map { _ in digits[Int.random(in: 0..<16)] })
        case "log":
            if a.count == 3 && Server.lower(a[2]) == "reset" { return .ok }
            return .array([])
        case "dryrun":
            guard a.count >= 4 else { return .error("ERR wrong number of arguments for 'acl|dryrun' command") }
            guard let u = acl.user(text(2)) else { return .error("ERR User '\(text(2))' not found") }
            let args = Array(a[3...])
            let name = Server.lower(args[0])
            guard acl.categoriesOf[name] != nil else { return .error("ERR Command '\(name)' not found") }
            if let e = aclDenial(u, name, args) { return .bulk(Array(e.dryRunText.utf8)) }
            return .ok
        case "load", "save":
            return .error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
        case "help":
            return .array(["ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "CAT [<category>]", "DELUSER <username> [<username> ...]",
                           "DRYRUN <username> <command> [<arg> ...]", "GETUSER <username>", "GENPASS [<bits>]", "LIST", "LOG [<count> | RESET]",
                           "SETUSER <username> <attribute> [<attribute> ...]", "USERS", "WHOAMI", "HELP"].map { .status($0) })
        default:
            return .error("ERR unknown subcommand '\(text(1))'. Try ACL HELP.")
        }
    }

    /// Why `u` may not run this command (its keys and channels included), or nil when allowed.
    private func aclDenial(_ u: ACLUser, _ name: String, _ args: [Bytes]) -> ACL.Denial? {
        var keys: [Bytes] = []
        if let cmd = CommandTable.shared.lookup(name) { keys = Server.allKeys(name, args, cmd) }
        else if ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"].contains(name), args.count >= 3,
                let n = Decimal.parseCanonical(args[2]), n >= 0, n <= Int64(args.count - 3) {
            keys = Array(args[3..<(3 + Int(n))])
        } else if Server.blockingCommands.contains(name), args.count >= 3 {
            keys = Array(args[1..<(args.count - 1)])
        }
        var channels: [Bytes] = []
        if ["subscribe", "psubscribe"].contains(name) { channels = Array(args.dropFirst()) }
        if name == "publish", args.count > 1 { channels = [args[1]] }
        return acl.check(u, name, args, keys: keys, channels: channels)
    }

    /// HELLO [protover [AUTH user pass] [SETNAME name]]: switches the protocol only once the
    /// client is authenticated, and replies with the server's map in the protocol chosen.
    private func hello(_ c: Client, _ a: [Bytes]) -> Reply {
        var i = 1
        var version = c.resp
        if a.count > 1 {
            guard let v = Decimal.parseCanonical(a[1]) else { return .error("ERR Protocol version is not an integer or out of range") }
            if v < 2 || v > 3 { return .error("NOPROTO unsupported protocol version") }
            version = Int(v)
            i = 2
        }
        while i < a.count {
            let opt = Server.lower(a[i])
            if opt == "auth" && i + 2 < a.count {
                let r = auth(c, [Array("AUTH".utf8), a[i + 1], a[i + 2]])
                if case .error = r { return .error("WRONGPASS invalid username-password pair or user is disabled.") }
                i += 3
            } else if opt == "setname" && i + 1 < a.count {
                if let e = Server.invalidClientName(a[i + 1]) { return e }
                c.name = a[i + 1]; i += 2
            } else {
                return .error("ERR Syntax error in HELLO option '\(String(decoding: a[i], as: UTF8.self))'")
            }
        }
        if !c.authenticated { return .error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time") }
        c.resp = version
        return .map([.bulk("server"), .bulk("redis"), .bulk("version"), .bulk(Server.version), .bulk("proto"), .integer(Int64(version)),
                     .bulk("id"), .integer(c.id), .bulk("mode"), .bulk("standalone"), .bulk("role"), .bulk("master"),
                     .bulk("modules"), .array([])])
    }

    /// `clientSetNameOrReply`'s check: no spaces, newlines or other special characters.
    static func invalidClientName(_ name: Bytes) -> Reply? {
        name.contains(where: { $0 <= 32 || $0 > 126 }) ? .error("ERR Client names cannot contain spaces, newlines or special characters.") : nil
    }

    private func clientCommand(_ c: Client, _ a: [Bytes]) -> Reply {
        guard a.count >= 2 else { return .error("ERR wrong number of arguments for 'client' command") }
        switch Server.lower(a[1]) {
        case "id": return .integer(c.id)
        case "setname":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'client|setname' command") }
            if let e = Server.invalidClientName(a[2]) { return e }
            c.name = a[2]; return .ok
        case "getname": return c.name.isEmpty ? .null : .bulk(c.name)
        case "list", "info":
            let now = EventLoop.nowMs()
            let list = Server.lower(a[1]) == "info" ? [c] : clients.values.sorted { $0.id < $1.id }
            let text = list.map { x in clientLine(x, now: now, argv: x === c ? a : nil) }.joined()
            return .verbatim(Array(text.utf8))
        case "kill":
            // CLIENT KILL addr (old form), or filters ID / ADDR / SKIPME yes|no.
            var ids: Set<Int64>? = nil, addr: String? = nil, laddr: String? = nil, skipMe = true
            var type: String? = nil, user: String? = nil, maxAge: Int64? = nil
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'client|kill' command") }
            if a.count == 3 {
                addr = String(decoding: a[2], as: UTF8.self)
                guard let victim = clients.values.first(where: { $0.address == addr }) else { return .error("ERR No such client") }
                if victim === c { c.closeAfterReply = true } else { closeClient(victim) }
                return .ok
            }
            guard a.count >= 4, a.count % 2 == 0 else { return .error("ERR syntax error") }
            for i in stride(from: 2, to: a.count, by: 2) {
                let v = String(decoding: a[i + 1], as: UTF8.self)
                switch Server.lower(a[i]) {
                case "id": guard let n = Int64(v), n > 0 else { return .error("ERR client-id should be greater than 0") }; ids = [n]
                case "addr": addr = v
                case "laddr": laddr = v
                case "type":
                    let t = v.lowercased()
                    guard ["normal", "master", "replica", "slave", "pubsub"].contains(t) else { return .error("ERR Unknown client type '\(v)'") }
                    type = t == "slave" ? "replica" : t
                case "user":
                    guard acl.user(v) != nil else { return .error("ERR No such user '\(v)'") }
                    user = v
                case "skipme":
                    switch v.lowercased() {
                    case "yes": skipMe = true
                    case "no": skipMe = false
                    default: return .error("ERR syntax error")
                    }
                case "maxage": guard let n = Int64(v) else { return .error("ERR syntax error") }; maxAge = n
                default: return .error("ERR syntax error")
                }
            }
            let now = EventLoop.nowMs()
            func kind(_ x: Client) -> String { x.isReplica && !x.isMonitor ? "replica" : x.subscriptionCount > 0 ? "pubsub" : "normal" }
            let victims = clients.values.filter { x in
                (ids.map { $0.contains(x.id) } ?? true) && (addr.map { $0 == x.address } ?? true)
                    && (laddr.map { $0 == x.localAddress } ?? true) && (type.map { $0 == kind(x) } ?? true)
                    && (user.map { $0 == x.user } ?? true) && (maxAge.map { (now - x.created) / 1000 >= $0 } ?? true)
                    && !(skipMe && x === c)
            }
            for v in victims { if v === c { c.closeAfterReply = true } else { closeClient(v) } }
            return .integer(Int64(victims.count))
        case "reply":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'client|reply' command") }
            switch Server.lower(a[2]) {
            case "on": c.replyMode = .on; return .ok
            case "off": c.replyMode = .off; return .noReply
            case "skip": c.replyMode = .skipNext; return .noReply
            default: return .error("ERR syntax error")
            }
        case "pause":
            guard a.count == 3 || a.count == 4 else { return .error("ERR wrong number of arguments for 'client|pause' command") }
            guard let ms = Decimal.parseCanonical(a[2]) else { return .error("ERR timeout is not an integer or out of range") }
            if ms < 0 { return .error("ERR timeout is negative") }
            var writesOnly = false
            if a.count == 4 {
                switch Server.lower(a[3]) {
                case "write": writesOnly = true
                case "all": writesOnly = false
                default: return .error("ERR CLIENT PAUSE mode must be WRITE or ALL")
                }
            }
            // A new pause extends, never shortens, and ALL wins over WRITE (pauseClients).
            let until = EventLoop.nowMs() + ms
            if pauseUntil == 0 || !writesOnly || pauseWritesOnly { pauseWritesOnly = writesOnly }
            pauseUntil = max(pauseUntil, until)
            return .ok
        case "unpause":
            guard a.count == 2 else { return .error("ERR wrong number of arguments for 'client|unpause' command") }
            pauseUntil = 0
            resumePaused()
            return .ok
        case "unblock":
            // CLIENT UNBLOCK id [TIMEOUT|ERROR]: a client waiting in a blocking command gets its
            // timeout reply, or the UNBLOCKED error; 1 when there was such a client.
            guard a.count == 3 || a.count == 4 else { return .error("ERR wrong number of arguments for 'client|unblock' command") }
            guard let id = Int64(String(decoding: a[2], as: UTF8.self)) else { return .error("ERR value is not an integer or out of range") }
            var asError = false
            if a.count == 4 {
                switch Server.lower(a[3]) {
                case "timeout": asError = false
                case "error": asError = true
                default: return .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                }
            }
            guard let target = blockedClients.first(where: { $0.id == id }), let call = target.blocked else { return .integer(0) }
            unblock(target, with: asError ? .error("UNBLOCKED client unblocked via CLIENT UNBLOCK") : call.timeoutReply)
            return .integer(1)
        case "no-evict", "tracking":
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'client|\(Server.lower(a[1]))' command") }
            let v = Server.lower(a[2])
            if Server.lower(a[1]) == "tracking" && v == "on" { return .error("ERR client tracking is not supported by strata serve") }
            return ["on", "off"].contains(v) ? .ok : .error("ERR syntax error")
        default:
            return .error("ERR unknown subcommand '\(String(decoding: a[1], as: UTF8.self))'. Try CLIENT HELP.")
        }
    }

    private func configCommand(_ a: [Bytes]) -> Reply {
        guard a.count >= 2 else { return .error("ERR wrong number of arguments for 'config' command") }
        switch Server.lower(a[1]) {
        case "get":
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'config|get' command") }
            var out = [Reply]()
            var seen = Set<String>()
            for p in a.dropFirst(2) {
                let pat = Server.lower(p)
                for name in ServerConfig.known.sorted() where !seen.contains(name) && Glob.matches(Array(pat.utf8), Array(name.utf8)) {
                    guard let v = configValue(name) else { continue }
                    seen.insert(name)
                    out += [.bulk(Array(name.utf8)), .bulk(Array(v.utf8))]
                }
            }
            return .map(out)
        case "set":
            guard a.count >= 4, a.count % 2 == 0 else { return .error("ERR wrong number of arguments for 'config|set' command") }
            var copy = config
            var seen = Set<String>()
            for i in stride(from: 2, to: a.count, by: 2) {
                let name = Server.lower(a[i]), value = String(decoding: a[i + 1], as: UTF8.self)
                if !seen.insert(name).inserted {
                    return .error("ERR CONFIG SET failed (possibly related to argument '\(name)') - duplicate parameter")
                }
                if ["port", "bind", "databases", "daemonize", "logfile", "pidfile", "unixsocket"].contains(name) {
                    return .error("ERR CONFIG SET failed (possibly related to argument '\(name)') - can't set immutable config")
                }
                do {
                    if name == "save" { copy.resetSavePoints() }
                    try copy.set(name, value)
                } catch let e as ServerConfig.ConfigError {
                    return .error("ERR CONFIG SET failed (possibly related to argument '\(name)') - \(e.reason)")
                } catch {
                    return .error("ERR CONFIG SET failed (possibly related to argument '\(name)')")
                }
                if name == "dir" && chdir(value) != 0 {
                    return .error("ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory")
                }
            }
            let wasOn = config.bool("appendonly")
            config = copy
            if config.bool("appendonly") != wasOn {
                if let r = switchAppendOnly(on: !wasOn) { try? config.set("appendonly", wasOn ? "yes" : "no"); return r }
            }
            applyConfig()
            // Lowering maxmemory evicts at once, as Redis's CONFIG SET maxmemory does.
            if maxmemoryBytes > 0 { _ = performEvictions() }
            return .ok
        case "rewrite":
            guard a.count == 2 else { return .error("ERR wrong number of arguments for 'config|rewrite' command") }
            guard let path = config.configFile else { return .error("ERR The server is running without a config file") }
            do { try rewriteConfig(path) } catch {
                log("warning", "CONFIG REWRITE failed: \(error)")
                return .error("ERR Rewriting config file: \(error)")
            }
            log("notice", "CONFIG REWRITE executed with success.")
            return .ok
        case "resetstat":
            commandsProcessed = 0; connectionsReceived = 0; evictedKeys = 0
            stats.reset()
            return .ok
        default:
            return .error("ERR unknown subcommand '\(String(decoding: a[1], as: UTF8.self))'. Try CONFIG HELP.")
        }
    }

    /// Everything the engine and the command path read from the configuration, at startup and
    /// after every CONFIG SET.
    private func applyConfig() {
        var limits = EncodingLimits()
        limits.hashMaxListpackEntries = config.int("hash-max-listpack-entries")
        limits.hashMaxListpackValue = config.int("hash-max-listpack-value")
        limits.zsetMaxListpackEntries = config.int("zset-max-listpack-entries")
        limits.zsetMaxListpackValue = config.int("zset-max-listpack-value")
        limits.setMaxIntsetEntries = config.int("set-max-intset-entries")
        limits.hllSparseMaxBytes = config.int("hll-sparse-max-bytes")
        engine.limits = limits
        engine.maxBulkLength = config.bytes("proto-max-bulk-len")
        minReplicasToWrite = config.int("min-replicas-to-write")
        let policy = MaxmemoryPolicy(rawValue: config.string("maxmemory-policy").lowercased()) ?? .noeviction
        engine.maxmemoryPolicy = policy
        // Keyspace events: worked out only while some class is on (and K or E).
        engine.notifyFlags = NotifyFlags(config: config.string("notify-keyspace-events")) ?? []
        engine.notify = engine.notifyFlags.isDisjoint(with: [.keyspace, .keyevent]) ? nil : { [unowned self] e in self.publishKeyspaceEvent(e) }
        engine.maxmemorySamples = max(1, config.int("maxmemory-samples"))
        engine.lfuLogFactor = config.int("lfu-log-factor")
        engine.lfuDecayTime = config.int("lfu-decay-time")
        maxmemoryBytes = config.bytes("maxmemory")
        let requirepass = config.string("requirepass")
        if appliedRequirepass != requirepass {
            // requirepass is the default user's password (ACL rules "resetpass >pass", or nopass).
            if appliedRequirepass == nil {
                acl.resetDefault(requirepass: requirepass)
                for line in config.users where !line.isEmpty {
                    do { try acl.setUser(line[0], Array(line.dropFirst())) } catch let e as ACL.RuleError {
                        log("warning", "user \(line[0]): \(e.message)")
                    } catch {}
                }
            } else {
                try? acl.setUser("default", requirepass.isEmpty ? ["nopass"] : ["resetpass", ">" + requirepass])
            }
            appliedRequirepass = requirepass
            refreshACLState()
        }
        engine.sharedIntegersDisabled = maxmemoryBytes > 0 && (policy.isLRU || policy.isLFU)
        queryBufferLimit = config.bytes("client-query-buffer-limit")
        slowlogThreshold = Int64(config.int("slowlog-log-slower-than"))
        scripting?.busyThresholdMs = Int64(config.int("busy-reply-threshold"))
        functions?.busyThresholdMs = Int64(config.int("busy-reply-threshold"))
        latencyThresholdMs = Int64(config.int("latency-monitor-threshold"))
        aof?.fsyncPolicy = config.string("appendfsync").lowercased()
        aof?.timestamps = config.bool("aof-timestamp-enabled")
    }

    /// MEMORY USAGE / STATS / DOCTOR / PURGE / MALLOC-STATS / HELP.
    private func memoryCommand(_ c: Client, _ a: [Bytes]) -> Reply {
        let sub = Server.lower(a[1])
        func arity(_ ok: Bool) -> Reply? { ok ? nil : .error("ERR wrong number of arguments for 'memory|\(sub)' command") }
        switch sub {
        case "usage":
            if let e = arity(a.count >= 3) { return e }
            var samples = 5
            var i = 3
            while i < a.count {
                guard Server.lower(a[i]) == "samples", i + 1 < a.count else { return .error("ERR syntax error") }
                guard let n = Decimal.parseCanonical(a[i + 1]), n >= 0 else { return .error("ERR value is out of range, must be positive") }
                samples = n == 0 ? 0 : Int(min(n, Int64(Int32.max)))
                i += 2
            }
            return engine.memoryUsage(engine.databases[c.state.db], a[2], samples: samples).map { .integer(Int64($0)) } ?? .null
        case "stats":
            if let e = arity(a.count == 2) { return e }
            let used = Server.usedMemory(), rss = Server.rss()
            let keys = engine.databases.reduce(0) { $0 + $1.count }
            var out: [Reply] = [.bulk("peak.allocated"), .integer(Int64(max(peakMemory, used))), .bulk("total.allocated"), .integer(Int64(used)),
                                .bulk("startup.allocated"), .integer(Int64(startupMemory)), .bulk("replication.backlog"), .integer(0),
                                .bulk("clients.slaves"), .integer(Int64(replicas.reduce(0) { $0 + $1.out.count })),
                                .bulk("clients.normal"), .integer(Int64(clients.values.reduce(0) { $0 + ($1.isReplica ? 0 : $1.out.count) })),
                                .bulk("aof.buffer"), .integer(0), .bulk("lua.caches"), .integer(0), .bulk("functions.caches"), .integer(0)]
            for db in engine.databases where db.count > 0 {
                out += [.bulk("db.\(db.id)"), .map([.bulk("overhead.hashtable.main"), .integer(Int64(db.count * 48)),
                                                    .bulk("overhead.hashtable.expires"), .integer(Int64(db.expires.count * 48))])]
            }
            let dataset = max(0, used - startupMemory)
            out += [.bulk("overhead.total"), .integer(Int64(startupMemory)), .bulk("keys.count"), .integer(Int64(keys)),
                    .bulk("keys.bytes-per-key"), .integer(keys > 0 ? Int64(dataset / keys) : 0),
                    .bulk("dataset.bytes"), .integer(Int64(dataset)),
                    .bulk("dataset.percentage"), .double(Array(Server.twoDecimals(used > 0 ? Double(dataset) * 100 / Double(used) : 0).utf8)),
                    .bulk("peak.percentage"), .double(Array(Server.twoDecimals(peakMemory > 0 ? Double(used) * 100 / Double(peakMemory) : 100).utf8)),
                    .bulk("fragmentation"), .double(Array(Server.twoDecimals(used > 0 ? Double(rss) / Double(used) : 0).utf8))]
            return .map(out)
        case "doctor":
            if let e = arity(a.count == 2) { return e }
            let used = Server.usedMemory()
            if used < 5 << 20 {
                return .verbatim(Array("Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".utf8))
            }
            return .verbatim(Array("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".utf8))
        case "purge":
            if let e = arity(a.count == 2) { return e }
            for db in engine.databases { db.dict.compactIfSparse(); db.expires.compactIfSparse() }
            return .ok
        case "malloc-stats":
            if let e = arity(a.count == 2) { return e }
            return .verbatim(Array("Stats not supported for the current allocator".utf8))
        case "help":
            return .array(["MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "DOCTOR", "    Return memory problems reports.",
                           "MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
                           "PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
                           "STATS", "    Return information about the memory usage of the server.",
                           "USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
                           "    sampled up to <count> times (default: 5, 0 means sample all).",
                           "HELP", "    Prints this help."].map { .status($0) })
        default:
            return .error("ERR unknown subcommand '\(String(decoding: a[1], as: UTF8.self))'. Try MEMORY HELP.")
        }
    }

    // MARK: CLIENT PAUSE

    /// Whether CLIENT PAUSE holds this command: everything under ALL; under WRITE, writes and
    /// what may replicate (EVAL, FCALL, PUBLISH, PFCOUNT, EXEC of writes), as Redis 7.0.
    static func pauses(_ argv: [Bytes], c: Client, writesOnly: Bool) -> Bool {
        if !writesOnly { return true }
        let name = Server.lower(argv[0])
        if ["eval", "evalsha", "fcall", "publish", "pfcount"].contains(name) { return true }
        if name == "exec", let q = c.multi {
            return q.contains { CommandTable.shared.lookup(Server.lower($0[0]))?.flags.contains(.write) ?? false }
        }
        if name == "function" { return argv.count > 1 && Server.lower(argv[1]) != "list" && Server.lower(argv[1]) != "stats" && Server.lower(argv[1]) != "dump" }
        return CommandTable.shared.lookup(name)?.flags.contains(.write) ?? false
    }

    /// The pause is over: held commands run in arrival order, then each client's later input.
    private func resumePaused() {
        let waiting = pausedClients
        pausedClients = []
        for c in waiting where clients[c.fd] === c {
            guard let cmd = c.pausedCommand else { continue }
            c.pausedCommand = nil
            process(c, cmd)
            processInput(c)
        }
    }

    // MARK: scripting

    /// What a client may run while a script is busy (Redis's CMD_ALLOW_BUSY).
    static func allowedWhileBusy(_ name: String, _ a: [Bytes]) -> Bool {
        switch name {
        case "auth", "hello", "multi", "discard", "watch", "unwatch", "reset", "quit": return true
        case "script": return a.count == 2 && Server.lower(a[1]) == "kill"
        case "function": return a.count == 2 && ["kill", "stats"].contains(Server.lower(a[1]))
        case "fcall", "fcall_ro", "eval", "evalsha", "eval_ro", "evalsha_ro": return false
        case "shutdown": return a.count == 2 && Server.lower(a[1]) == "nosave"
        default: return false
        }
    }

    /// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO script numkeys key... arg...
    private func evalCommand(_ c: Client, _ a: [Bytes], bySHA: Bool, readOnly: Bool) -> Reply {
        guard let scripting else { return .error("ERR \(scriptingUnavailable)") }
        guard let n = Decimal.parseCanonical(a[2]) else { return .error("ERR value is not an integer or out of range") }
        if n > Int64(a.count - 3) { return .error("ERR Number of keys can't be greater than number of args") }
        if n < 0 { return .error("ERR Number of keys can't be negative") }
        let sha: String
        if bySHA {
            sha = Server.lower(a[1])
            if scripting.scripts[sha] == nil { return .error("NOSCRIPT No matching script. Please use EVAL.") }
        } else {
            switch scripting.create(a[1]) {
            case .failure(let e): return .error(e.message)
            case .success(let s): sha = s
            }
        }
        let keys = Array(a[3..<(3 + Int(n))]), args = Array(a[(3 + Int(n))...])
        scriptCaller = c
        let clock = freezeClock()
        holdBlocked += 1
        defer { scriptCaller = nil; busyScript = nil; replMask = 3; engine.clock = clock; releaseBlocked() }
        return scripting.call(sha: sha, keys: keys, args: args, db: c.state.db, readOnlyCommand: readOnly, oom: outOfMemory)
    }

    /// A script sees one time from start to end (keys do not expire while it runs), as Redis
    /// 7.0 fixes it; the clock to restore afterwards is returned.
    private func freezeClock() -> () -> Int64 {
        let real = engine.clock
        let now = real()
        engine.clock = { now }
        return real
    }

    /// SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP.
    private func scriptCommand(_ a: [Bytes]) -> Reply {
        let sub = Server.lower(a[1])
        guard let scripting else {
            return sub == "help" ? .array([]) : .error("ERR \(scriptingUnavailable)")
        }
        switch sub {
        case "load":
            guard a.count == 3 else { return .error("ERR wrong number of arguments for 'script|load' command") }
            switch scripting.create(a[2]) {
            case .failure(let e): return .error(e.message)
            case .success(let sha): return .bulk(Array(sha.utf8))
            }
        case "exists":
            guard a.count >= 3 else { return .error("ERR wrong number of arguments for 'script|exists' command") }
            return .array(a.dropFirst(2).map { .integer(scripting.scripts[Server.lower($0)] != nil ? 1 : 0) })
        case "flush":
            if a.count > 3 || (a.count == 3 && !["sync", "async"].contains(Server.lower(a[2]))) {
                return .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            }
            scripting.reset()
            return .ok
        case "kill":
            guard a.count == 2 else { return .error("ERR wrong number of arguments for 'script|kill' command") }
            if functions?.run != nil { return .error("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.") }
            guard let run = scripting.run, !run.isFunction else { return .error("NOTBUSY No scripts in execution right now.") }
            if run.wrote {
                return .error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
            }
            run.killed = true
            return .ok
        case "help":
            return .array(["SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "EXISTS <sha1> [<sha1> ...]", "    Return information about the existence of the scripts in the script cache.",
                           "FLUSH [ASYNC|SYNC]", "    Flush the Lua scripts cache. Very dangerous on replicas.",
                           "    When called without the optional mode argument, the behavior is determined by the",
                           "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                           "    * ASYNC: Asynchronously flush the scripts cache.", "    * SYNC: Synchronously flush the scripts cache.",
                           "KILL", "    Kill the currently executing Lua script.",
                           "LOAD <script>", "    Load a script into the scripts cache without executing it.",
                           "HELP", "    Prints this help."].map { .status($0) })
        default:
            return .error("ERR unknown subcommand '\(String(decoding: a[1], as: UTF8.self))'. Try SCRIPT HELP.")
        }
    }

    /// redis.call / redis.pcall: the checks Redis makes for a command from a script, then the
    /// command on the script's own client (its db; blocking commands answer at once).
    func scriptCall(_ args: [Bytes], _ run: ScriptRun) -> Reply {
        // Scripts run with their caller's ACL permissions.
        if aclActive, let caller = scriptCaller, let u = acl.user(caller.user),
           let denial = aclDenial(u, Server.lower(args[0]), args) {
            return .error("ERR The user executing the script \(denial.scriptWording)")
        }
        // A plain engine command (the common case) is found by its spelling, with no name string
        // and no server dispatch; anything else by its lower-case name.
        let plain = engine.command(args[0]).flatMap { !Server.maybeServerCommand(args[0]) && !Server.maybeBlocking(args[0]) ? $0 : nil }
        let name = plain?.name ?? Server.lower(args[0])
        let engineCommand = plain ?? CommandTable.shared.lookup(name)
        let serverInfo = engineCommand == nil ? Server.serverCommandInfoByName[name] : nil
        let blocking = plain == nil && Server.blockingCommands.contains(name)
        if plain == nil {
            // CLUSTER exists in Redis (its subcommands are refused in scripts), though not here.
            if name == "cluster" && !scriptsMayRunAnything { return .error("ERR This Redis command is not allowed from script") }
            guard engineCommand != nil || serverInfo != nil || blocking else { return .error("ERR Unknown Redis command called from script") }
        }
        let arity = engineCommand?.arity ?? serverInfo?.1 ?? -2
        if (arity > 0 && args.count != arity) || (arity < 0 && args.count < -arity) {
            return .error("ERR Wrong number of args calling Redis command from script")
        }
        if !scriptsMayRunAnything && (engineCommand?.flags.contains(.noscript) == true || serverInfo?.2.contains("noscript") == true || blocking) {
            return .error("ERR This Redis command is not allowed from script")
        }
        if plain == nil, name == "xread" || name == "xreadgroup", args.contains(where: { Server.lower($0) == "block" }) {
            return .error("ERR \(name) command is not allowed with BLOCK option from scripts")
        }
        if engineCommand?.flags.contains(.write) ?? blocking {
            if run.readOnly { return .error("ERR Write commands are not allowed from read-only scripts.") }
            if let err = aof?.lastWriteError { return .error("MISCONF Errors writing to the AOF file: \(err)") }
        }
        if maxmemoryBytes > 0 && !run.allowOOM && !run.wrote && outOfMemory && engineCommand?.flags.contains(.denyoom) == true {
            return .error("OOM command not allowed when used memory > 'maxmemory'.")
        }
        let c = scriptClient
        c.state.db = run.db
        c.resp = run.resp
        if !monitors.isEmpty { feedMonitors(c, args) }   // `[db lua] "set" ...`, as Redis logs it
        replMask = run.replicate
        let before = engine.dirty
        let t0 = Server.microseconds()
        var r: Reply
        if plain != nil && watchers.isEmpty && blockedClients.isEmpty {
            r = engine.execute(args, client: &c.state)   // nothing of the server's is involved
        } else {
            r = execute(c, name, args)
            c.out.removeAll()   // what a command writes directly (attributes) is not the script's
        }
        stats.record(stats.entry(args) { _ in true }, usec: Server.microseconds() - t0, error: nil)
        if engine.dirty != before { run.wrote = true }
        run.db = c.state.db
        if case .status(let st) = r, st == Server.noReplyMarker { r = .null }
        return r
    }

    func scriptLog(_ level: String, _ message: String) { log(level, message) }

    /// Called from the script's hook once it is past the busy threshold: other clients are
    /// served (BUSY to most commands; SCRIPT KILL and SHUTDOWN NOSAVE act).
    func scriptBusy(_ run: ScriptRun) {
        busyScript = run
        loop.pollOnce()
        // The script's caller gets its reply when the script ends; the others now.
        let caller = scriptCaller.flatMap { $0.writeQueued ? $0 : nil }
        pendingWrites.removeAll { $0 === caller }
        caller?.writeQueued = false
        writePending()
        if let caller { flush(caller) }
    }

    /// Memory as maxmemory sees it: allocated bytes less the replicas' output buffers (Redis's
    /// freeMemoryGetNotCountedMemory) and less the table slots deleted keys left for reuse.
    private func memoryForEviction() -> Int {
        var used = Server.usedMemory()
        for r in replicas { used -= r.out.count }
        for db in engine.databases where db.dict.count > 0 || db.expires.count > 0 {
            used -= db.dict.reusableBytes + db.expires.reusableBytes
        }
        return max(0, used)
    }

    /// performEvictions: evicts keys under the policy until memory is within maxmemory.
    /// False when it cannot get there (noeviction, or nothing the policy may take).
    private func performEvictions() -> Bool {
        var used = memoryForEviction()
        if used <= maxmemoryBytes { return true }
        while used > maxmemoryBytes {
            guard let (db, key) = engine.evictOne() else { return false }
            evictedKeys += 1
            touch(db, key)
            // Deleted slots stay in the table's slab until it is compacted: do it as it thins.
            engine.databases[db].dict.compactIfSparse()
            engine.databases[db].expires.compactIfSparse()
            used = memoryForEviction()
        }
        return true
    }

    static func usedMemory() -> Int { Int(strata_used_memory()) }

    /// bytesToHuman: "1.50M" and the like.
    static func bytesToHuman(_ n: Int) -> String {
        let d = Double(n)
        if n < 1024 { return "\(n)B" }
        if n < 1 << 20 { return twoDecimals(d / 1024) + "K" }
        if n < 1 << 30 { return twoDecimals(d / 1048576) + "M" }
        if n < 1 << 40 { return twoDecimals(d / 1073741824) + "G" }
        return twoDecimals(d / 1099511627776) + "T"
    }

    /// `%.2f` without Foundation.
    static func twoDecimals(_ d: Double) -> String {
        let hundredths = Int((d * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    /// CONFIG REWRITE (Redis's rewriteConfig): every line of the file stays, comments and order
    /// included; an option's line gets its current value (later duplicates are dropped); options
    /// changed from their default and absent from the file are appended after
    /// "# Generated by CONFIG REWRITE"; users are written as `user` lines. The file is replaced
    /// atomically (temporary file, fsync, rename).
    private func rewriteConfig(_ path: String) throws {
        let original = String(decoding: (try? FileIO.readFile(path)) ?? [], as: UTF8.self)
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var lineOf: [String: [Int]] = [:]
        for (i, l) in lines.enumerated() {
            let t = String(l.drop(while: { $0 == " " || $0 == "\t" }))
            if t.isEmpty || t.hasPrefix("#") { continue }
            guard let first = t.split(separator: " ").first else { continue }
            lineOf[config.canonical(first.lowercased()), default: []].append(i)
        }
        var appended: [String] = []
        func put(_ name: String, _ newLines: [String], force: Bool) {
            if let at = lineOf[name], !at.isEmpty {
                for (k, i) in at.enumerated() { lines[i] = k < newLines.count ? newLines[k] : "\u{0}" }
                if newLines.count > at.count { appended += newLines[at.count...] }
            } else if force {
                appended += newLines
            }
        }
        let options = ServerConfig.honoured.subtracting(["rename-command", "client-output-buffer-limit", "user", "include",
            "hash-max-ziplist-entries", "hash-max-ziplist-value", "zset-max-ziplist-entries", "zset-max-ziplist-value", "lua-time-limit"])
        for name in options.sorted() {
            guard let value = configValue(name) else { continue }
            let def = name == "save" ? "3600 1 300 100 60 10000" : name == "bind" ? "127.0.0.1 -::1" : (ServerConfig.defaults[name] ?? "")
            let text: String
            switch name {
            case "save": text = value.isEmpty ? "save \"\"" : "save " + value
            case "bind": text = "bind " + value
            default: text = name + " " + ServerConfig.quote(value)
            }
            put(name, [text], force: value != def)
        }
        let users = acl.users.keys.sorted().compactMap { acl.users[$0]?.description }
        let defaultOnly = users == [ACL.defaultDescription(requirepass: config.string("requirepass"), acl: acl)]
        put("user", users, force: !defaultOnly)
        var out = lines.filter { $0 != "\u{0}" }
        if !appended.isEmpty { out.append("# Generated by CONFIG REWRITE"); out += appended }
        let text = out.joined(separator: "\n") + "\n"
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ServerError(String(cString: strerror(errno))) }
        let ok = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            throw ServerError(e)
        }
    }

    private func configValue(_ name: String) -> String? {
        switch name {
        case "save": return config.savePoints.map { "\($0.seconds) \($0.changes)" }.joined(separator: " ")
        case "bind": return config.binds.joined(separator: " ")
        case "dir":
            var buf = [CChar](repeating: 0, count: 4096)
            return getcwd(&buf, 4096) != nil ? String(cString: buf) : config.string("dir")
        case "include", "rename-command", "user", "loadmodule", "sentinel": return nil
        case "client-output-buffer-limit":
            return [("normal", "normal"), ("replica", "slave"), ("pubsub", "pubsub")].map { cls, shown in
                let v = config.outputBufferLimits[cls] ?? ServerConfig.outputBufferDefaults[cls]!
                return "\(shown) \(ServerConfig.memory(v[0]) ?? 0) \(ServerConfig.memory(v[1]) ?? 0) \(v[2])"
            }.joined(separator: " ")
        default:
            let n = config.canonical(name)
            if let v = config.values[n]?.joined(separator: " ") { return v }
            return ServerConfig.defaults[n] ?? ""
        }
    }

    // MARK: persistence

    /// Writes the dataset to `dbfilename` atomically (SAVE, SHUTDOWN, the child of BGSAVE).
    @discardableResult
    func saveNow() -> Bool {
        let file = config.string("dbfilename")
        do {
            try writeRDB(to: file)
            dirty = 0
            lastSave = Engine.systemClock() / 1000
            lastSaveOK = true
            log("notice", "DB saved on disk")
            return true
        } catch {
            lastSaveOK = false
            log("warning", "Failed saving the DB: \(error)")
            return false
        }
    }

    private func writeRDB(to file: String) throws {
        let f = try AtomicFile(path: file)
        do {
            let sink = ByteSink(fileDescriptor: f.fd)
            let writer = RDBWriter(sink: sink, target: Engine.dumpTarget)
            writer.compression = config.bool("rdbcompression")
            writer.checksum = config.bool("rdbchecksum")
            try engine.save(to: writer, functions: functionLibraries)
            try sink.flush()
            try f.commit()
        } catch {
            f.abandon()
            throw error
        }
    }

    /// BGSAVE as Redis does it: a forked child writes the snapshot (copy-on-write), the parent
    /// keeps serving and reaps it from the cron.
    private func backgroundSave() -> Bool {
        let pid = fork()
        if pid < 0 { log("warning", "Can't save in background: fork: \(String(cString: strerror(errno)))"); return false }
        if pid == 0 {
            do { try writeRDB(to: config.string("dbfilename")); _exit(0) } catch { _exit(1) }
        }
        childPID = pid
        childStarted = Engine.systemClock() / 1000
        savedDirtyAtFork = dirty
        log("notice", "Background saving started by pid \(pid)")
        return true
    }

    private var savedDirtyAtFork = 0

    private func reapChild() {
        guard childPID != 0 else { return }
        var status: Int32 = 0
        let r = waitpid(childPID, &status, WNOHANG)
        guard r == childPID else { return }
        childPID = 0
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        if let rw = aofRewrite, let aof {
            aofRewrite = nil
            if exited && code == 0 {
                do {
                    try aof.finishRewrite(tempBase: rw.tempBase, baseName: rw.baseName, keepHistory: config.bool("aof-disable-auto-gc"))
                    aofRewrites += 1
                    aofLastRewriteOK = true
                    log("notice", "Background AOF rewrite finished successfully")
                } catch {
                    aof.abortRewrite(tempBase: rw.tempBase)
                    aofLastRewriteOK = false
                    log("warning", "Background AOF rewrite failed: \(error)")
                }
            } else {
                aof.abortRewrite(tempBase: rw.tempBase)
                aofLastRewriteOK = false
                log("warning", "Background AOF rewrite terminated with error")
            }
            return
        }
        if exited && code == 0 {
            dirty -= savedDirtyAtFork
            lastSave = childStarted
            lastSaveOK = true
            log("notice", "Background saving terminated with success")
        } else {
            lastSaveOK = false
            log("warning", "Background saving error")
        }
    }

    // MARK: replica side (REPLICAOF)

    /// The link to this server's master while it is a replica (nil: a master).
    private var masterLink: MasterLink?
    private var lastLinkCron: Int64 = 0
    /// min-replicas-to-write, read on every command's path (set by applyConfig).
    private var minReplicasToWrite = 0
    /// The client the master's stream runs as (no replies; never READONLY, never OOM).
    private lazy var masterClient: Client = {
        let c = Client(fd: -1, id: nextClientID, limits: RESPCommandReader.Limits(), authenticated: true, now: EventLoop.nowMs(), address: "master")
        nextClientID += 1
        return c
    }()
    private var previousReplicationID = String(repeating: "0", count: 40)

    /// Commands a replica with a down link still answers under replica-serve-stale-data no
    /// (Redis's "stale" flag).
    static func staleAllowed(_ name: String) -> Bool {
        if let info = serverCommandInfoByName[name] { return info.2.contains("stale") }
        return name == "select"
    }

    /// Commands that write (the engine's write flag; server commands that change data).
    static func isWrite(_ name: String, _ args: [Bytes]) -> Bool {
        if let cmd = CommandTable.shared.lookup(name) { return cmd.flags.contains(.write) }
        return ["blmove", "brpoplpush", "blmpop", "bzmpop", "blpop", "brpop", "bzpopmin", "bzpopmax"].contains(name)
            || (name == "function" && args.count > 1 && ["load", "delete", "flush", "restore"].contains(Server.lower(args[1])))
    }

    /// REPLICAOF host port | NO ONE.
    private func replicaofCommand(_ c: Client, _ a: [Bytes]) -> Reply {
        guard a.count == 3 else { return .error("ERR wrong number of arguments for '\(Server.lower(a[0]))' command") }
        let host = String(decoding: a[1], as: UTF8.self)
        if host.lowercased() == "no" && Server.lower(a[2]) == "one" {
            if let link = masterLink {
                link.close()
                masterLink = nil
                // A new history starts here; the master's is kept as the second ID (PSYNC2).
                previousReplicationID = link.masterReplID.isEmpty ? replicationID : link.masterReplID
                replicationID = Server.randomReplicationID()
                log("notice", "MASTER MODE enabled (user request from 'id=\(c.id) addr=\(c.address) laddr=\(c.localAddress) fd=\(c.fd) name=\(String(decoding: c.name, as: UTF8.self))')")
            }
            return .ok
        }
        guard let port = Int(String(decoding: a[2], as: UTF8.self)), port >= 0, port <= 65535 else {
            return .error("ERR Invalid master port")
        }
        if let link = masterLink, link.host == host, link.port == port {
            log("notice", "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
            return .status("OK Already connected to specified master")
        }
        startReplication(host: host, port: port)
        log("notice", "REPLICAOF \(host):\(port) enabled (user request from 'id=\(c.id) addr=\(c.address) laddr=\(c.localAddress) fd=\(c.fd) name=\(String(decoding: c.name, as: UTF8.self))')")
        return .ok
    }

    /// Becomes a replica of host:port: this server's own replicas are disconnected (they will
    /// resynchronise), blocked clients are released, and the link connects from the next cron.
    private func startReplication(host: String, port: Int) {
        masterLink?.close()
        for r in replicas { closeClient(r) }
        let pass = config.string("masterauth"), user = config.string("masteruser")
        masterLink = MasterLink(host: host, port: port, listeningPort: config.int("port"),
                                auth: pass.isEmpty ? nil : (user.isEmpty ? nil : user, pass), timeoutSeconds: config.int("repl-timeout"),
                                loop: loop, log: { [unowned self] level, m in self.log(level, m) },
                                loadPayload: { [unowned self] path in try self.loadFromMaster(path) },
                                apply: { [unowned self] argv in self.applyFromMaster(argv) })
        masterClient.state.db = 0
        masterClient.multi = nil
        lastLinkCron = 0
        masterLink!.connect()
    }

    /// The full resynchronisation's RDB: it becomes dbfilename and replaces the dataset.
    private func loadFromMaster(_ path: String) throws {
        let file = config.string("dbfilename")
        guard rename(path, file) == 0 else { throw ServerError("rename \(path) to \(file): \(String(cString: strerror(errno)))") }
        for db in engine.databases { db.dict.removeAll(); db.expires.removeAll() }
        for c in clients.values where !c.watched.isEmpty { c.dirtyCAS = true }
        masterClient.state.db = 0
        masterClient.multi = nil
        try loadData()
        // The AOF restarts from the new dataset, as Redis's replica rewrites it after a sync.
        if aof != nil { aofRewriteScheduled = true }
    }

    /// One command of the master's stream, run as the master client, its reply dropped.
    private func applyFromMaster(_ argv: [Bytes]) {
        let c = masterClient
        process(c, argv)
        c.out.removeAll()
    }

    private static func randomReplicationID() -> String {
        var rng = SystemRandomNumberGenerator()
        return String((0..<40).map { _ in "0123456789abcdef".randomElement(using: &rng)! })
    }

    /// INFO replication, with the fields redis-server shows for its role.
    private func replicationInfo() -> [(String, String)] {
        var f: [(String, String)] = []
        if let link = masterLink {
            let now = EventLoop.nowMs()
            f = [("role", "slave"), ("master_host", link.host), ("master_port", "\(link.port)"),
                 ("master_link_status", link.isUp ? "up" : "down"),
                 ("master_last_io_seconds_ago", link.state == .down ? "-1" : "\((now - link.lastIO) / 1000)"),
                 ("master_sync_in_progress", link.syncInProgress ? "1" : "0"),
                 ("slave_read_repl_offset", "\(link.offset)"), ("slave_repl_offset", "\(link.offset)")]
            if !link.isUp { f.append(("master_link_down_since_seconds", "\((now - link.downSince) / 1000)")) }
            f += [("slave_priority", config.string("replica-priority")), ("slave_read_only", config.bool("replica-read-only") ? "1" : "0"),
                  ("replica_announced", "1")]
        } else {
            f = [("role", "master")]
        }
        f.append(("connected_slaves", "\(replicas.count)"))
        for (i, r) in replicas.enumerated() {
            let host = r.address.split(separator: ":").dropLast().joined(separator: ":")
            f.append(("slave\(i)", "ip=\(host),port=\(r.listeningPort),state=online,offset=0,lag=0"))
        }
        let offset = masterLink.map { $0.offset } ?? 0
        f += [("master_failover_state", "no-failover"), ("master_replid", masterLink.map { $0.masterReplID.isEmpty ? replicationID : $0.masterReplID } ?? replicationID),
              ("master_replid2", previousReplicationID), ("master_repl_offset", "\(offset)"), ("second_repl_offset", "-1"),
              ("repl_backlog_active", "0"), ("repl_backlog_size", config.string("repl-backlog-size")),
              ("repl_backlog_first_byte_offset", "0"), ("repl_backlog_histlen", "0")]
        return f
    }

    // MARK: cron

    private func cron() {
        if shutdownSignal != 0 {
            log("warning", "Received \(shutdownSignal == SIGTERM ? "SIGTERM" : "SIGINT") scheduling shutdown...")
            shutdownSignal = 0
            if !config.savePoints.isEmpty { log("notice", "Saving the final RDB snapshot before exiting."); saveNow() }
            shuttingDown = true
            loop.stopRequested = true
            return
        }
        expireBlocked()
        if let link = masterLink, EventLoop.nowMs() - lastLinkCron >= 1000 {
            lastLinkCron = EventLoop.nowMs()
            link.cron()
        }
        if pauseUntil > 0 && EventLoop.nowMs() >= pauseUntil { pauseUntil = 0; resumePaused() }
        if activeExpireEnabled && masterLink == nil {   // a replica's keys expire by its master's DELs
            // Watched keys the cycle deletes are touched (EXEC of their watchers fails).
            let watchedLive = watchers.keys.filter { $0.db < engine.databases.count && engine.databases[$0.db].dict[$0.key.bytes] != nil }
            let t0 = EventLoop.nowMs()
            engine.activeExpireCycle(budgetMicroseconds: 1000 * 25 / max(1, config.int("hz")))
            // A slow cycle (freeing a big key, say) is the latency monitor's "expire-cycle" event.
            let took = EventLoop.nowMs() - t0
            if latencyThresholdMs > 0 && took >= latencyThresholdMs { latencyRecord("expire-cycle", took) }
            for w in watchedLive where engine.databases[w.db].dict[w.key.bytes] == nil { touch(w.db, w.key.bytes) }
        }
        engine.cron()
        engine.cachedUnixMs = Engine.systemClock()
        peakMemory = max(peakMemory, Server.usedMemory())
        reapChild()
        if let aof {
            aof.holdFsync = childPID != 0 && config.bool("no-appendfsync-on-rewrite")
            aof.cron(now: Engine.systemClock())
            if childPID == 0 {
                let perc = config.int("auto-aof-rewrite-percentage")
                let base = max(aof.baseSize, 1)
                let size = aof.baseSize + aof.incrSize
                if aofRewriteScheduled || (perc > 0 && size >= config.bytes("auto-aof-rewrite-min-size") && (size - base) * 100 / base >= perc) {
                    if !aofRewriteScheduled { log("notice", "Starting automatic rewriting of AOF on \((size - base) * 100 / base)% growth") }
                    _ = backgroundRewriteAOF()
                }
            }
        }
        let now = Engine.systemClock() / 1000
        if childPID == 0 {
            for p in config.savePoints where dirty >= p.changes && now - lastSave >= Int64(p.seconds) {
                log("notice", "\(p.changes) changes in \(p.seconds) seconds. Saving...")
                _ = backgroundSave()
                break
            }
        }
        let timeout = config.int("timeout")
        if timeout > 0 {
            let limit = EventLoop.nowMs() - Int64(timeout) * 1000
            for c in clients.values where c.lastInteraction < limit && c.multi == nil { closeClient(c) }
        }
    }

    private func finalShutdown() -> Int32 {
        if childPID != 0 { kill(childPID, SIGUSR1); var s: Int32 = 0; waitpid(childPID, &s, 0) }
        if let rw = aofRewrite { aof?.abortRewrite(tempBase: rw.tempBase) }
        if let aof {
            log("notice", "Calling fsync() on the AOF file.")
            aof.close(now: Engine.systemClock())
        }
        for c in clients.values { closeClient(c) }
        for l in listeners { close(l) }
        if let p = unixSocketPath { unlink(p) }
        log("warning", "Strata is now ready to exit, bye bye...")
        return 0
    }

    // MARK: INFO

    func info(_ section: String) -> String {
        let all = section == "all" || section == "everything"
        let def = section == "default" || all
        var out = ""
        func add(_ name: String, _ lines: [(String, String)], inDefault: Bool = true) {
            guard (inDefault ? def : all) || section == name.lowercased() else { return }
            if !out.isEmpty { out += "\r\n" }
            out += "# \(name)\r\n" + lines.map { "\($0.0):\($0.1)\r\n" }.joined()
        }
        let now = Engine.systemClock()
        add("Server", [("redis_version", Server.version), ("redis_mode", "standalone"), ("os", "Linux"),
                       ("process_id", "\(getpid())"), ("tcp_port", "\(config.int("port"))"),
                       ("uptime_in_seconds", "\((now - startTime) / 1000)"), ("hz", "\(config.int("hz"))"),
                       ("executable", "strata"), ("config_file", "")])
        add("Clients", [("connected_clients", "\(clients.count)"), ("maxclients", "\(config.int("maxclients"))"), ("blocked_clients", "\(blockedClients.count)")])
        var ru = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
        // used_memory counts allocated blocks (CStrataAlloc), as Redis's zmalloc does.
        let rss = Server.rss(), used = Server.usedMemory()
        peakMemory = max(peakMemory, used)
        let maxmemory = config.bytes("maxmemory")
        add("Memory", [("used_memory", "\(used)"), ("used_memory_human", Server.bytesToHuman(used)),
                       ("used_memory_rss", "\(rss)"), ("used_memory_rss_human", Server.bytesToHuman(rss)),
                       ("used_memory_peak", "\(peakMemory)"), ("used_memory_peak_human", Server.bytesToHuman(peakMemory)),
                       ("maxmemory", "\(maxmemory)"), ("maxmemory_human", Server.bytesToHuman(maxmemory)),
                       ("maxmemory_policy", config.string("maxmemory-policy")),
                       ("mem_fragmentation_ratio", Server.twoDecimals(used > 0 ? Double(rss) / Double(used) : 0)),
                       ("mem_allocator", "libc"),
                       ("used_memory_lua", "\(scripting?.memory ?? 0)"), ("used_memory_vm_functions", "\(functions?.memory ?? 0)"),
                       ("number_of_cached_scripts", "\(scripting?.scripts.count ?? 0)"),
                       ("number_of_functions", "\(functions?.libraries.reduce(0) { $0 + $1.functions.count } ?? 0)"),
                       ("number_of_libraries", "\(functions?.libraries.count ?? 0)")])
        add("Persistence", [("loading", "0"), ("rdb_changes_since_last_save", "\(dirty)"),
                            ("rdb_bgsave_in_progress", childPID != 0 ? "1" : "0"), ("rdb_last_save_time", "\(lastSave)"),
                            ("rdb_last_bgsave_status", lastSaveOK ? "ok" : "err"), ("aof_enabled", aof != nil ? "1" : "0"),
                            ("aof_rewrite_in_progress", aofRewrite != nil ? "1" : "0"), ("aof_rewrite_scheduled", aofRewriteScheduled ? "1" : "0"),
                            ("aof_rewrites", "\(aofRewrites)"), ("aof_last_bgrewrite_status", aofLastRewriteOK ? "ok" : "err"),
                            ("aof_last_write_status", aof?.lastWriteError == nil ? "ok" : "err")]
                            + (aof.map { [("aof_current_size", "\($0.baseSize + $0.incrSize)"), ("aof_base_size", "\($0.baseSize)")] } ?? []))
        add("Stats", [("total_connections_received", "\(connectionsReceived)"), ("total_commands_processed", "\(commandsProcessed)"),
                      ("evicted_keys", "\(evictedKeys)"), ("total_error_replies", "\(stats.totalErrors)")])
        add("Replication", replicationInfo())
        add("CPU", [("used_cpu_sys", "\(Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6)"),
                    ("used_cpu_user", "\(Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6)")])
        add("Commandstats", stats.commandLines, inDefault: false)
        add("Errorstats", stats.errorLines, inDefault: false)
        var ks = [(String, String)]()
        for db in engine.databases where db.count > 0 {
            ks.append(("db\(db.id)", "keys=\(db.count),expires=\(db.expires.count),avg_ttl=0"))
        }
        add("Keyspace", ks)
        return out + "\r\n"
    }

    static func rss() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        _ = withVaList([withUnsafeMutablePointer(to: &size) { $0 }, withUnsafeMutablePointer(to: &resident) { $0 }]) { vfscanf(f, "%ld %ld", $0) }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension String {
    init(format3 v: Int) { self = v < 10 ? "00\(v)" : (v < 100 ? "0\(v)" : "\(v)") }
    init(format3ms ms: Int64) { self = "\(ms / 1000).\(String(format3: Int(ms % 1000)))" }
}

extension Reply {
    static let noReply = Reply.status(Server.noReplyMarker)
}

/// A WATCHed key: its database and name.
struct WatchKey: Hashable {
    let db: Int
    let key: ByteKey
}
