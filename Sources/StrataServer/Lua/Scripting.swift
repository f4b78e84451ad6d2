#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine

/// What a script needs from the server: running a command for redis.call, logging, and
/// serving other clients while a script is busy.
protocol ScriptHost: AnyObject {
    func scriptCall(_ args: [Bytes], _ run: ScriptRun) -> Reply
    func scriptLog(_ level: String, _ message: String)
    func scriptBusy(_ run: ScriptRun)
}

/// The flags of a script's `#!lua flags=...` line (Redis 7.0's script flags).
struct ScriptFlags: OptionSet {
    let rawValue: Int
    static let noWrites = ScriptFlags(rawValue: 1), allowOOM = ScriptFlags(rawValue: 2), allowStale = ScriptFlags(rawValue: 4)
    static let noCluster = ScriptFlags(rawValue: 8), allowCrossSlot = ScriptFlags(rawValue: 16)
    /// No shebang: the backwards-compatible mode (writes allowed, flags unknown).
    static let evalCompat = ScriptFlags(rawValue: 32)
    static let names: [(String, ScriptFlags)] = [("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
                                                 ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlot)]
}

/// One running script (Redis's scriptRunCtx).
final class ScriptRun {
    let name: String
    let readOnly: Bool
    let allowOOM: Bool
    let startMs: Int64
    let isFunction: Bool
    var db: Int
    /// The protocol redis.call replies are converted from (redis.setresp).
    var resp = 2
    /// redis.set_repl: 1 AOF, 2 replicas.
    var replicate: UInt8 = 3
    var timedOut = false
    var killed = false
    var wrote = false

    init(name: String, db: Int, readOnly: Bool, allowOOM: Bool, isFunction: Bool) {
        self.name = name; self.db = db; self.readOnly = readOnly; self.allowOOM = allowOOM; self.isFunction = isFunction
        startMs = EventLoop.nowMs()
    }
}

/// Redis's rand48 (rand.c), so math.random gives the sequence Redis gives: a 48-bit linear
/// congruential generator, one state for the whole process from the server's start (Redis 7.0
/// replicates effects, so scripts need not reseed; math.randomseed does).
struct RedisRand48 {
    private var x: UInt64 = 0x1234_ABCD_330E
    mutating func seed(_ v: Int32) {
        let s = UInt32(bitPattern: v)
        x = 0x330E | UInt64(s & 0xFFFF) << 16 | UInt64((s >> 16) & 0xFFFF) << 32
    }
    mutating func next() -> Int32 {
        x = (0x5DEECE66D &* x &+ 0xB) & 0xFFFF_FFFF_FFFF
        return Int32(truncatingIfNeeded: x >> 17)
    }
}

// The one scripting instance the C callbacks reach (Lua calls them with its state only).
nonisolated(unsafe) private var current: Scripting?
nonisolated(unsafe) private var raiseError: (@convention(c) (LuaState?) -> Int32)?

/// Returns `n` results, or raises the Lua error on top of the stack when `n` is negative.
/// (lua_error longjmps: the Swift work is done and released before it is called.)
@inline(__always)
private func finish(_ L: LuaState?, _ n: Int32) -> Int32 { n >= 0 ? n : raiseError!(L) }

private let cRedisCall: LuaCFunction = { L in finish(L, current!.redisCall(L, raise: true)) }
private let cRedisPcall: LuaCFunction = { L in finish(L, current!.redisCall(L, raise: false)) }
private let cPcall: LuaCFunction = { L in current!.protectedCall(L) }
private let cSha1hex: LuaCFunction = { L in finish(L, current!.sha1hex(L)) }
private let cErrorReply: LuaCFunction = { L in current!.errorReply(L) }
private let cStatusReply: LuaCFunction = { L in current!.statusReply(L) }
private let cLog: LuaCFunction = { L in finish(L, current!.log(L)) }
private let cSetResp: LuaCFunction = { L in finish(L, current!.setResp(L)) }
private let cSetRepl: LuaCFunction = { L in finish(L, current!.setRepl(L)) }
private let cRandom: LuaCFunction = { L in finish(L, current!.random(L)) }
private let cRandomSeed: LuaCFunction = { L in finish(L, current!.randomSeed(L)) }
/// Calls its upvalue (a Lua function) with the arguments: library functions run under it so
/// their errors can name the calling script's line.
private let cTrampoline: LuaCFunction = { L in
    let api = current!.api
    api.pushvalue(L, LuaAPI.globalsIndex - 1)
    api.insert(L, 1)
    api.call(L, api.gettop(L) - 1, LuaAPI.multret)
    return api.gettop(L)
}
private let cWrap: LuaCFunction = { L in
    current!.api.pushcclosure(L, cTrampoline, 1)
    return 1
}
private let cHook: LuaHook = { L, _ in
    let n = current!.hook(L)
    if n < 0 { _ = raiseError!(L) }
}

/// Lua scripting as Redis 7.0 has it: EVAL/EVALSHA's script cache, the `redis` API, the
/// conversions between Lua values and replies, the sandbox, and the busy-script hook.
final class Scripting {
    let api: LuaAPI
    private(set) var L: LuaState?
    private unowned let host: ScriptHost
    /// sha1 (lower-case hex) → body and flags.
    private(set) var scripts: [String: (body: Bytes, flags: ScriptFlags, ref: Int32)] = [:]
    /// Registry slots (integer keys, no string to hash or convert per call): the error handler,
    /// the real globals table, and compiled scripts from `firstScriptRef` on.
    static let errorHandlerRef: Int32 = 999_990, globalsRef: Int32 = 999_991, firstScriptRef: Int32 = 1_000_000
    private var nextScriptRef = Scripting.firstScriptRef
    private(set) var run: ScriptRun?
    private var rand = RedisRand48()   // survives SCRIPT FLUSH, as rand.c's state
    /// `busy-reply-threshold` / `lua-time-limit` in ms.
    var busyThresholdMs: Int64 = 5000
    private var gcCounter = 0
    /// Function libraries (FUNCTION LOAD), in load order, and which library has each function.
    fileprivate(set) var libraries: [FunctionLibrary] = []
    fileprivate var functionOwner: [String: String] = [:]
    /// While FUNCTION LOAD runs a library: its deadline (500 ms, as Redis).
    fileprivate var loadDeadline: Int64?

    init(api: LuaAPI, host: ScriptHost) {
        self.api = api
        self.host = host
        current = self
        raiseError = api.error
        L = makeState()
    }

    /// The interpreter's memory in bytes (used_memory_lua).
    var memory: Int { L.map { Int(api.gc($0, LuaAPI.gcCount, 0)) * 1024 } ?? 0 }

    /// SCRIPT FLUSH: a new interpreter, no scripts.
    func reset() {
        current = self
        if let L { api.close(L) }
        scripts = [:]
        nextScriptRef = Scripting.firstScriptRef
        L = makeState()
    }

    // MARK: the interpreter

    private func makeState() -> LuaState? {
        guard let L = api.newstate() else { return nil }
        for (name, open) in [("", api.openBase), ("table", api.openTable), ("string", api.openString), ("math", api.openMath), ("debug", api.openDebug)] {
            api.pushfunction(L, open)
            api.pushstring(L, name)
            api.call(L, 1, 0)
        }
        // The redis table.
        api.newtable(L)
        let functions: [(String, LuaCFunction)] = [("call", cRedisCall), ("pcall", cRedisPcall), ("sha1hex", cSha1hex),
                                                   ("error_reply", cErrorReply), ("status_reply", cStatusReply), ("log", cLog),
                                                   ("setresp", cSetResp), ("set_repl", cSetRepl)]
        for (name, f) in functions { api.pushfunction(L, f); api.setfield(L, -2, name) }
        let numbers: [(String, Double)] = [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3),
                                           ("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3),
                                           ("REDIS_VERSION_NUM", Double(0x07000f))]
        for (name, v) in numbers { api.pushnumber(L, v); api.setfield(L, -2, name) }
        api.pushstring(L, Server.version); api.setfield(L, -2, "REDIS_VERSION")
        api.setglobal(L, "redis")
        api.pushfunction(L, cPcall); api.setglobal(L, "pcall")
        api.pushfunction(L, cWrap); api.setglobal(L, "__strata_cwrap")
        api.getglobal(L, "math")
        api.pushfunction(L, cRandom); api.setfield(L, -2, "random")
        api.pushfunction(L, cRandomSeed); api.setfield(L, -2, "randomseed")
        api.pop(L, 1)
        // The libraries written in Lua (bit, cjson, cmsgpack, struct), then the sandbox.
        for (name, source) in [("@lua_libraries", LuaPrelude.libraries), ("@sandbox", LuaPrelude.sandbox)] {
            let ok = source.withCString { p in api.loadbuffer(L, p, strlen(p), name) } == 0 && api.pcall(L, 0, 0, 0) == 0
            if !ok {
                host.scriptLog("warning", "Lua initialisation failed (\(name)): \(api.string(L, -1) ?? "?")")
                api.pop(L, 1)
            }
            if name == "@lua_libraries" {
                // cjson.null is a light userdata (NULL), as lua-cjson's.
                api.getglobal(L, "cjson")
                api.pushlightuserdata(L, nil)
                api.setfield(L, -2, "null")
                api.pop(L, 1)
            }
        }
        api.getglobal(L, "__redis__err__handler")
        api.rawseti(L, LuaAPI.registryIndex, Scripting.errorHandlerRef)
        api.getfield(L, LuaAPI.registryIndex, "__strata_globals")
        api.rawseti(L, LuaAPI.registryIndex, Scripting.globalsRef)
        _ = api.gc(L, LuaAPI.gcCollect, 0)   // the prelude's source and temporaries
        return L
    }

    static func sha1hex(_ b: Bytes) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(40)
        for byte in SHA1.hash(b) { hex.append(digits[Int(byte >> 4)]); hex.append(digits[Int(byte & 15)]) }
        return String(decoding: hex, as: UTF8.self)
    }

    /// `#!lua flags=...`: the flags and how many bytes the shebang line takes (its newline is kept
    /// so line numbers stay right).
    static func shebang(_ body: Bytes) -> Result<(ScriptFlags, Int), CommandError> {
        guard body.starts(with: Array("#!".utf8)) else { return .success((.evalCompat, 0)) }
        let end = body.firstIndex(of: 10) ?? body.count
        let parts = String(decoding: body[2..<end], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.first == "lua" else {
            return .failure(CommandError("ERR Unexpected engine in script shebang: #!\(parts.first ?? "")"))
        }
        var flags = ScriptFlags()
        for p in parts.dropFirst() {
            guard p.hasPrefix("flags=") else { return .failure(CommandError("ERR Unknown lua shebang option: \(p)")) }
            for f in p.dropFirst(6).split(separator: ",", omittingEmptySubsequences: true) {
                guard let flag = ScriptFlags.names.first(where: { $0.0 == f })?.1 else {
                    return .failure(CommandError("ERR Unexpected flag in script shebang: \(f)"))
                }
                flags.insert(flag)
            }
        }
        return .success((flags, end))
    }

    /// Compiles a body into the registry as f_<sha> (SCRIPT LOAD, EVAL of a new script).
    func create(_ body: Bytes) -> Result<String, CommandError> {
        current = self
        let sha = Scripting.sha1hex(body)
        if scripts[sha] != nil { return .success(sha) }
        let flags: ScriptFlags, skip: Int
        switch Scripting.shebang(body) {
        case .failure(let e): return .failure(e)
        case .success(let (f, n)): flags = f; skip = n
        }
        let rc = body.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { api.loadbuffer(L, $0.baseAddress! + skip, $0.count - skip, "@user_script") }
        }
        if rc != 0 {
            let msg = api.string(L, -1) ?? "?"
            api.pop(L, 1)
            return .failure(CommandError("ERR Error compiling script (new function): \(msg)"))
        }
        let ref = nextScriptRef
        nextScriptRef += 1
        api.rawseti(L, LuaAPI.registryIndex, ref)
        scripts[sha] = (body, flags, ref)
        return .success(sha)
    }

    /// Runs the compiled script `sha` with KEYS and ARGV; the reply for the caller.
    func call(sha: String, keys: [Bytes], args: [Bytes], db: Int, readOnlyCommand: Bool, oom: Bool) -> Reply {
        guard let script = scripts[sha] else { return .error("NOSCRIPT No matching script. Please use EVAL.") }
        let flags = script.flags
        if !flags.contains(.evalCompat) {
            if !flags.contains(.noWrites) {
                if readOnlyCommand { return .error("ERR Can not execute a script with write flag using *_ro command.") }
                if oom && !flags.contains(.allowOOM) {
                    return .error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
                }
            }
        }
        let r = ScriptRun(name: sha, db: db, readOnly: readOnlyCommand || flags.contains(.noWrites),
                          allowOOM: flags.contains(.allowOOM), isFunction: false)
        return runProtected(r) {
            api.rawgeti(L, LuaAPI.registryIndex, Scripting.errorHandlerRef)
            api.rawgeti(L, LuaAPI.registryIndex, script.ref)
            setGlobalArray("KEYS", keys)
            setGlobalArray("ARGV", args)
            return api.pcall(L, 0, 1, -2)
        }
    }

    /// Runs `body` (which calls lua_pcall) as the current script, with the busy hook; the
    /// reply from the value or error it left.
    func runProtected(_ r: ScriptRun, _ body: () -> Int32) -> Reply {
        current = self
        run = r
        defer { run = nil }
        if busyThresholdMs > 0 { _ = api.sethook(L, cHook, LuaAPI.maskCount, 100_000) }
        let err = body()
        if busyThresholdMs > 0 { _ = api.sethook(L, nil, 0, 0) }
        gcCounter += 1
        if gcCounter == 50 { _ = api.gc(L, LuaAPI.gcStep, 50); gcCounter = 0 }
        let reply = err != 0 ? errorReplyFromStack(name: r.name) : toReply(-1, scriptResp: r.resp)
        api.settop(L, 0)
        return reply
    }

    private func setGlobalArray(_ name: String, _ items: [Bytes]) {
        // Set on the real globals table (the sandbox's proxy refuses new globals).
        api.rawgeti(L, LuaAPI.registryIndex, Scripting.globalsRef)
        api.createtable(L, Int32(items.count), 0)
        for (i, b) in items.enumerated() { api.pushbytes(L, b); api.rawseti(L, -2, Int32(i + 1)) }
        api.setfield(L, -2, name)
        api.pop(L, 1)
    }

    /// The reply for a failed script: {err, source, line} tables become
    /// "<err> script: <name>, on <source>:<line>." as Redis words it.
    private func errorReplyFromStack(name: String) -> Reply {
        if !api.istable(L, -1) {
            let msg = api.string(L, -1) ?? "execution failure"
            return .error("ERR Error running script \(name), \(msg.prefix(100))")
        }
        let t = api.gettop(L)
        rawField(t, "err")
        let msg = api.isstring(L, -1) != 0 ? api.string(L, -1) ?? "" : ""
        api.pop(L, 1)
        rawField(t, "source")
        let source = api.isstring(L, -1) != 0 ? api.string(L, -1) : nil
        api.pop(L, 1)
        rawField(t, "line")
        let line = api.isstring(L, -1) != 0 ? api.string(L, -1) : nil
        api.pop(L, 1)
        if let source, let line { return .error("\(msg) script: \(name), on \(source):\(line).") }
        return .error(msg)
    }

    // MARK: conversions

    /// `%.17g`, the form Redis gives a Lua number passed to redis.call.
    static func g17(_ d: Double) -> Bytes {
        var buf = [CChar](repeating: 0, count: 64)
        let n = withVaList([d]) { vsnprintf(&buf, 64, "%.17g", $0) }
        return buf[0..<Int(n)].map { UInt8(bitPattern: $0) }
    }

    /// A reply pushed as the Lua value Redis gives redis.call's caller (protocol `resp`).
    private func push(_ r: Reply, resp: Int) {
        _ = api.checkstack(L, 4)
        switch r {
        case .integer(let v): api.pushnumber(L, Double(v))
        case .bulk(let b?): api.pushbytes(L, b)
        case .bulk(nil), .array(nil): if resp == 2 { api.pushboolean(L, 0) } else { api.pushnil(L) }
        case .status(let s): api.newtable(L); api.pushstring(L, s); api.setfield(L, -2, "ok")
        case .error(let e): pushErrorTable(e)
        case .array(let a?): pushArray(a, resp: resp)
        case .double(let t):
            if resp == 2 { api.pushbytes(L, t) } else {
                api.newtable(L); api.pushnumber(L, Double(String(decoding: t, as: UTF8.self)) ?? 0); api.setfield(L, -2, "double")
            }
        case .bool(let b):
            if resp == 2 { api.pushnumber(L, b ? 1 : 0) } else { api.pushboolean(L, b ? 1 : 0) }
        case .bigNumber(let t):
            if resp == 2 { api.pushbytes(L, t) } else { api.newtable(L); api.pushbytes(L, t); api.setfield(L, -2, "big_number") }
        case .verbatim(let t):
            if resp == 2 { api.pushbytes(L, t) } else {
                api.newtable(L); api.newtable(L)
                api.pushstring(L, "txt"); api.setfield(L, -2, "format")
                api.pushbytes(L, t); api.setfield(L, -2, "string")
                api.setfield(L, -2, "verbatim_string")
            }
        case .map(let a), .keyedPairs(let a):
            if resp == 2 { push(r.resp2, resp: 2); return }
            api.newtable(L); api.newtable(L)
            var i = 0
            while i + 1 < a.count { push(a[i], resp: resp); push(a[i + 1], resp: resp); api.settable(L, -3); i += 2 }
            api.setfield(L, -2, "map")
        case .set(let a):
            if resp == 2 { pushArray(a, resp: 2); return }
            api.newtable(L); api.newtable(L)
            for e in a { push(e, resp: resp); api.pushboolean(L, 1); api.settable(L, -3) }
            api.setfield(L, -2, "set")
        case .push(let a): pushArray(a, resp: resp)
        case .pairs(let a):
            if resp == 2 { pushArray(a, resp: 2); return }
            var nested = [Reply]()
            var i = 0
            while i + 1 < a.count { nested.append(.array([a[i], a[i + 1]])); i += 2 }
            pushArray(nested, resp: resp)
        }
    }

    private func pushArray(_ a: [Reply], resp: Int) {
        api.createtable(L, Int32(a.count), 0)
        for (i, e) in a.enumerated() { push(e, resp: resp); api.rawseti(L, -2, Int32(i + 1)) }
    }

    /// luaPushErrorBuff: "-CODE msg" or "msg" becomes {err = "CODE msg"} (ERR when no code).
    private func pushErrorTable(_ text: String) {
        var code = "ERR", msg = text
        if text.hasPrefix("-") {
            let body = text.dropFirst()
            if let sp = body.firstIndex(of: " ") { code = String(body[..<sp]); msg = String(body[body.index(after: sp)...]) }
            else { msg = String(body) }
        }
        while msg.hasSuffix("\n") || msg.hasSuffix("\r") { msg.removeLast() }
        api.newtable(L)
        api.pushstring(L, code + " " + msg)
        api.setfield(L, -2, "err")
    }

    /// The Lua value at `i` as the reply to the caller (luaReplyToRedisReply); `scriptResp`
    /// decides what a boolean becomes.
    private func toReply(_ i: Int32, scriptResp: Int, depth: Int = 0) -> Reply {
        let idx = i < 0 ? api.gettop(L) + i + 1 : i
        switch api.type(L, idx) {
        case LuaAPI.tString: return .bulk(api.bytes(L, idx) ?? [])
        case LuaAPI.tBoolean:
            let b = api.toboolean(L, idx) != 0
            if scriptResp == 2 { return b ? .integer(1) : .null }
            return .bool(b)
        case LuaAPI.tNumber:
            let d = api.tonumber(L, idx)
            if d.isNaN { return .integer(Int64.min) }
            return .integer(d >= 9.2233720368547758e18 ? Int64.min : d <= -9.2233720368547758e18 ? Int64.min : Int64(d))
        case LuaAPI.tTable:
            // A table nested too deep (or holding itself) ends where Lua's stack does, as in Redis.
            // (Bounded at 200 levels here, well before the thread's stack would be.)
            if depth >= 200 || api.checkstack(L, 4) == 0 { return .error("ERR reached lua stack limit") }
            if let s = field(idx, "err", LuaAPI.tString) {
                return .error(String(decoding: s, as: UTF8.self))
            }
            if let s = field(idx, "ok", LuaAPI.tString) {
                return .status(String(decoding: s.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self))
            }
            rawField(idx, "double")
            if api.type(L, -1) == LuaAPI.tNumber {
                let d = api.tonumber(L, -1); api.pop(L, 1)
                return .double(d.isInfinite ? Array((d > 0 ? "inf" : "-inf").utf8) : Scripting.g17(d))
            }
            api.pop(L, 1)
            if let s = field(idx, "big_number", LuaAPI.tString) { return .bigNumber(s.map { $0 == 13 || $0 == 10 ? 32 : $0 }) }
            rawField(idx, "verbatim_string")
            if api.istable(L, -1), let s = field(api.gettop(L), "string", LuaAPI.tString) {
                api.pop(L, 1)
                return .verbatim(s)
            }
            api.pop(L, 1)
            rawField(idx, "map")
            if api.istable(L, -1) {
                let t = api.gettop(L)
                var out = [Reply]()
                api.pushnil(L)
                while api.next(L, t) != 0 {
                    api.pushvalue(L, -2)
                    out.append(toReply(-1, scriptResp: scriptResp, depth: depth + 1)); api.pop(L, 1)
                    out.append(toReply(-1, scriptResp: scriptResp, depth: depth + 1)); api.pop(L, 1)
                }
                api.pop(L, 1)
                return .map(out)
            }
            api.pop(L, 1)
            rawField(idx, "set")
            if api.istable(L, -1) {
                let t = api.gettop(L)
                var out = [Reply]()
                api.pushnil(L)
                while api.next(L, t) != 0 {
                    api.pop(L, 1)
                    out.append(toReply(-1, scriptResp: scriptResp, depth: depth + 1))
                }
                api.pop(L, 1)
                return .set(out)
            }
            api.pop(L, 1)
            var out = [Reply]()
            var j: Int32 = 1
            while true {
                api.rawgeti(L, idx, j)
                if api.isnil(L, -1) { api.pop(L, 1); break }
                out.append(toReply(-1, scriptResp: scriptResp, depth: depth + 1))
                api.pop(L, 1)
                j += 1
            }
            return .array(out)
        default:
            return .null
        }
    }

    /// Pushes t[name] without metamethods (a script's table may have any metatable, and an
    /// error here would be outside every protected call).
    fileprivate func rawField(_ t: Int32, _ name: String) {
        api.pushstring(L, name)
        api.rawget(L, t)
    }

    /// t[name] (raw) when it has Lua type `type`.
    private func field(_ t: Int32, _ name: String, _ type: Int32) -> Bytes? {
        api.pushstring(L, name)
        api.rawget(L, t)
        defer { api.pop(L, 1) }
        return api.type(L, -1) == type ? api.bytes(L, -1) : nil
    }

    // MARK: the redis API (called from Lua through the C callbacks above)

    /// Pushes {err = "ERR <text>"} and returns -1 (the caller raises it).
    fileprivate func fail(_ L: LuaState?, _ text: String) -> Int32 {
        api.newtable(L)
        api.pushstring(L, "ERR " + text)
        api.setfield(L, -2, "err")
        return -1
    }

    fileprivate func redisCall(_ L: LuaState?, raise: Bool) -> Int32 {
        guard let run else { return fail(L, "redis.call/pcall can only be called inside a script invocation") }
        let argc = api.gettop(L)
        if argc == 0 {
            let r = fail(L, "Please specify at least one argument for this redis lib call")
            return raise ? r : 1
        }
        var args = [Bytes]()
        args.reserveCapacity(Int(argc))
        for i in 1...argc {
            if api.type(L, i) == LuaAPI.tNumber { args.append(Scripting.g17(api.tonumber(L, i))) }
            else if api.type(L, i) == LuaAPI.tString, let b = api.bytes(L, i) { args.append(b) }
            else { break }
        }
        api.pop(L, argc)
        if args.count != Int(argc) {
            let r = fail(L, "Lua redis lib command arguments must be strings or integers")
            return raise ? r : 1
        }
        let reply = host.scriptCall(args, run)
        if case .error(let e) = reply {
            pushErrorTable("-" + e)
            api.pushboolean(L, 1)
            api.setfield(L, -2, "ignore_error_stats_update")
            return raise ? -1 : 1
        }
        push(reply, resp: run.resp)
        return 1
    }

    /// pcall as Redis 7.0 wraps it: an error table caught is returned as its message.
    fileprivate func protectedCall(_ L: LuaState?) -> Int32 {
        let argc = api.gettop(L)
        api.pushboolean(L, 1)
        api.insert(L, 1)
        if api.pcall(L, argc - 1, LuaAPI.multret, 0) != 0 {
            api.remove(L, 1)
            if api.istable(L, -1) {
                api.getfield(L, -1, "err")
                if api.isstring(L, -1) != 0 { api.replace(L, -2) } else { api.pop(L, 1) }
            }
            api.pushboolean(L, 0)
            api.insert(L, 1)
        }
        return api.gettop(L)
    }

    fileprivate func sha1hex(_ L: LuaState?) -> Int32 {
        if api.gettop(L) != 1 { return fail(L, "wrong number of arguments") }
        let b = api.bytes(L, 1) ?? []
        api.pushstring(L, Scripting.sha1hex(b))
        return 1
    }

    fileprivate func errorReply(_ L: LuaState?) -> Int32 {
        if api.gettop(L) != 1 || api.type(L, -1) != LuaAPI.tString { _ = fail(L, "wrong number or type of arguments"); return 1 }
        let text = api.string(L, -1) ?? ""
        pushErrorTable(text.hasPrefix("-") ? text : "-" + text)
        return 1
    }

    fileprivate func statusReply(_ L: LuaState?) -> Int32 {
        if api.gettop(L) != 1 || api.type(L, -1) != LuaAPI.tString { _ = fail(L, "wrong number or type of arguments"); return 1 }
        api.newtable(L)
        api.pushvalue(L, -2)
        api.setfield(L, -2, "ok")
        return 1
    }

    fileprivate func log(_ L: LuaState?) -> Int32 {
        let argc = api.gettop(L)
        if argc < 2 { return fail(L, "redis.log() requires two arguments or more.") }
        if api.isnumber(L, 1) == 0 { return fail(L, "First argument must be a number (log level).") }
        let level = Int(api.tonumber(L, 1))
        if level < 0 || level > 3 { return fail(L, "Invalid debug level.") }
        var parts = [String]()
        for i in 2...argc { if let s = api.string(L, i) { parts.append(s) } }
        host.scriptLog(["debug", "verbose", "notice", "warning"][level], parts.joined(separator: " "))
        return 0
    }

    fileprivate func setResp(_ L: LuaState?) -> Int32 {
        guard let run else { return fail(L, "redis.setresp can only be called inside a script invocation") }
        if api.gettop(L) != 1 { return fail(L, "redis.setresp() requires one argument.") }
        let v = Int(api.tonumber(L, 1))
        if v != 2 && v != 3 { return fail(L, "RESP version must be 2 or 3.") }
        run.resp = v
        return 0
    }

    fileprivate func setRepl(_ L: LuaState?) -> Int32 {
        guard let run else { return fail(L, "redis.set_repl can only be called inside a script invocation") }
        if api.gettop(L) != 1 { return fail(L, "redis.set_repl() requires two arguments.") }
        let v = Int(api.tonumber(L, -1))
        if v & ~3 != 0 { return fail(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.") }
        run.replicate = UInt8(v)
        return 0
    }

    fileprivate func random(_ L: LuaState?) -> Int32 {
        if run == nil { return fail(L, "math.random can only be called inside a script invocation") }
        let r = Double(Int64(rand.next()) % Int64(Int32.max)) / Double(Int32.max)
        switch api.gettop(L) {
        case 0: api.pushnumber(L, r)
        case 1:
            let u = Int(api.tonumber(L, 1))
            if u < 1 { return fail(L, "bad argument #1 to 'random' (interval is empty)") }
            api.pushnumber(L, (r * Double(u)).rounded(.down) + 1)
        case 2:
            let l = Int(api.tonumber(L, 1)), u = Int(api.tonumber(L, 2))
            if l > u { return fail(L, "bad argument #2 to 'random' (interval is empty)") }
            api.pushnumber(L, (r * Double(u - l + 1)).rounded(.down) + Double(l))
        default: return fail(L, "wrong number of arguments")
        }
        return 1
    }

    fileprivate func randomSeed(_ L: LuaState?) -> Int32 {
        if run == nil { return fail(L, "math.randomseed can only be called inside a script invocation") }
        rand.seed(Int32(truncatingIfNeeded: Int(api.tonumber(L, 1))))
        return 0
    }

    /// Every 100,000 instructions: past the busy threshold the server serves others (BUSY) and
    /// SCRIPT KILL can end the script here.
    fileprivate func hook(_ L: LuaState?) -> Int32 {
        if let deadline = loadDeadline, EventLoop.nowMs() > deadline {
            _ = fail(L, "FUNCTION LOAD timeout")
            return -1
        }
        guard let run else { return 0 }
        if !run.timedOut && EventLoop.nowMs() - run.startMs >= busyThresholdMs {
            run.timedOut = true
            host.scriptLog("warning", "Slow script detected: still in execution after \(EventLoop.nowMs() - run.startMs) milliseconds. You can try killing the script using the \(run.isFunction ? "FUNCTION KILL" : "SCRIPT KILL") command. Script name is: \(run.name).")
        }
        if run.timedOut { host.scriptBusy(run) }
        if run.killed {
            host.scriptLog("warning", "Lua script killed by user with SCRIPT KILL.")
            // Every line from now on raises again, so pcall cannot keep the script alive.
            _ = api.sethook(L, cHook, LuaAPI.maskLine, 0)
            api.newtable(L)
            api.pushstring(L, "ERR Script killed by user with \(run.isFunction ? "FUNCTION KILL" : "SCRIPT KILL")...")
            api.setfield(L, -2, "err")
            return -1
        }
        return 0
    }
}

// MARK: functions (FUNCTION LOAD, FCALL)

/// A library of functions (Redis 7.0's functionLibInfo).
struct FunctionLibrary {
    struct Function {
        let name: String
        let flags: ScriptFlags
        let description: String?
    }
    let name: String
    let code: Bytes
    var functions: [Function]
}

extension Scripting {
    /// `#!lua name=<name>` (functionExtractLibMetaData): the engine, the name, and where the
    /// code after the first line starts (its newline kept, so line numbers stay right).
    static func libraryMetadata(_ code: Bytes) -> Result<(engine: String, name: String, body: Int), CommandError> {
        guard code.starts(with: Array("#!".utf8)) else { return .failure(CommandError("ERR Missing library metadata")) }
        guard let end = code.firstIndex(of: 10) else { return .failure(CommandError("ERR Invalid library metadata")) }
        guard let words = RESPCommandReader.splitArgs(Array(code[0..<end])) else { return .failure(CommandError("ERR Invalid library metadata")) }
        let parts = words.map { String(decoding: $0, as: UTF8.self) }
        guard let first = parts.first else { return .failure(CommandError("ERR Invalid library metadata")) }
        var name: String?
        for p in parts.dropFirst() {
            if p.lowercased().hasPrefix("name=") {
                if name != nil { return .failure(CommandError("ERR Invalid metadata value, name argument was given multiple times")) }
                name = String(p.dropFirst(5))
                continue
            }
            return .failure(CommandError("ERR Invalid metadata value given: \(p)"))
        }
        guard let name else { return .failure(CommandError("ERR Library name was not given")) }
        return .success((String(first.dropFirst(2)), name, end))
    }

    static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }

    /// FUNCTION LOAD [REPLACE]: compiles and runs the library, which registers its functions.
    func loadLibrary(_ code: Bytes, replace: Bool) -> Result<String, CommandError> {
        current = self
        let meta: (engine: String, name: String, body: Int)
        switch Scripting.libraryMetadata(code) {
        case .failure(let e): return .failure(e)
        case .success(let m): meta = m
        }
        if !Scripting.validName(meta.name) {
            return .failure(CommandError("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"))
        }
        if meta.engine.lowercased() != "lua" { return .failure(CommandError("ERR Engine '\(meta.engine)' not found")) }
        // Library names compare without case too ("Library 'X' already exists").
        let old = libraries.firstIndex { $0.name.lowercased() == meta.name.lowercased() }
        if old != nil && !replace { return .failure(CommandError("ERR Library '\(meta.name)' already exists")) }
        let rc = code.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { api.loadbuffer(L, $0.baseAddress! + meta.body, $0.count - meta.body, "@user_function") }
        }
        if rc != 0 {
            let msg = api.string(L, -1) ?? "?"
            api.settop(L, 0)
            return .failure(CommandError("ERR Error compiling function: \(msg)"))
        }
        callRegistry("__strata_load_begin")
        loadDeadline = EventLoop.nowMs() + 500
        _ = api.sethook(L, cHook, LuaAPI.maskCount, 100_000)
        let failed = api.pcall(L, 0, 0, 0) != 0
        _ = api.sethook(L, nil, 0, 0)
        loadDeadline = nil
        callRegistry("__strata_load_end")
        if failed {
            var msg = ""
            if api.istable(L, -1) {
                rawField(api.gettop(L), "err")
                msg = api.string(L, -1) ?? ""
                api.pop(L, 1)
            } else {
                msg = "ERR " + (api.string(L, -1) ?? "")
            }
            api.settop(L, 0)
            return .failure(CommandError("ERR Error registering functions: \(msg)"))
        }
        // The functions registered: name, flags, description; callbacks left in the pending list.
        var functions = [FunctionLibrary.Function]()
        api.getfield(L, LuaAPI.registryIndex, "__strata_pending")
        let pending = api.gettop(L)
        let n = Int32(api.objlen(L, pending))
        if n > 0 {
            for i in 1...n {
                api.rawgeti(L, pending, i)
                api.getfield(L, -1, "name")
                let fname = api.string(L, -1) ?? ""
                api.pop(L, 1)
                api.getfield(L, -1, "description")
                let desc = api.type(L, -1) == LuaAPI.tString ? api.string(L, -1) : nil
                api.pop(L, 1)
                var flags = ScriptFlags()
                api.getfield(L, -1, "flags")
                let fl = api.gettop(L)
                for j in 0..<Int32(api.objlen(L, fl)) {
                    api.rawgeti(L, fl, j + 1)
                    if let f = api.string(L, -1), let flag = ScriptFlags.names.first(where: { $0.0 == f })?.1 { flags.insert(flag) }
                    api.pop(L, 1)
                }
                api.pop(L, 2)
                functions.append(FunctionLibrary.Function(name: fname, flags: flags, description: desc))
            }
        }
        if functions.isEmpty { api.settop(L, 0); return .failure(CommandError("ERR No functions registered")) }
        for f in functions {
            if let owner = functionOwner[f.name.lowercased()], owner.lowercased() != meta.name.lowercased() {
                api.settop(L, 0)
                return .failure(CommandError("ERR Function \(f.name) already exists"))
            }
        }
        // Commit: the old library's functions go, the new callbacks are kept in the registry.
        if let old { removeLibrary(at: old) }
        for i in 1...n {
            api.rawgeti(L, pending, i)
            api.getfield(L, -1, "callback")
            api.setfield(L, LuaAPI.registryIndex, "__strata_fn_" + functions[Int(i) - 1].name.lowercased())
            api.pop(L, 1)
        }
        api.settop(L, 0)
        for f in functions { functionOwner[f.name.lowercased()] = meta.name }
        libraries.append(FunctionLibrary(name: meta.name, code: code, functions: functions))
        return .success(meta.name)
    }

    private func callRegistry(_ name: String) {
        api.getfield(L, LuaAPI.registryIndex, name)
        _ = api.pcall(L, 0, 0, 0)
    }

    private func removeLibrary(at i: Int) {
        for f in libraries[i].functions {
            functionOwner[f.name.lowercased()] = nil
            api.pushnil(L)
            api.setfield(L, LuaAPI.registryIndex, "__strata_fn_" + f.name.lowercased())
        }
        libraries.remove(at: i)
    }

    /// FUNCTION DELETE.
    func deleteLibrary(_ name: String) -> Bool {
        current = self
        guard let i = libraries.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) else { return false }
        removeLibrary(at: i)
        return true
    }

    /// FUNCTION FLUSH: a new interpreter, no libraries.
    func flushFunctions() {
        current = self
        libraries = []
        functionOwner = [:]
        reset()
    }

    /// Function names are case-insensitive, as Redis's functions dictionary.
    func function(_ name: String) -> FunctionLibrary.Function? {
        let key = name.lowercased()
        guard let lib = functionOwner[key] else { return nil }
        return libraries.first { $0.name == lib }?.functions.first { $0.name.lowercased() == key }
    }

    /// FCALL / FCALL_RO: the callback with the KEYS and ARGV tables as its arguments.
    func callFunction(_ name: String, keys: [Bytes], args: [Bytes], db: Int, readOnlyCommand: Bool, oom: Bool) -> Reply {
        current = self
        guard let f = function(name) else { return .error("ERR Function not found") }
        if !f.flags.contains(.noWrites) {
            if readOnlyCommand { return .error("ERR Can not execute a script with write flag using *_ro command.") }
            if oom && !f.flags.contains(.allowOOM) {
                return .error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
            }
        }
        let r = ScriptRun(name: name, db: db, readOnly: readOnlyCommand || f.flags.contains(.noWrites),
                          allowOOM: f.flags.contains(.allowOOM), isFunction: true)
        return runProtected(r) {
            api.rawgeti(L, LuaAPI.registryIndex, Scripting.errorHandlerRef)
            api.getfield(L, LuaAPI.registryIndex, "__strata_fn_" + name.lowercased())
            for list in [keys, args] {
                api.createtable(L, Int32(list.count), 0)
                for (i, b) in list.enumerated() { api.pushbytes(L, b); api.rawseti(L, -2, Int32(i + 1)) }
            }
            return api.pcall(L, 2, 1, -4)
        }
    }
}
