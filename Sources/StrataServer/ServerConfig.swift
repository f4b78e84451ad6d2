import StrataFormats
import StrataEngine

/// The configuration of `strata serve`, read as redis-server 7.0 reads it: a redis.conf file
/// (one directive per line, arguments split with Redis's quoting rules, `#` comments) followed
/// by `--directive value ...` from the command line, later lines overriding earlier ones.
/// An unknown directive or a bad argument stops startup with Redis's error text and line.
public struct ServerConfig: Sendable {
    /// Directive → its arguments (the last occurrence wins for single-valued directives).
    public private(set) var values: [String: [String]] = [:]
    /// `save` points in the order given (an empty `save ""` clears them).
    public private(set) var savePoints: [(seconds: Int, changes: Int)] = [(3600, 1), (300, 100), (60, 10000)]
    public private(set) var binds: [String] = ["127.0.0.1", "-::1"]
    public private(set) var renames: [(from: String, to: String)] = []
    /// `client-output-buffer-limit` per class (normal, replica, pubsub): hard, soft, seconds.
    public private(set) var outputBufferLimits: [String: [String]] = [:]
    static let outputBufferDefaults = ["normal": ["0", "0", "0"], "replica": ["256mb", "64mb", "60"], "pubsub": ["32mb", "8mb", "60"]]
    /// Directives accepted and recorded but without effect in Strata (named in the log).
    public private(set) var ignored: [String] = []
    /// `user NAME rule...` lines (ACL users), in file order.
    public private(set) var users: [[String]] = []
    /// The configuration file the server started from (absolute), for CONFIG REWRITE.
    public var configFile: String?

    public struct ConfigError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let text: String
        public let reason: String
        /// Redis's exact wording.
        public var description: String {
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line \(line)\n>>> '\(text)'\n\(reason)"
        }
    }

    public init() {}

    // Defaults of the directives Strata acts on.
    static let defaults: [String: String] = [
        "port": "6379", "dir": ".", "dbfilename": "dump.rdb", "appendonly": "no",
        "appendfilename": "appendonly.aof", "appenddirname": "appendonlydir", "appendfsync": "everysec",
        "daemonize": "no", "pidfile": "", "logfile": "", "loglevel": "notice", "databases": "16",
        "protected-mode": "yes", "requirepass": "", "maxclients": "10000", "timeout": "0",
        "tcp-keepalive": "300", "hz": "10", "enable-debug-command": "no", "unixsocket": "",
        "unixsocketperm": "0", "maxmemory": "0", "maxmemory-policy": "noeviction",
        "maxmemory-samples": "5", "lfu-log-factor": "10", "lfu-decay-time": "1",
        "rdbcompression": "yes", "rdbchecksum": "yes", "aof-use-rdb-preamble": "yes",
        "aof-timestamp-enabled": "no", "aof-load-truncated": "yes", "stop-writes-on-bgsave-error": "yes",
        "proto-max-bulk-len": "536870912", "client-query-buffer-limit": "1073741824",
        "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
        "zset-max-listpack-entries": "128", "zset-max-listpack-value": "64",
        "set-max-intset-entries": "512", "hll-sparse-max-bytes": "3000", "tcp-backlog": "511",
        "slowlog-log-slower-than": "10000", "slowlog-max-len": "128", "lua-time-limit": "5000",
        "busy-reply-threshold": "5000", "sanitize-dump-payload": "no", "shutdown-on-sigterm": "default", "shutdown-on-sigint": "default",
        // Yes/no directives accepted but not acted on: redis-server 7.0's defaults, so that
        // CONFIG GET shows them as Redis does and a client can set them back.
        "activerehashing": "yes", "activedefrag": "no", "always-show-logo": "no", "crash-log-enabled": "yes",
        "crash-memcheck-enabled": "yes", "jemalloc-bg-thread": "yes", "set-proc-title": "yes", "syslog-enabled": "no",
        "io-threads-do-reads": "no", "latency-tracking": "yes", "disable-thp": "yes", "aof-disable-auto-gc": "no",
        "replica-lazy-flush": "no", "slave-lazy-flush": "no", "repl-diskless-sync": "yes", "repl-disable-tcp-nodelay": "no",
        "replica-ignore-maxmemory": "yes", "slave-ignore-maxmemory": "yes", "lazyfree-lazy-eviction": "no",
        "lazyfree-lazy-expire": "no", "lazyfree-lazy-server-del": "no", "lazyfree-lazy-user-del": "no",
        "lazyfree-lazy-user-flush": "no", "replica-read-only": "yes", "slave-read-only": "yes",
        "replica-serve-stale-data": "yes", "slave-serve-stale-data": "yes", "cluster-enabled": "no", "dynamic-hz": "yes",
        "aof-rewrite-incremental-fsync": "yes", "rdb-save-incremental-fsync": "yes", "no-appendfsync-on-rewrite": "no",
        // The rest of redis-server 7.0's defaults (CONFIG GET shows them; the AOF ones act).
        "auto-aof-rewrite-percentage": "100", "auto-aof-rewrite-min-size": "67108864", "latency-monitor-threshold": "0",
        "acl-pubsub-default": "resetchannels", "acllog-max-len": "128", "active-defrag-cycle-max": "25",
        "active-defrag-cycle-min": "1", "active-defrag-ignore-bytes": "104857600", "active-defrag-max-scan-fields": "1000",
        "active-defrag-threshold-lower": "10", "active-defrag-threshold-upper": "100", "active-expire-effort": "1",
        "cluster-allow-pubsubshard-when-down": "yes", "cluster-allow-reads-when-down": "no",
        "cluster-allow-replica-migration": "yes", "cluster-announce-bus-port": "0", "cluster-announce-port": "0",
        "cluster-announce-tls-port": "0", "cluster-config-file": "nodes.conf", "cluster-link-sendbuf-limit": "0",
        "cluster-migration-barrier": "1", "cluster-node-timeout": "15000", "cluster-port": "0",
        "cluster-preferred-endpoint-type": "ip", "cluster-replica-no-failover": "no", "cluster-replica-validity-factor": "10",
        "cluster-require-full-coverage": "yes", "cluster-slave-no-failover": "no", "cluster-slave-validity-factor": "10",
        "enable-module-command": "no", "enable-protected-configs": "no", "io-threads": "1",
        "latency-tracking-info-percentiles": "50 99 99.9", "list-compress-depth": "0", "list-max-listpack-size": "-2",
        "list-max-ziplist-size": "-2", "maxmemory-clients": "0", "maxmemory-eviction-tenacity": "10",
        "min-replicas-max-lag": "10", "min-replicas-to-write": "0", "min-slaves-max-lag": "10", "min-slaves-to-write": "0",
        "oom-score-adj": "no", "oom-score-adj-values": "0 200 800", "proc-title-template": "{title} {listen-addr} {server-mode}",
        "propagation-error-behavior": "ignore", "rdb-del-sync-files": "no", "repl-backlog-size": "1048576",
        "repl-backlog-ttl": "3600", "repl-diskless-load": "disabled", "repl-diskless-sync-delay": "5",
        "repl-diskless-sync-max-replicas": "0", "repl-ping-replica-period": "10", "repl-ping-slave-period": "10",
        "repl-timeout": "60", "replica-announce-port": "0", "replica-announced": "yes",
        "replica-ignore-disk-write-errors": "no", "replica-priority": "100", "shutdown-timeout": "10",
        "slave-announce-port": "0", "slave-priority": "100", "socket-mark-id": "0", "stream-node-max-bytes": "4096",
        "stream-node-max-entries": "100", "supervised": "no", "syslog-facility": "local0", "syslog-ident": "redis",
        "tls-auth-clients": "yes", "tls-cluster": "no", "tls-port": "0", "tls-prefer-server-ciphers": "no",
        "tls-replication": "no", "tls-session-cache-size": "20480", "tls-session-cache-timeout": "300",
        "tls-session-caching": "yes", "tracking-table-max-keys": "1000000",
    ]

    /// Every directive redis-server 7.0 accepts (CONFIG GET * plus the file-only ones).
    static let known: Set<String> = [
        "acl-pubsub-default", "aclfile", "acllog-max-len", "active-defrag-cycle-max", "active-defrag-cycle-min",
        "active-defrag-ignore-bytes", "active-defrag-max-scan-fields", "active-defrag-threshold-lower",
        "active-defrag-threshold-upper", "active-expire-effort", "activedefrag", "activerehashing", "always-show-logo",
        "aof-disable-auto-gc", "aof-load-truncated", "aof-rewrite-incremental-fsync", "aof-timestamp-enabled",
        "aof-use-rdb-preamble", "aof_rewrite_cpulist", "appenddirname", "appendfilename", "appendfsync", "appendonly",
        "auto-aof-rewrite-min-size", "auto-aof-rewrite-percentage", "bgsave_cpulist", "bind", "bind-source-addr",
        "bio_cpulist", "busy-reply-threshold", "client-output-buffer-limit", "client-query-buffer-limit",
        "cluster-allow-pubsubshard-when-down", "cluster-allow-reads-when-down", "cluster-allow-replica-migration",
        "cluster-announce-bus-port", "cluster-announce-hostname", "cluster-announce-ip", "cluster-announce-port",
        "cluster-announce-tls-port", "cluster-config-file", "cluster-enabled", "cluster-link-sendbuf-limit",
        "cluster-migration-barrier", "cluster-node-timeout", "cluster-port", "cluster-preferred-endpoint-type",
        "cluster-replica-no-failover", "cluster-replica-validity-factor", "cluster-require-full-coverage",
        "cluster-slave-no-failover", "cluster-slave-validity-factor", "crash-log-enabled", "crash-memcheck-enabled",
        "daemonize", "databases", "dbfilename", "dir", "disable-thp", "dynamic-hz", "enable-debug-command",
        "enable-module-command", "enable-protected-configs", "hash-max-listpack-entries", "hash-max-listpack-value",
        "hash-max-ziplist-entries", "hash-max-ziplist-value", "hll-sparse-max-bytes", "hz", "ignore-warnings",
        "io-threads", "io-threads-do-reads", "jemalloc-bg-thread", "latency-monitor-threshold", "latency-tracking",
        "latency-tracking-info-percentiles", "lazyfree-lazy-eviction", "lazyfree-lazy-expire",
        "lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush", "lfu-decay-time",
        "lfu-log-factor", "list-compress-depth", "list-max-listpack-size", "list-max-ziplist-size", "logfile",
        "loglevel", "lua-time-limit", "masterauth", "masteruser", "maxclients", "maxmemory", "maxmemory-clients",
        "maxmemory-eviction-tenacity", "maxmemory-policy", "maxmemory-samples", "min-replicas-max-lag",
        "min-replicas-to-write", "min-slaves-max-lag", "min-slaves-to-write", "no-appendfsync-on-rewrite",
        "notify-keyspace-events", "oom-score-adj", "oom-score-adj-values", "pidfile", "port", "proc-title-template",
        "propagation-error-behavior", "protected-mode", "proto-max-bulk-len", "rdb-del-sync-files",
        "rdb-save-incremental-fsync", "rdbchecksum", "rdbcompression", "repl-backlog-size", "repl-backlog-ttl",
        "repl-disable-tcp-nodelay", "repl-diskless-load", "repl-diskless-sync", "repl-diskless-sync-delay",
        "repl-diskless-sync-max-replicas", "repl-ping-replica-period", "repl-ping-slave-period", "repl-timeout",
        "replica-announce-ip", "replica-announce-port", "replica-announced", "replica-ignore-disk-write-errors",
        "replica-ignore-maxmemory", "replica-lazy-flush", "replica-priority", "replica-read-only",
        "replica-serve-stale-data", "replicaof", "requirepass", "sanitize-dump-payload", "save", "server_cpulist",
        "set-max-intset-entries", "set-proc-title", "shutdown-on-sigint", "shutdown-on-sigterm", "shutdown-timeout",
        "slave-announce-ip", "slave-announce-port", "slave-ignore-maxmemory", "slave-lazy-flush", "slave-priority",
        "slave-read-only", "slave-serve-stale-data", "slaveof", "slowlog-log-slower-than", "slowlog-max-len",
        "socket-mark-id", "stop-writes-on-bgsave-error", "stream-node-max-bytes", "stream-node-max-entries",
        "supervised", "syslog-enabled", "syslog-facility", "syslog-ident", "tcp-backlog", "tcp-keepalive", "timeout",
        "tls-auth-clients", "tls-ca-cert-dir", "tls-ca-cert-file", "tls-cert-file", "tls-ciphers", "tls-ciphersuites",
        "tls-client-cert-file", "tls-client-key-file", "tls-client-key-file-pass", "tls-cluster", "tls-dh-params-file",
        "tls-key-file", "tls-key-file-pass", "tls-port", "tls-prefer-server-ciphers", "tls-protocols",
        "tls-replication", "tls-session-cache-size", "tls-session-cache-timeout", "tls-session-caching",
        "tracking-table-max-keys", "unixsocket", "unixsocketperm", "zset-max-listpack-entries",
        "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
        // File-only directives.
        "include", "rename-command", "user", "loadmodule", "sentinel",
    ]

    /// Accepted for compatibility and ignored by Redis 7.0 itself.
    static let deprecated: Set<String> = ["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"]

    /// Directives Strata acts on (the rest are recorded and named as ignored in the log).
    static let honoured: Set<String> = [
        "port", "bind", "dir", "dbfilename", "save", "appendonly", "appendfilename", "appenddirname",
        "daemonize", "pidfile", "logfile", "loglevel", "databases", "protected-mode", "requirepass",
        "maxclients", "timeout", "hz", "enable-debug-command", "rename-command", "proto-max-bulk-len",
        "client-query-buffer-limit", "hash-max-listpack-entries", "hash-max-listpack-value",
        "hash-max-ziplist-entries", "hash-max-ziplist-value", "zset-max-listpack-entries",
        "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
        "set-max-intset-entries", "hll-sparse-max-bytes", "tcp-backlog", "rdbcompression", "rdbchecksum",
        "unixsocket", "unixsocketperm", "appendfsync", "aof-timestamp-enabled", "aof-load-truncated",
        "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size", "aof-disable-auto-gc",
        "slowlog-log-slower-than", "slowlog-max-len", "client-output-buffer-limit", "no-appendfsync-on-rewrite",
        "maxmemory", "maxmemory-policy", "maxmemory-samples", "lfu-log-factor", "lfu-decay-time", "busy-reply-threshold",
        "lua-time-limit", "latency-monitor-threshold", "user", "sanitize-dump-payload",
        "replicaof", "slaveof", "replica-read-only", "slave-read-only", "masterauth", "masteruser", "repl-timeout",
        "replica-serve-stale-data", "slave-serve-stale-data", "min-replicas-to-write", "min-slaves-to-write",
        "min-replicas-max-lag", "min-slaves-max-lag", "notify-keyspace-events",
    ]

    static let booleans: Set<String> = [
        "appendonly", "daemonize", "protected-mode", "rdbcompression", "rdbchecksum", "aof-use-rdb-preamble",
        "aof-timestamp-enabled", "aof-load-truncated", "stop-writes-on-bgsave-error", "activerehashing",
        "no-appendfsync-on-rewrite", "aof-rewrite-incremental-fsync", "rdb-save-incremental-fsync", "dynamic-hz",
        "lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-server-del", "lazyfree-lazy-user-del",
        "lazyfree-lazy-user-flush", "replica-read-only", "slave-read-only", "replica-serve-stale-data",
        "slave-serve-stale-data", "cluster-enabled", "activedefrag", "always-show-logo", "crash-log-enabled",
        "crash-memcheck-enabled", "jemalloc-bg-thread", "set-proc-title", "syslog-enabled", "io-threads-do-reads",
        "latency-tracking", "disable-thp", "aof-disable-auto-gc", "replica-lazy-flush", "slave-lazy-flush",
        "repl-diskless-sync", "repl-disable-tcp-nodelay", "replica-ignore-maxmemory", "slave-ignore-maxmemory",
    ]

    static let integers: Set<String> = [
        "port", "databases", "maxclients", "timeout", "tcp-keepalive", "hz", "tcp-backlog",
        "hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries", "hash-max-ziplist-value",
        "zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
        "set-max-intset-entries", "hll-sparse-max-bytes", "slowlog-log-slower-than", "slowlog-max-len",
        "lua-time-limit", "busy-reply-threshold", "auto-aof-rewrite-percentage",
    ]

    /// Parses a redis.conf text followed by command-line arguments (`--port 6380 --save ""`).
    public static func parse(file: String?, arguments: [String]) throws -> ServerConfig {
        var text = file ?? ""
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        // As redis-server: each "--name" starts a line; the values after it follow, quoted.
        var line = ""
        for a in arguments {
            if a.hasPrefix("--") && a.count > 2 {
                if !line.isEmpty { text += line + "\n" }
                line = String(a.dropFirst(2))
            } else {
                line += " " + quote(a)
            }
        }
        if !line.isEmpty { text += line + "\n" }
        var c = ServerConfig()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var l = Substring(raw)
            while let f = l.first, f == " " || f == "\t" || f == "\r" { l.removeFirst() }
            while let f = l.last, f == " " || f == "\t" || f == "\r" { l.removeLast() }
            if l.isEmpty || l.first == "#" { continue }
            guard let words = RESPCommandReader.splitArgs(Array(l.utf8)) else {
                throw ConfigError(line: n + 1, text: String(l), reason: "Unbalanced quotes in configuration line")
            }
            if words.isEmpty { continue }
            let name = String(decoding: words[0], as: UTF8.self).lowercased()
            let args = words.dropFirst().map { String(decoding: $0, as: UTF8.self) }
            try c.apply(name, args, line: n + 1, text: String(l))
        }
        return c
    }

    static func quote(_ s: String) -> String {
        if !s.isEmpty && !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == "\t" || $0 == "\n" }) { return s }
        var o = "\""
        for ch in s {
            switch ch {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\t": o += "\\t"
            default: o.append(ch)
            }
        }
        return o + "\""
    }

    /// Redis's MULTI_ARG configs: a single argument is split on spaces (`--save "3600 1"`).
    static let multiArg: Set<String> = ["save", "bind", "client-output-buffer-limit", "oom-score-adj-values", "latency-tracking-info-percentiles"]

    mutating func apply(_ name: String, _ rawArgs: [String], line: Int, text: String) throws {
        func fail(_ r: String) -> ConfigError { ConfigError(line: line, text: text, reason: r) }
        var args = rawArgs
        if ServerConfig.multiArg.contains(name) && args.count == 1 && !args[0].isEmpty {
            args = args[0].split(separator: " ").map(String.init)
        }
        let bad = fail("Bad directive or wrong number of arguments")
        if ServerConfig.deprecated.contains(name) { return }
        guard ServerConfig.known.contains(name) else { throw bad }
        switch name {
        case "save":
            if args.count == 1 && args[0].isEmpty { savePoints = []; return }
            guard !args.isEmpty, args.count % 2 == 0 else { throw fail("Invalid save parameters") }
            var points = [(Int, Int)]()
            for i in stride(from: 0, to: args.count, by: 2) {
                guard let s = Int(args[i]), let ch = Int(args[i + 1]), s >= 0, ch >= 0 else { throw fail("Invalid save parameters") }
                points.append((s, ch))
            }
            // Each save line replaces the defaults, then adds (as redis-server 7.0 does).
            if values["save"] == nil { savePoints = [] }
            savePoints += points
            values["save"] = args
            return
        case "bind":
            guard !args.isEmpty else { throw bad }
            binds = args
            values[name] = args
            return
        case "rename-command":
            guard args.count == 2 else { throw bad }
            renames.append((args[0].lowercased(), args[1]))
            return
        case "client-output-buffer-limit":
            // One or more `<class> <hard> <soft> <seconds>` groups (CONFIG GET shows all three).
            guard !args.isEmpty, args.count % 4 == 0 else { throw bad }
            var limits = outputBufferLimits
            for g in stride(from: 0, to: args.count, by: 4) {
                let cls = args[g].lowercased()
                guard ["normal", "replica", "slave", "pubsub"].contains(cls) else { throw fail("Invalid client class specified in buffer limit configuration.") }
                guard ServerConfig.memory(args[g + 1]) != nil, ServerConfig.memory(args[g + 2]) != nil, Int(args[g + 3]).map({ $0 >= 0 }) == true else {
                    throw fail("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
                }
                limits[cls == "slave" ? "replica" : cls] = Array(args[(g + 1)..<(g + 4)])
            }
            outputBufferLimits = limits
            return
        case "user":
            guard args.count >= 1 else { throw bad }
            users.append(args)
            return
        case "replicaof", "slaveof":
            // replicaof <masterip> <masterport>: this server starts as that master's replica.
            guard args.count == 2 else { throw bad }
            guard let p = Int(args[1]), p >= 0, p <= 65535 else { throw fail("Invalid master port") }
            values["replicaof"] = args
            return
        case "loadmodule", "include", "sentinel", "oom-score-adj-values",
             "latency-tracking-info-percentiles":
            guard !args.isEmpty else { throw bad }
            if name == "include" { throw fail("include is not supported by strata serve (inline the file)") }
            values[name] = args
            if !ignored.contains(name) { ignored.append(name) }
            return
        default: break
        }
        guard args.count == 1 else { throw bad }
        let v = args[0]
        if ServerConfig.booleans.contains(name) && !["yes", "no"].contains(v.lowercased()) {
            throw fail("argument must be 'yes' or 'no'")
        }
        if ServerConfig.integers.contains(name) && Int(v) == nil {
            throw fail("argument couldn't be parsed into an integer")
        }
        if name == "port", let p = Int(v), p < 0 || p > 65535 { throw fail("argument must be between 0 and 65535 inclusive") }
        if name == "databases", let d = Int(v), d < 1 { throw fail("argument must be between 1 and 2147483647 inclusive") }
        if name == "appendfsync" && !["always", "everysec", "no"].contains(v.lowercased()) { throw fail("argument(s) must be one of the following: always, everysec, no") }
        if name == "sanitize-dump-payload" && !["no", "yes", "clients"].contains(v.lowercased()) { throw fail("argument(s) must be one of the following: no, yes, clients") }
        if name == "loglevel" && !["debug", "verbose", "notice", "warning"].contains(v.lowercased()) { throw fail("argument(s) must be one of the following: debug, verbose, notice, warning") }
        if name == "maxmemory-policy" && !["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"].contains(v.lowercased()) {
            throw fail("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
        }
        if (name == "appendfilename" || name == "appenddirname") && (v.contains("/") || v.isEmpty) {
            throw fail("\(name) can't be a path, just a filename")
        }
        if name == "dbfilename" && v.contains("/") { throw fail("dbfilename can't be a path, just a filename") }
        if name == "notify-keyspace-events" {
            guard let flags = NotifyFlags(config: v) else { throw fail("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.") }
            values[name] = [flags.configString]
            return
        }
        values[canonical(name)] = [v]
        if !ServerConfig.honoured.contains(name) && !ignored.contains(name) { ignored.append(name) }
    }

    /// The 7.0 name of an alias (`hash-max-ziplist-entries` is `hash-max-listpack-entries`).
    func canonical(_ name: String) -> String {
        switch name {
        case "hash-max-ziplist-entries": return "hash-max-listpack-entries"
        case "hash-max-ziplist-value": return "hash-max-listpack-value"
        case "zset-max-ziplist-entries": return "zset-max-listpack-entries"
        case "zset-max-ziplist-value": return "zset-max-listpack-value"
        case "list-max-ziplist-size": return "list-max-listpack-size"
        case "slave-read-only": return "replica-read-only"
        case "slave-serve-stale-data": return "replica-serve-stale-data"
        case "min-slaves-to-write": return "min-replicas-to-write"
        case "min-slaves-max-lag": return "min-replicas-max-lag"
        case "lua-time-limit": return "busy-reply-threshold"
        default: return name
        }
    }

    public func string(_ name: String) -> String { values[name]?.first ?? ServerConfig.defaults[name] ?? "" }
    public func int(_ name: String) -> Int { Int(string(name)) ?? Int(ServerConfig.defaults[name] ?? "0") ?? 0 }
    public func bool(_ name: String) -> Bool { string(name).lowercased() == "yes" }

    /// `maxmemory 2gb`, `proto-max-bulk-len 512mb`: Redis's memory units.
    public func bytes(_ name: String) -> Int { ServerConfig.memory(string(name)) ?? 0 }

    public static func memory(_ s: String) -> Int? {
        let l = s.lowercased()
        let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
        for (u, m) in units where l.hasSuffix(u) {
            guard let n = Int(l.dropLast(u.count)) else { return nil }
            return n * m
        }
        return Int(l)
    }

    mutating func resetSavePoints() { values["save"] = nil }

    /// Sets a directive at run time (CONFIG SET) after validating it as the file would.
    public mutating func set(_ name: String, _ value: String) throws {
        let split = name == "save" || name == "bind" || name == "client-output-buffer-limit"
        try apply(name, name == "save" && value.isEmpty ? [""] : (split ? value.split(separator: " ").map(String.init) : [value]), line: 0, text: "\(name) \(value)")
    }
}
