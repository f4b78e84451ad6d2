import Foundation
import XCTest
import StrataTestSupport

/// Lua scripting in `strata serve`, with redis-server 7.0 as the oracle: the same scripts, the
/// same replies (as redis-cli prints them, RESP2 and RESP3), the same effects.
final class ScriptingTests: XCTestCase {
    func startStrata(extra: [String] = []) throws -> RedisOracle {
        try RedisOracle(server: strataPath, leading: ["serve"], extra: extra)
    }

    static let scripts: [String] = [
        "return 1", "return 'str'", "return {1,2,3,'a',{4,5},false,true,nil,6}", "return 3.99", "return -3.99",
        "return nil", "return true", "return false", "return {ok='FINE'}", "return {err='MY bad'}",
        "return redis.status_reply('OK')", "return redis.error_reply('CUSTOM oops')", "return redis.error_reply('-NOPE no')",
        "return redis.call('set', KEYS[1], ARGV[1])", "return redis.call('get', KEYS[1])", "return redis.call('get', 'nokey')",
        "return redis.call('incr', KEYS[1])", "return redis.pcall('incr', KEYS[1])",
        "local ok, e = pcall(redis.call, 'incr', KEYS[1]) return {tostring(ok), e}",
        "return redis.call('hset','h','a','1','b','2')", "return redis.call('hgetall','h')",
        "redis.setresp(3) return redis.call('hgetall','h')", "redis.setresp(3) return redis.call('zadd','z','1.5','m')",
        "redis.setresp(3) return redis.call('zscore','z','m')", "return redis.call('zscore','z','m')",
        "redis.setresp(3) return redis.call('get','nokey')", "redis.setresp(3) return redis.call('smembers','nosuchset')",
        "redis.setresp(3) local r = redis.call('zrange','z',0,-1,'withscores') return {type(r[1]), r[1][1], type(r[1][2])}",
        "return redis.call('nosuchcommand')", "return redis.call('get')", "return redis.call()",
        "return redis.call('set', KEYS[1], {})", "return redis.call('subscribe', 'x')", "return redis.call('eval', 'return 1', 0)",
        "a = 5", "return undefined_var", "return type(loadfile)", "return type(print)", "return type(os)",
        "setmetatable(_G, {})", "redis.call = function() end", "cjson.encode = nil", "rawset(_G, 'x', 1)",
        "local g = getmetatable(_G) g.__index = {}",
        "return cjson.encode({1,2,3,{x='y'}})", "return cjson.decode('{\"a\":[1,2,{\"b\":null}]}').a[2]",
        "return cjson.encode(cjson.decode('[1,\"x\",true,null,{\"k\":1.5},\"\\\\u00e9/\"]'))", "return cjson.decode('[1,')",
        "return cjson.encode({[1]=1,[20]=2})", "return cjson.encode(1/0)",
        "return cmsgpack.unpack(cmsgpack.pack({1,2,{3,'x'}}))", "local t = cmsgpack.unpack(cmsgpack.pack({a=1})) return t.a",
        "return cmsgpack.pack(1, -1, 300, -300, 70000, 1.5, 0.1, 'abc', true, {1,2}, {k='v'})",
        "return {cmsgpack.unpack(cmsgpack.pack(1, -1, 300, -300, 70000, 2^40, -2^40, 'abc', true))}",
        "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
        "return {bit.band(0xff, 0x0f), bit.bor(1,2), bit.bxor(3,1), bit.lshift(1,4), bit.rshift(-1,28), bit.arshift(-256,4), bit.tohex(255), bit.tohex(-1, -4), bit.bnot(0), bit.tobit(0xffffffff), bit.rol(1, 33), bit.bswap(0x12345678), bit.ror(1, 1)}",
        "return struct.pack('>I2i4', 258, -2)", "return {struct.unpack('>I2i4', struct.pack('>I2i4', 258, -2))}",
        "return struct.size('>I2i4')", "return {struct.unpack('<hd', struct.pack('<hd', -3, 2.5))}",
        "return redis.sha1hex('hello')", "return redis.sha1hex('')",
        "return {tostring(math.random()), math.random(100), math.random(5, 10)}", "math.randomseed(42) return tostring(math.random())",
        "return redis.REDIS_VERSION", "return _VERSION", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
        "return redis.call('select', 1)", "redis.log(redis.LOG_WARNING, 'from script') return 1",
        "return {1, 2, {err='nested'}}", "return {double=3.14}", "return {map={a=1}}", "return {set={x=true}}",
        "return string.format('%d %s', 7, 'x')", "return table.concat({'a','b'}, '-')", "return loadstring('return 1')()",
        "local ok, e = pcall(function() error({err='x'}) end) return e", "local ok, e = pcall(error, 'plain') return e",
        "#!lua flags=no-writes\nreturn redis.call('set','x','1')", "#!lua flags=no-writes\nreturn redis.call('get','x')",
        "#!lua\nreturn 1", "#!lua flags=bogus\nreturn 1", "#!notlua\nreturn 1", "#!lua name=x\nreturn 1",
        "return redis.call('blpop', 'emptylist', 0)", "return redis.call('spop', 'nosuchset')", "return 'unterminated",
        "return redis.set_repl(redis.REPL_ALL)", "return redis.setresp(4)",
        "return redis.pcall('xread', 'BLOCK', 0, 'STREAMS', 's', '$')",
        "cjson.encode_max_depth(1) local ok = pcall(cjson.encode, {{1}}) cjson.encode_max_depth(1000) return tostring(ok)",
        "cjson.encode_invalid_numbers(true) local s = cjson.encode({0/0 == 0/0}) cjson.encode_invalid_numbers(false) return s",
        "local a = {} local b = a for i = 1, 20 do b.x = {} b = b.x end return cmsgpack.pack(a)",
    ]

    /// Every script above through redis-cli, on redis-server and strata serve, RESP2 and RESP3:
    /// the printed replies are the same.
    func testScriptsReplyAsRedis() throws {
        let redis = try RedisOracle(), strata = try startStrata()
        defer { redis.stop(); strata.stop() }
        for proto in [[], ["-3"]] {
            var outputs = [[String]]()
            for s in [redis, strata] {
                _ = try s.cmd("flushall")
                var out = [String]()
                for script in ScriptingTests.scripts {
                    let r = try runProcess(s.cli, ["-p", "\(s.port)", "--no-raw"] + proto + ["eval", script, "1", "key1", "arg1"])
                    out.append(String(decoding: r.out, as: UTF8.self) + r.err)
                }
                outputs.append(out)
            }
            for (i, script) in ScriptingTests.scripts.enumerated() where outputs[0][i] != outputs[1][i] {
                XCTFail("\(proto) \(script):\nredis:  \(outputs[0][i])\nstrata: \(outputs[1][i])")
            }
        }
        // A table holding itself ends in Redis's "reached lua stack limit" (the depth differs:
        // Redis stops where Lua's stack does), and the server lives on.
        XCTAssertTrue(try strata.cmd("eval", "local a = {}; local b = {a}; a[1] = b; return a", "0").contains("ERR reached lua stack limit"))
        XCTAssertEqual(try strata.cmd("ping"), "PONG")
        // EVALSHA, SCRIPT LOAD/EXISTS/FLUSH, numkeys errors.
        for s in [redis, strata] {
            let sha = try s.cmd("script", "load", "return 'loaded'")
            XCTAssertEqual(sha, "b534286061d4b9e4026607613b95c06c06015ae8")
            XCTAssertEqual(try s.cmd("evalsha", sha, "0"), "loaded")
            XCTAssertEqual(try s.cmd("evalsha", sha.uppercased(), "0"), "loaded")
            XCTAssertEqual(try s.cmd("script", "exists", sha, "ffffffffffffffffffffffffffffffffffffffff"), "1\n0")
            XCTAssertEqual(try s.cmd("script", "flush"), "OK")
            XCTAssertEqual(try s.cmd("evalsha", sha, "0"), "NOSCRIPT No matching script. Please use EVAL.")
            XCTAssertEqual(try s.cmd("eval", "return 1", "2", "a"), "ERR Number of keys can't be greater than number of args")
            XCTAssertEqual(try s.cmd("eval", "return 1", "-1"), "ERR Number of keys can't be negative")
            XCTAssertEqual(try s.cmd("eval", "return 1", "x"), "ERR value is not an integer or out of range")
            XCTAssertEqual(try s.cmd("eval_ro", "return redis.call('set','k','v')", "0"), "ERR Write commands are not allowed from read-only scripts. script: d223ed8c7345b684e8ed044ed472601f536fa58b, on @user_script:1.")
            XCTAssertEqual(try s.cmd("eval_ro", "#!lua\nreturn 1", "0"), "ERR Can not execute a script with write flag using *_ro command.")
        }
    }

    /// The rate limiter of Redis's documentation through `redis-cli --eval` (keys and args
    /// separated by " , "): the same answers on both servers, the key expiring.
    func testRateLimiterThroughRedisCliEval() throws {
        let dir = makeTempDir()
        let file = dir + "/ratelimit.lua"
        try """
        local current = redis.call("incr", KEYS[1])
        if current == 1 then
            redis.call("expire", KEYS[1], ARGV[2])
        end
        if current > tonumber(ARGV[1]) then
            return 0
        end
        return 1
        """.write(toFile: file, atomically: true, encoding: .utf8)
        var outputs = [String]()
        for s in [try RedisOracle(), try startStrata()] {
            defer { s.stop() }
            var out = ""
            for _ in 0..<12 {
                out += try s.cmd(["--eval", file, "ratelimit:127.0.0.1", ",", "10", "60"]) + " "
            }
            let ttl = Int(try s.cmd("ttl", "ratelimit:127.0.0.1")) ?? -1
            XCTAssertTrue((55...60).contains(ttl), "ttl \(ttl)")
            outputs.append(out)
        }
        XCTAssertEqual(outputs[0], "1 1 1 1 1 1 1 1 1 1 0 0 ")
        XCTAssertEqual(outputs[1], outputs[0])
    }

    /// redis-py's Lock (SET NX PX + Lua release and extend) contended by four processes: never
    /// two holders at once, every acquisition counted, a release by a non-owner refused.
    func testRedisPyLockUnderContention() throws {
        guard let py = which("python3"), (try? runProcess(py, ["-c", "import redis"]))?.status == 0 else {
            return XCTFail("redis-py is not installed (.ci/run installs PyPI redis)")
        }
        let script = """
        import sys, json, time, redis, multiprocessing
        from redis.exceptions import LockNotOwnedError, LockError
        port = int(sys.argv[1])
        def worker(n):
            r = redis.Redis(host="127.0.0.1", port=port)
            got = 0
            for _ in range(25):
                lock = r.lock("resource", timeout=5, blocking_timeout=10)
                if not lock.acquire():
                    continue
                try:
                    if not r.set("holder", n, nx=True):
                        r.incr("overlaps")
                    v = int(r.get("counter") or 0)
                    time.sleep(0.001)
                    r.set("counter", v + 1)
                    lock.extend(2)
                    r.delete("holder")
                    got += 1
                finally:
                    lock.release()
            return got
        if __name__ == "__main__":
            r = redis.Redis(host="127.0.0.1", port=port)
            r.flushall()
            with multiprocessing.Pool(4) as p:
                total = sum(p.map(worker, range(4)))
            out = {"total": total, "counter": int(r.get("counter") or 0), "overlaps": int(r.get("overlaps") or 0)}
            a = r.lock("other", timeout=10)
            a.acquire()
            b = r.lock("other", timeout=10)
            b.local.token = b"not-the-owner"
            try:
                b.release()
                out["foreign_release"] = "allowed"
            except LockNotOwnedError:
                out["foreign_release"] = "refused"
            out["still_held"] = r.get("other") is not None
            a.release()
            out["released"] = r.get("other") is None
            print(json.dumps(out, sort_keys=True))
        """
        var outputs = [String]()
        for s in [try RedisOracle(), try startStrata()] {
            defer { s.stop() }
            let r = try runProcess(py, ["-c", script, "\(s.port)"])
            XCTAssertEqual(r.status, 0, r.err)
            outputs.append(String(decoding: r.out, as: UTF8.self))
        }
        XCTAssertEqual(outputs[0], "{\"counter\": 100, \"foreign_release\": \"refused\", \"overlaps\": 0, \"released\": true, \"still_held\": true, \"total\": 100}\n")
        XCTAssertEqual(outputs[1], outputs[0])
    }

    /// A script looping forever: after lua-time-limit another client gets BUSY, SCRIPT KILL
    /// ends it; a script that wrote first is UNKILLABLE and SHUTDOWN NOSAVE ends the server.
    /// Both servers behave the same.
    func testBusyScriptKillAndShutdownNoSave() throws {
        for s in [try RedisOracle(extra: ["--lua-time-limit", "200"]), try startStrata(extra: ["--lua-time-limit", "200"])] {
            defer { s.stop() }
            let busy = Process()
            busy.executableURL = URL(fileURLWithPath: s.cli)
            busy.arguments = ["-p", "\(s.port)", "eval", "while true do end", "0"]
            let pipe = Pipe()
            busy.standardOutput = pipe
            try busy.run()
            var answer = ""
            for _ in 0..<100 {
                answer = try s.cmd("ping")
                if answer.hasPrefix("BUSY") { break }
                usleep(50_000)
            }
            XCTAssertEqual(answer, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", s.dir)
            XCTAssertEqual(try s.cmd("script", "kill"), "OK")
            busy.waitUntilExit()
            let killed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertTrue(killed.hasPrefix("ERR Script killed by user with SCRIPT KILL..."), killed)
            XCTAssertEqual(try s.cmd("ping"), "PONG")
            XCTAssertEqual(try s.cmd("script", "kill"), "NOTBUSY No scripts in execution right now.")

            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: s.cli)
            writer.arguments = ["-p", "\(s.port)", "eval", "redis.call('set','x','1') while true do end", "0"]
            writer.standardOutput = FileHandle.nullDevice
            writer.standardError = FileHandle.nullDevice
            try writer.run()
            _ = try poll { try s.cmd("ping").hasPrefix("BUSY") }
            XCTAssertTrue(try s.cmd("script", "kill").hasPrefix("UNKILLABLE Sorry the script already executed write commands"))
            _ = try? s.cmd("shutdown", "nosave")
            for _ in 0..<100 where s.process.isRunning { usleep(50_000) }
            XCTAssertFalse(s.process.isRunning, "SHUTDOWN NOSAVE ends the server during a busy script")
            writer.waitUntilExit()
        }
    }

    /// Scripts replicate by effects: strata's AOF holds the writes a script made, wrapped in
    /// MULTI/EXEC and no EVAL, and redis-server loads it with the digest strata had.
    func testScriptEffectsInTheAOFLoadInRedis() throws {
        let strata = try startStrata(extra: ["--appendonly", "yes"])
        defer { strata.stop() }
        _ = try strata.cmd("sadd", "s", "a", "b", "c", "d")
        _ = try strata.cmd("eval", "redis.call('set', KEYS[1], 'v') redis.call('spop', 's') redis.call('incrbyfloat', 'f', '1.5') redis.call('expire', KEYS[1], 100) return 1", "1", "k")
        _ = try strata.cmd("eval", "redis.set_repl(redis.REPL_NONE) redis.call('set', 'hidden', '1') redis.set_repl(redis.REPL_ALL) redis.call('set', 'shown', '1') return 1", "0")
        _ = try strata.cmd("del", "hidden")
        let digest = try strata.cmd("debug", "digest")
        let dir = strata.dir + "/appendonlydir"
        let incr = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".incr.aof") }!
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/" + incr)), as: UTF8.self)
        XCTAssertFalse(text.lowercased().contains("eval"), text)
        XCTAssertTrue(text.contains("MULTI") && text.contains("EXEC") && text.contains("SREM") && text.contains("PEXPIREAT"), text)
        XCTAssertFalse(text.contains("hidden\r\n$1\r\n1"), "REPL_NONE writes stay out of the AOF")
        strata.stop()
        let copy = makeTempDir()
        try FileManager.default.copyItem(atPath: dir, toPath: copy + "/appendonlydir")
        let redis = try RedisOracle(dir: copy, extra: ["--appendonly", "yes"])
        defer { redis.stop() }
        XCTAssertEqual(try redis.cmd("debug", "digest"), digest)
    }

    /// Without liblua5.1 the server starts, says so once in its log, and EVAL says what to install.
    func testWithoutLuaTheServerStartsAndSaysWhatToInstall() throws {
        let s = try RedisOracle(server: strataPath, leading: ["serve"], env: ["STRATA_LUA_LIBRARY": "/nonexistent/liblua.so"])
        defer { s.stop() }
        XCTAssertEqual(try s.cmd("ping"), "PONG")
        XCTAssertTrue(try s.cmd("eval", "return 1", "0").contains("install the Debian package liblua5.1-0"))
        XCTAssertTrue(s.log.contains("liblua5.1-0"), s.log)
    }

    static let library = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return redis.call('set', keys[1], args[1]) end)\nredis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}"

    /// FUNCTION LOAD (and its errors), FCALL/FCALL_RO, LIST, DELETE, STATS: the same replies
    /// as redis-server.
    func testFunctionsReplyAsRedis() throws {
        let steps: [[String]] = [
            ["function", "load", ScriptingTests.library], ["fcall", "myfunc", "1", "k", "v"], ["fcall_ro", "ro", "1", "k"],
            ["fcall_ro", "myfunc", "1", "k", "v"], ["fcall", "nosuch", "0"], ["fcall", "myfunc", "x"], ["fcall", "myfunc", "3", "a"],
            ["function", "load", "#!lua name=mylib\nredis.register_function('x', function() return 1 end)"],
            ["function", "load", "no shebang"], ["function", "load", "#!lua\nreturn 1"], ["function", "load", "#!lua name=bad-name\nreturn 1"],
            ["function", "load", "#!js name=j\nreturn 1"], ["function", "load", "#!lua name=empty\nlocal x = 1"],
            ["function", "load", "#!lua name=callatload\nredis.call('set','a','b')"],
            ["function", "load", "#!lua name=strlib\nlocal s = string.upper('x')"],
            ["function", "load", "#!lua name=dup\nredis.register_function('myfunc', function() return 1 end)"],
            ["function", "load", "#!lua name=err\nredis.register_function('f', function() return 1 end, 3)"],
            ["function", "load", "#!lua name=flags\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'bogus'}}"],
            ["function", "load", "#!lua name=syntax\nredis.register_function('f' function() return 1 end)"],
            ["function", "load", "#!lua name=twice\nredis.register_function('t', function() return 1 end)\nredis.register_function('t', function() return 2 end)"],
            ["function", "load", "replace", "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return {keys[1], args[1], #keys, #args} end)"],
            ["fcall", "myfunc", "2", "a", "b", "c"], ["fcall", "ro", "1", "k"],
            ["function", "list"], ["function", "list", "withcode", "libraryname", "my*"], ["function", "list", "bogus"],
            ["function", "delete", "nosuch"], ["function", "stats"], ["function", "kill"],
            ["function", "load", "#!lua name=lib2\nredis.register_function('f2', function() return redis.call('ping') end)"],
            ["fcall", "f2", "0"], ["function", "delete", "mylib"], ["fcall", "myfunc", "0"], ["function", "list"],
            ["function", "restore", "bogus"], ["function", "flush", "bogus"], ["function", "flush"], ["fcall", "f2", "0"],
        ]
        var outputs = [[String]]()
        for s in [try RedisOracle(), try startStrata()] {
            defer { s.stop() }
            outputs.append(try steps.map { try s.cmd(["--no-raw"] + $0) })
        }
        for (i, step) in steps.enumerated() where outputs[0][i] != outputs[1][i] {
            XCTFail("\(step):\nredis:  \(outputs[0][i])\nstrata: \(outputs[1][i])")
        }
    }

    /// Functions travel with the data: an RDB from redis-server serves FCALL in strata serve and
    /// strata's RDB in redis-server; FUNCTION DUMP payloads restore both ways; a FUNCTION LOAD
    /// in strata's AOF is there after a restart.
    func testFunctionsPersistAndMoveBetweenServers() throws {
        let redis = try RedisOracle()
        defer { redis.stop() }
        XCTAssertEqual(try redis.cmd("function", "load", ScriptingTests.library), "mylib")
        XCTAssertEqual(try redis.cmd("save"), "OK")
        let d1 = makeTempDir()
        try FileManager.default.copyItem(atPath: redis.dir + "/dump.rdb", toPath: d1 + "/dump.rdb")
        let strata = try RedisOracle(server: strataPath, dir: d1, leading: ["serve"])
        defer { strata.stop() }
        XCTAssertEqual(try strata.cmd("fcall", "myfunc", "1", "k", "from-redis-rdb"), "OK")
        XCTAssertEqual(try strata.cmd("fcall_ro", "ro", "1", "k"), "from-redis-rdb")
        XCTAssertEqual(try strata.cmd("function", "load", "#!lua name=lib2\nredis.register_function('f2', function() return 'strata' end)"), "lib2")
        XCTAssertEqual(try strata.cmd("save"), "OK")
        let d2 = makeTempDir()
        try FileManager.default.copyItem(atPath: d1 + "/dump.rdb", toPath: d2 + "/dump.rdb")
        let redis2 = try RedisOracle(dir: d2)
        defer { redis2.stop() }
        XCTAssertEqual(try redis2.cmd("fcall", "f2", "0"), "strata")
        XCTAssertEqual(try redis2.cmd("fcall_ro", "ro", "1", "k"), "from-redis-rdb")
        // DUMP / RESTORE both ways (the payload is binary: passed through redis-cli -x).
        for (from, to) in [(redis2, strata), (strata, redis)] {
            let payload = try runProcess(from.cli, ["-p", "\(from.port)", "--raw", "function", "dump"]).out.dropLast()
            _ = try to.cmd("function", "flush")
            let r = try runProcess(to.cli, ["-p", "\(to.port)", "-x", "function", "restore"], stdin: Data(payload))
            XCTAssertEqual(String(decoding: r.out, as: UTF8.self), "OK\n", r.err)
            XCTAssertEqual(try to.cmd("fcall", "f2", "0"), "strata")
        }
        XCTAssertTrue(try strata.cmd("function", "restore", "not-a-payload").hasPrefix("ERR"))
        // A FUNCTION LOAD in the AOF survives a restart.
        let aofServer = try RedisOracle(server: strataPath, leading: ["serve"], extra: ["--appendonly", "yes"])
        XCTAssertEqual(try aofServer.cmd("function", "load", "#!lua name=lib3\nredis.register_function('f3', function() return 3 end)"), "lib3")
        let dir = aofServer.dir
        aofServer.stop()
        let again = try RedisOracle(server: strataPath, dir: dir, leading: ["serve"], extra: ["--appendonly", "yes"])
        defer { again.stop() }
        XCTAssertEqual(try again.cmd("fcall", "f3", "0"), "3")
    }
}
