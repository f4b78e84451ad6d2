import StrataFormats

/// `notify-keyspace-events` classes, with Redis's bits and letters (notify.c).
public struct NotifyFlags: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let keyspace = NotifyFlags(rawValue: 1 << 0)   // K
    public static let keyevent = NotifyFlags(rawValue: 1 << 1)   // E
    public static let generic = NotifyFlags(rawValue: 1 << 2)    // g
    public static let string = NotifyFlags(rawValue: 1 << 3)     // $
    public static let list = NotifyFlags(rawValue: 1 << 4)       // l
    public static let set = NotifyFlags(rawValue: 1 << 5)        // s
    public static let hash = NotifyFlags(rawValue: 1 << 6)       // h
    public static let zset = NotifyFlags(rawValue: 1 << 7)       // z
    public static let expired = NotifyFlags(rawValue: 1 << 8)    // x
    public static let evicted = NotifyFlags(rawValue: 1 << 9)    // e
    public static let stream = NotifyFlags(rawValue: 1 << 10)    // t
    public static let keyMiss = NotifyFlags(rawValue: 1 << 11)   // m (not part of A)
    public static let module = NotifyFlags(rawValue: 1 << 13)    // d
    public static let new = NotifyFlags(rawValue: 1 << 14)       // n (not part of A)
    public static let all: NotifyFlags = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    /// The flags a `notify-keyspace-events` value names; nil when a letter is not a class.
    public init?(config: String) {
        var f = NotifyFlags()
        for c in config {
            switch c {
            case "A": f.formUnion(.all)
            case "g": f.insert(.generic)
            case "$": f.insert(.string)
            case "l": f.insert(.list)
            case "s": f.insert(.set)
            case "h": f.insert(.hash)
            case "z": f.insert(.zset)
            case "x": f.insert(.expired)
            case "e": f.insert(.evicted)
            case "K": f.insert(.keyspace)
            case "E": f.insert(.keyevent)
            case "t": f.insert(.stream)
            case "m": f.insert(.keyMiss)
            case "d": f.insert(.module)
            case "n": f.insert(.new)
            default: return nil
            }
        }
        self = f
    }

    /// The value as CONFIG GET shows it (Redis's keyspaceEventsFlagsToString).
    public var configString: String {
        var s = ""
        if isSuperset(of: .all) {
            s = "A"
        } else {
            for (f, c) in [(NotifyFlags.generic, "g"), (.string, "$"), (.list, "l"), (.set, "s"), (.hash, "h"), (.zset, "z"),
                           (.expired, "x"), (.evicted, "e"), (.stream, "t"), (.module, "d"), (.new, "n")] where contains(f) { s += c }
        }
        if isSuperset(of: .all) && contains(.new) { s += "n" }
        if contains(.keyspace) { s += "K" }
        if contains(.keyevent) { s += "E" }
        if contains(.keyMiss) { s += "m" }
        return s
    }

    /// True when events of this class are published (K or E must be on as well).
    @inline(__always)
    func publishes(_ type: NotifyFlags) -> Bool {
        !isDisjoint(with: type) && !isDisjoint(with: [.keyspace, .keyevent])
    }
}

/// One keyspace event: its class, name, key and database.
public struct KeyspaceEvent: Sendable {
    public var type: NotifyFlags
    public var event: String
    public var key: Bytes
    public var db: Int
}

extension Engine {
    /// Sends one event to `notify` when its class is enabled.
    @inline(__always)
    func notifyEvent(_ type: NotifyFlags, _ event: String, _ key: Bytes, _ db: Int) {
        guard let notify, notifyFlags.publishes(type) else { return }
        notify(KeyspaceEvent(type: type, event: event, key: key, db: db))
    }

    /// A key that exists and has not expired, looked at without expiring or touching it.
    func isLive(_ db: Database, _ key: Bytes) -> Bool {
        guard db.dict[key] != nil else { return false }
        if db.expires.count > 0, let when = db.expires[key], clock() > when { return false }
        return true
    }

    /// What a write command's notifications need from before it runs.
    struct NotifySnapshot {
        var live: [(db: Int, key: Bytes, live: Bool)] = []
        var consumers = 0
        var dstHadMember = false
        var dirty = 0
        var expired = 0
    }

    /// The keys (and databases) whose creation ("new") or removal ("del") a command can cause.
    private func candidateKeys(_ name: String, _ cmd: Command, _ args: [Bytes], db: Int) -> [(Int, Bytes)] {
        var out = cmd.keys(args).map { (db, $0) }
        switch name {
        case "zunionstore", "zinterstore", "zdiffstore", "sinterstore", "sunionstore", "sdiffstore", "bitop", "pfmerge":
            break
        case "lmpop", "blmpop", "zmpop", "bzmpop", "sintercard", "zintercard":
            if let n = args.count > 2 ? Int(String(decoding: args[name.hasPrefix("b") ? 2 : 1], as: UTF8.self)) : nil {
                let first = name.hasPrefix("b") ? 3 : 2
                out = args[first..<min(args.count, first + max(0, n))].map { (db, $0) }
            }
        case "move":
            if args.count == 3, let to = Int(String(decoding: args[2], as: UTF8.self)), to >= 0, to < databases.count { out.append((to, args[1])) }
        case "copy":
            if let i = args.firstIndex(where: { String(decoding: $0, as: UTF8.self).lowercased() == "db" }), i + 1 < args.count,
               let to = Int(String(decoding: args[i + 1], as: UTF8.self)), to >= 0, to < databases.count, args.count > 2 {
                out = [(db, args[1]), (to, args[2])]
            }
        case "sort", "sort_ro", "georadius", "georadiusbymember":
            for i in 2..<max(2, args.count - 1) {
                let o = String(decoding: args[i], as: UTF8.self).lowercased()
                if o == "store" || o == "storedist" { out.append((db, args[i + 1])) }
            }
        default: break
        }
        return out
    }

    func notifySnapshot(_ name: String, _ cmd: Command, _ args: [Bytes], db: Int) -> NotifySnapshot {
        var s = NotifySnapshot()
        s.dirty = dirty
        s.expired = lazyExpired
        for (d, k) in candidateKeys(name, cmd, args, db: db) where !s.live.contains(where: { $0.db == d && $0.key == k }) {
            s.live.append((d, k, isLive(databases[d], k)))
        }
        if let g = streamGroupArgs(name, args), case .stream(let st)? = databases[db].dict[g.key] {
            s.consumers = st.groups[ByteKey(g.group)]?.consumers.count ?? 0
        }
        if name == "smove", args.count == 4, case .set(let d)? = databases[db].dict[args[2]] { s.dstHadMember = d.contains(args[3]) }
        return s
    }

    /// The stream and group whose consumers a command may create or delete.
    private func streamGroupArgs(_ name: String, _ args: [Bytes]) -> (key: Bytes, group: Bytes)? {
        switch name {
        case "xclaim", "xautoclaim":
            return args.count > 3 ? (args[1], args[2]) : nil
        case "xgroup":
            return args.count > 3 ? (args[2], args[3]) : nil
        case "xreadgroup":
            guard args.count > 2, let s = args.firstIndex(where: { String(decoding: $0, as: UTF8.self).lowercased() == "streams" }),
                  s + 1 < args.count else { return nil }
            return (args[s + 1], args[2])
        default: return nil
        }
    }

    /// Redis's keyspace events for a write command that just ran (`reply` is its answer):
    /// the command's own events, "new" before the first event of a key it created, "del"
    /// after the events of a key it emptied.
    func notifyAfter(_ name: String, _ cmd: Command, _ args: [Bytes], db: Int, reply: Reply, before s: NotifySnapshot) {
        var out: [KeyspaceEvent] = []
        func ev(_ t: NotifyFlags, _ e: String, _ k: Bytes, _ d: Int = db) { out.append(KeyspaceEvent(type: t, event: e, key: k, db: d)) }
        let changed = dirty - s.dirty - (lazyExpired - s.expired) > 0
        func lower(_ i: Int) -> String { i < args.count ? String(decoding: args[i], as: UTF8.self).lowercased() : "" }
        // The options, lowercased: only for the few commands whose event depends on one.
        var opts: [String] {
            args.dropFirst().map { String(decoding: $0, as: UTF8.self).lowercased() }
        }
        var removalCovered = Set<Bytes>()   // keys whose removal the command's own event names

        // Consumers a read or claim created (Redis notifies these even when nothing else changed).
        var consumersNow = 0
        if let g = streamGroupArgs(name, args), case .stream(let st)? = databases[db].dict[g.key] {
            consumersNow = st.groups[ByteKey(g.group)]?.consumers.count ?? 0
        }
        if name != "xgroup", consumersNow > s.consumers, let g = streamGroupArgs(name, args) {
            ev(.stream, "xgroup-createconsumer", g.key)
        }
        // XGROUP: its subcommand's event when it did something (a consumer created or deleted).
        if name == "xgroup", args.count > 2 {
            let k = args[2]
            switch (lower(1), reply) {
            case ("create", .status): ev(.stream, "xgroup-create", k)
            case ("setid", .status): ev(.stream, "xgroup-setid", k)
            case ("destroy", .integer(1)): ev(.stream, "xgroup-destroy", k)
            case ("createconsumer", .integer(1)): ev(.stream, "xgroup-createconsumer", k)
            case ("delconsumer", _) where consumersNow < s.consumers: ev(.stream, "xgroup-delconsumer", k)
            default: break
            }
        }
        guard changed || !out.isEmpty else { return }
        if changed {
            let k1 = args.count > 1 ? args[1] : []
            switch name {
            case "set":
                ev(.string, "set", k1)
                if opts.contains(where: { ["ex", "px", "exat", "pxat"].contains($0) }) { ev(.generic, "expire", k1) }
            case "setnx", "getset": ev(.string, "set", k1)
            case "setex", "psetex": ev(.string, "set", k1); ev(.generic, "expire", k1)
            case "mset", "msetnx": for i in stride(from: 1, to: args.count - 1, by: 2) { ev(.string, "set", args[i]) }
            case "setrange", "append", "setbit", "incrbyfloat": ev(.string, name, k1)
            case "incr", "decr", "incrby", "decrby": ev(.string, "incrby", k1)
            case "bitfield": ev(.string, "setbit", k1)
            case "pfadd", "pfmerge": ev(.string, "pfadd", k1)
            case "bitop": if args.count > 2 { if isLive(databases[db], args[2]) { ev(.string, "set", args[2]) } else { ev(.generic, "del", args[2]); removalCovered.insert(args[2]) } }
            case "getdel": ev(.generic, "del", k1); removalCovered.insert(k1)
            case "getex":
                if !isLive(databases[db], k1) { ev(.generic, "del", k1); removalCovered.insert(k1) }
                else if opts.contains("persist") { ev(.generic, "persist", k1) } else { ev(.generic, "expire", k1) }
            case "del", "unlink":
                for e in s.live where e.live && !isLive(databases[e.db], e.key) { ev(.generic, "del", e.key); removalCovered.insert(e.key) }
            case "expire", "pexpire", "expireat", "pexpireat":
                if isLive(databases[db], k1) { ev(.generic, "expire", k1) } else { ev(.generic, "del", k1); removalCovered.insert(k1) }
            case "persist": ev(.generic, "persist", k1)
            case "rename", "renamenx":
                if args.count > 2 { ev(.generic, "rename_from", k1); ev(.generic, "rename_to", args[2]); removalCovered.insert(k1) }
            case "move":
                if let to = s.live.last?.db, s.live.count == 2 { ev(.generic, "move_from", k1); ev(.generic, "move_to", k1, to); removalCovered.insert(k1) }
            case "copy":
                if let dst = s.live.last { ev(.generic, "copy_to", dst.key, dst.db) }
            case "restore": ev(.generic, "restore", k1)
            case "sort":
                if let dst = s.live.dropFirst().last {
                    if isLive(databases[db], dst.key) { ev(.list, "sortstore", dst.key) } else { ev(.generic, "del", dst.key); removalCovered.insert(dst.key) }
                }
            case "lpush", "lpushx": ev(.list, "lpush", k1)
            case "rpush", "rpushx": ev(.list, "rpush", k1)
            case "linsert", "lset", "lpop", "rpop", "ltrim", "lrem": ev(.list, name, k1)
            // The destination's push is announced first, as Redis's lmoveGenericCommand does.
            case "rpoplpush", "brpoplpush":
                if args.count > 2 { ev(.list, "lpush", args[2]); ev(.list, "rpop", k1) }
            case "lmove", "blmove":
                if args.count > 4 { ev(.list, lower(4) == "left" ? "lpush" : "rpush", args[2]); ev(.list, lower(3) == "left" ? "lpop" : "rpop", k1) }
            case "blpop", "brpop", "lmpop", "blmpop", "bzpopmin", "bzpopmax", "zmpop", "bzmpop":
                let popped: Bytes?
                switch reply {
                case .array(let a?) where a.count >= 2, .keyedPairs(let a) where a.count >= 2, .pairs(let a) where a.count >= 2:
                    if case .bulk(let k?) = a[0] { popped = k } else { popped = nil }
                default: popped = nil
                }
                if let k = popped {
                    switch name {
                    case "blpop": ev(.list, "lpop", k)
                    case "brpop": ev(.list, "rpop", k)
                    case "lmpop", "blmpop": ev(.list, opts.contains("left") ? "lpop" : "rpop", k)
                    case "bzpopmin": ev(.zset, "zpopmin", k)
                    case "bzpopmax": ev(.zset, "zpopmax", k)
                    default: ev(.zset, opts.contains("min") ? "zpopmin" : "zpopmax", k)
                    }
                }
            case "sadd", "srem", "spop": ev(.set, name, k1)
            case "smove":
                if args.count > 3 {
                    ev(.set, "srem", k1)
                    if !isLive(databases[db], k1) { ev(.generic, "del", k1); removalCovered.insert(k1) }
                    if !s.dstHadMember { ev(.set, "sadd", args[2]) }
                }
            case "sinterstore", "sunionstore", "sdiffstore", "zunionstore", "zinterstore", "zdiffstore", "zrangestore", "geosearchstore":
                let t: NotifyFlags = name.hasPrefix("s") ? .set : .zset
                if isLive(databases[db], k1) { ev(t, name, k1) } else { ev(.generic, "del", k1); removalCovered.insert(k1) }
            case "georadius", "georadiusbymember":
                if let dst = s.live.dropFirst().last {
                    if isLive(databases[db], dst.key) { ev(.zset, "georadiusstore", dst.key) } else { ev(.generic, "del", dst.key); removalCovered.insert(dst.key) }
                }
            case "hset", "hmset", "hsetnx": ev(.hash, "hset", k1)
            case "hdel", "hincrby", "hincrbyfloat": ev(.hash, name, k1)
            case "zadd": ev(.zset, opts.contains("incr") ? "zincr" : "zadd", k1)
            case "geoadd": ev(.zset, "zadd", k1)
            case "zincrby": ev(.zset, "zincr", k1)
            case "zrem", "zremrangebyscore", "zremrangebyrank", "zremrangebylex", "zpopmin", "zpopmax": ev(.zset, name, k1)
            case "xadd":
                ev(.stream, "xadd", k1)
                if opts.contains("maxlen") || opts.contains("minid") { ev(.stream, "xtrim", k1) }
            case "xtrim", "xdel", "xsetid": ev(.stream, name, k1)
            default: break
            }
        }
        // "new" before the first event of each key the command created; "del" after the last
        // event of each key it emptied (unless its own event already names the removal).
        for e in s.live {
            let live = isLive(databases[e.db], e.key)
            if !e.live && live {
                // (RENAME, MOVE and COPY add the key before announcing anything, as Redis's dbAdd.)
                let i = ["rename", "renamenx", "move", "copy"].contains(name) ? 0 : out.firstIndex { $0.key == e.key && $0.db == e.db } ?? out.count
                out.insert(KeyspaceEvent(type: .new, event: "new", key: e.key, db: e.db), at: i)
            } else if e.live && !live && !removalCovered.contains(e.key) && !["rename", "renamenx", "move", "del", "unlink"].contains(name) {
                let i = (out.lastIndex { $0.key == e.key && $0.db == e.db }).map { $0 + 1 } ?? out.count
                out.insert(KeyspaceEvent(type: .generic, event: "del", key: e.key, db: e.db), at: i)
            }
        }
        for e in out { notifyEvent(e.type, e.event, e.key, e.db) }
    }
}
