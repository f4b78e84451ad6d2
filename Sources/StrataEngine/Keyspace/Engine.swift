#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// One numbered database: keys and their expiry times.
public final class Database {
    /// Its number (SWAPDB swaps two Database objects and their numbers).
    public internal(set) var id: Int
    /// Constant references: the hot paths read them without retaining the tables.
    public let dict: HashTable<Value>
    public let expires: HashTable<Int64>

    init(id: Int, hasher: SeededHash) {
        self.id = id
        dict = HashTable(hasher: hasher)
        expires = HashTable(hasher: hasher)
    }

    public var count: Int { dict.count }
}

/// The keyspace and the meaning of every command. No I/O: the server, AOF replay and RDB
/// load/save all drive it, so a command means the same thing everywhere.
public final class Engine {
    public internal(set) var databases: [Database]
    /// Unix time in milliseconds; injectable so tests are deterministic.
    public var clock: () -> Int64
    public var limits = EncodingLimits()
    /// The RDB flavour DUMP writes and the newest RESTORE accepts (the engine speaks Redis 7.0).
    public static let dumpTarget = RDBTarget.named("redis-7.0")!

    /// `proto-max-bulk-len`: the largest string a command may build.
    public var maxBulkLength = 512 * 1024 * 1024
    /// Called for every write with the command to propagate (AOF, replicas) and its db.
    public var propagate: (([Bytes], Int) -> Void)?
    /// Writes so far (every propagated command counts one), for save points and INFO.
    public var dirty = 0
    /// True while replaying an AOF or loading: as in Redis (`server.loading`), nothing expires
    /// (no lazy or active expiry, and an expiry in the past is set, not applied as a delete).
    public var loading = false {
        didSet { loadStartMs = loading ? clock() : nil }
    }
    /// When the current load or replay started (access bookkeeping reads it instead of the clock).
    var loadStartMs: Int64?
    var rng = SystemRandomNumberGenerator()
    let hasher = SeededHash()

    /// `maxmemory-policy` and its tuning: decide what OBJECT FREQ/IDLETIME track and what
    /// `evictOne()` takes.
    public var maxmemoryPolicy = MaxmemoryPolicy.noeviction
    public var maxmemorySamples = 5
    public var lfuLogFactor = 10
    public var lfuDecayTime = 1
    /// The server's cached unix time in ms (its cron refreshes it, as Redis's `server.unixtime`
    /// and `lruclock`), so a key access costs no clock read; nil: read the clock.
    public var cachedUnixMs: Int64?
    /// False while a command that must not count as an access runs (TYPE, TTL, OBJECT, ...).
    var touching = true
    /// Keyspace events (`notify-keyspace-events`): the classes on, and where they go (the
    /// server publishes them). nil: none are worked out.
    public var notifyFlags = NotifyFlags()
    public var notify: ((KeyspaceEvent) -> Void)?
    /// Keys deleted by lazy expiry (a command's own changes are `dirty` less these).
    var lazyExpired = 0
    /// maxmemory is set with an LRU/LFU policy: small integers are not shared objects then
    /// (OBJECT REFCOUNT), as in Redis.
    public var sharedIntegersDisabled = false
    var evictionPool: [EvictionCandidate] = []
    var nextEvictionDB = 0

    public init(databases: Int = 16, clock: @escaping () -> Int64 = Engine.systemClock) {
        self.clock = clock
        self.databases = []
        let h = hasher
        self.databases = (0..<databases).map { Database(id: $0, hasher: h) }
    }

    public static func systemClock() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    // MARK: keys and expiry

    /// The key's value, deleting it first if its TTL has passed (lazy expiry).
    public func lookup(_ db: Database, _ key: Bytes) -> Value? {
        if db.expires.count > 0 { expireIfNeeded(db, key) }
        if !touching { return db.dict[key] }
        return db.dict.lookup(key) { touch(&$0) }
    }

    @discardableResult
    func expireIfNeeded(_ db: Database, _ key: Bytes) -> Bool {
        guard !loading, db.expires.count > 0, let when = db.expires[key], clock() > when else { return false }
        delete(db, key)
        dirty += 1
        lazyExpired += 1
        propagate?([Array("DEL".utf8), key], db.id)
        if notify != nil { notifyEvent(.expired, "expired", key, db.id) }
        return true
    }

    @discardableResult
    public func delete(_ db: Database, _ key: Bytes) -> Bool {
        guard db.dict.remove(key) != nil else { return false }
        if db.expires.count > 0 { db.expires.remove(key) }
        return true
    }

    /// Sets a value, keeping or dropping the TTL.
    public func store(_ db: Database, _ key: __owned Bytes, _ value: __owned Value, keepTTL: Bool = false, meta: UInt32? = nil) {
        // A new object is fresh; an overwritten key keeps its LFU counter (dbSetValue), unless
        // the caller gives the metadata (RESTORE IDLETIME/FREQ).
        if !keepTTL && db.expires.count > 0 { db.expires.remove(key) }
        db.dict.set(key, value, meta: meta ?? freshMeta(), replaceMeta: meta != nil || !maxmemoryPolicy.isLFU)
    }

    public func setExpire(_ db: Database, _ key: Bytes, _ when: Int64) {
        db.expires.set(key, when)
    }

    public func expireTime(_ db: Database, _ key: Bytes) -> Int64? { db.expires[key] }

    /// Redis's active expiry cycle: samples keys with a TTL and deletes the expired ones,
    /// repeating while more than 10% of a sample was expired and the time budget allows.
    /// Returns how many keys it deleted.
    @discardableResult
    public func activeExpireCycle(budgetMicroseconds: Int = 25_000) -> Int {
        if loading { return 0 }
        let start = clock()
        var deleted = 0
        for db in databases where db.expires.count > 0 {
            var rounds = 0
            while true {
                let now = clock()
                var expiredInSample = 0
                var sampled = 0
                var cursor: UInt64 = 0
                var victims = [Bytes]()
                repeat {
                    cursor = db.expires.scan(cursor: cursor) { k, when in
                        sampled += 1
                        if now > when { victims.append(k) }
                    }
                } while cursor != 0 && sampled < 20
                for k in victims {
                    if delete(db, k) {
                        deleted += 1
                        expiredInSample += 1
                        dirty += 1
                        propagate?([Array("DEL".utf8), k], db.id)
                        if notify != nil { notifyEvent(.expired, "expired", k, db.id) }
                    }
                }
                rounds += 1
                if sampled == 0 || expiredInSample * 10 <= sampled || rounds > 1000 { break }
                if (clock() - start) * 1000 > Int64(budgetMicroseconds) { return deleted }
            }
        }
        return deleted
    }

    /// Background work the server cron does: a rehash step per db and table shrinking.
    public func cron() {
        for db in databases {
            db.dict.shrinkIfNeeded(); db.expires.shrinkIfNeeded()
            db.dict.rehash(steps: 100); db.expires.rehash(steps: 100)
        }
    }

    // MARK: execution

    /// Commands by the exact bytes clients spell them with ("SET", "set"): no String and no
    /// case folding on the hot path. Bounded, filled on first use of a spelling.
    private var commandCache: [ByteKey: Command] = [:]
    /// The last spelling run and its command: a pipeline mostly repeats one command, and a
    /// byte comparison is cheaper than hashing.
    private var lastSpelling: Bytes = []
    private var lastCommand: Command?

    private func resolveCommand(_ name: Bytes) -> Command? {
        guard name.count <= 64 else { return nil }
        let lower = String(decoding: name, as: UTF8.self).lowercased()
        guard let c = CommandTable.shared.lookup(lower) else { return nil }
        if commandCache.count < 4096 { commandCache[ByteKey(name)] = c }
        return c
    }

    /// True when the engine implements the command spelled `name` (any case).
    public func implements(_ name: Bytes) -> Bool { commandCache[ByteKey(name)] != nil || resolveCommand(name) != nil }

    /// The command a spelling names ("INCR", "incr"), from the same cache execute uses.
    public func command(_ name: Bytes) -> Command? { commandCache[ByteKey(name)] ?? resolveCommand(name) }

    /// Runs one command (`args[0]` is its name) for a client whose selected db is `client.db`.
    public func execute(_ args: [Bytes], client: inout ClientState) -> Reply {
        guard let first = args.first else { return .error("ERR empty command") }
        let cmd: Command
        if let last = lastCommand, first == lastSpelling {
            cmd = last
        } else {
            guard let found = commandCache[ByteKey(first)] ?? resolveCommand(first) else {
                return .error(Engine.unknownCommandMessage(args))
            }
            cmd = found
            lastSpelling = first
            lastCommand = found
        }
        if (cmd.arity > 0 && args.count != cmd.arity) || (cmd.arity < 0 && args.count < -cmd.arity) {
            return .error("ERR wrong number of arguments for '\(cmd.name)' command")
        }
        if notify != nil && (cmd.flags.contains(.write) || cmd.name == "xgroup") && notifyFlags.publishes(NotifyFlags.all.union(.new)) {
            let before = notifySnapshot(cmd.name, cmd, args, db: client.db)
            let db = client.db
            let r = run(cmd, args, client: &client)
            if case .error = r { return r }
            notifyAfter(cmd.name, cmd, args, db: db, reply: r, before: before)
            return r
        }
        return run(cmd, args, client: &client)
    }

    @inline(__always)
    private func run(_ cmd: Command, _ args: [Bytes], client: inout ClientState) -> Reply {
        var ctx = CommandContext(engine: self, args: args, db: databases[client.db], client: client)
        touching = cmd.touchesKeys
        defer { touching = true }
        do {
            let r = try cmd.handler(&ctx)
            client = ctx.client
            return r
        } catch let e as CommandError {
            client = ctx.client
            return .error(e.message)
        } catch {
            return .error("ERR \(error)")
        }
    }

    /// Redis's text for an unknown command: the name cut at 128 bytes, then the arguments
    /// quoted while the list is under 128 bytes (the last one cut to fit).
    public static func unknownCommandMessage(_ args: [Bytes]) -> String {
        var list = [UInt8]()
        for a in args.dropFirst() where list.count < 128 {
            list.append(39); list += a.prefix(128 - list.count); list += [39, 32]
        }
        return "ERR unknown command '\(String(decoding: args[0].prefix(128), as: UTF8.self))', with args beginning with: \(String(decoding: list, as: UTF8.self))"
    }

    /// Convenience for tests and tools: run on a throwaway client state in db `db`.
    public func execute(_ words: String..., db: Int = 0) -> Reply {
        var c = ClientState(db: db)
        return execute(words.map { Array($0.utf8) }, client: &c)
    }
}

/// What the engine keeps per client between commands.
public struct ClientState: Sendable {
    public var db: Int
    public init(db: Int = 0) { self.db = db }
}

/// What a command handler sees, for the length of one call (its engine and database outlive
/// it, so they are held without reference counting: two retains and releases fewer per command).
public struct CommandContext {
    public unowned(unsafe) let engine: Engine
    public let args: [Bytes]
    public unowned(unsafe) var db: Database
    public var client: ClientState

    public var now: Int64 { engine.clock() }

    func arg(_ i: Int) -> Bytes { args[i] }
    func argString(_ i: Int) -> String { String(decoding: args[i], as: UTF8.self).lowercased() }
    /// True when argument i is `word` in any case (`word`: lowercase ASCII letters), compared
    /// as bytes: option parsing without a String per argument.
    @inline(__always)
    func argIs(_ i: Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        return args[i].withUnsafeBufferPointer { a in
            guard a.count == n else { return false }
            let w = word.utf8Start
            for k in 0..<n where a[k] | 0x20 != w[k] { return false }
            return true
        }
    }
    /// Argument i as text, case kept (for error messages that quote it).
    func argText(_ i: Int) -> String { String(decoding: args[i], as: UTF8.self) }

    func lookup(_ key: Bytes) -> Value? { engine.lookup(db, key) }

    func int(_ i: Int) throws -> Int64 {
        guard let v = Decimal.parseCanonicalLoose(args[i]) else { throw CommandError.notInteger }
        return v
    }

    /// Sets `key` to expire at `when` (absolute ms), or deletes it now when that time has
    /// passed, propagating PEXPIREAT or DEL as Redis does (EXPIRE family, GETEX).
    func applyExpire(_ key: Bytes, at when: Int64) {
        if when <= now && !engine.loading {
            engine.delete(db, key)
            propagate([Array("DEL".utf8), key])
        } else {
            engine.setExpire(db, key, when)
            propagate([Array("PEXPIREAT".utf8), key, Decimal.bytes(when)])
        }
    }

    /// HDEL / SREM / ZREM: removes every argument from the third on with `remove`, deletes the
    /// key once its collection is empty, propagates when anything went, replies the count.
    func removeMembers(remaining: () -> Int, _ remove: (Bytes) -> Bool) -> Reply {
        var n: Int64 = 0
        for m in args.dropFirst(2) where remove(m) { n += 1 }
        if remaining() == 0 { engine.delete(db, args[1]) }
        if n > 0 { propagateAsIs() }
        return .integer(n)
    }

    /// Emits the command to propagate for this write (AOF, replicas).
    /// (The arguments are built only when something listens: SET on the hot path pays for a
    /// counter increment, not for an array.)
    func propagate(_ args: @autoclosure () -> [Bytes]) {
        engine.dirty += 1
        if let p = engine.propagate { p(args(), db.id) }
    }
    func propagateAsIs() {
        engine.dirty += 1
        engine.propagate?(args, db.id)
    }
}

extension Decimal {
    /// `string2ll` as commands use it: like `parseCanonical` (Redis rejects "+1", " 1", "01").
    static func parseCanonicalLoose(_ b: Bytes) -> Int64? { parseCanonical(b) }
}

/// Bytes as a dictionary key, hashed in one call over the buffer (Array<UInt8>'s own Hashable
/// conformance feeds the hasher one byte at a time).
///
/// Dictionaries of members and fields are hot in every collection command: the hash is the
/// engine's seeded 64-bit hash (random per process, as Swift's own), fed to Dictionary
/// through `_rawHashValue(seed:)` so that SipHash does not run over every member.
public struct ByteKey: Hashable {
    public let bytes: [UInt8]
    static let hasher = SeededHash()
    @inline(__always) public init(_ b: [UInt8]) { bytes = b }
    @inline(__always) var fastHash: UInt64 { bytes.withUnsafeBytes { ByteKey.hasher.hash($0) } }
    @inline(__always) public func hash(into h: inout Hasher) { h.combine(fastHash) }
    @inline(__always) public func _rawHashValue(seed: Int) -> Int {
        // Mixed with the table's own seed, as Dictionary expects (each table orders differently).
        let x = (fastHash ^ UInt64(bitPattern: Int64(seed))).multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15)
        return Int(truncatingIfNeeded: x.high ^ x.low)
    }
    @inline(__always) public static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
}
