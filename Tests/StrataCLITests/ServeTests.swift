import Foundation
import XCTest
import StrataTestSupport
import StrataFormats

/// `strata serve` driven by real clients (redis-cli, redis-benchmark), with real redis-server as
/// the oracle for data and for the files it writes.
final class ServeTests: XCTestCase {
    /// A plain TCP connection to 127.0.0.1:port (optionally with a small receive buffer, so a
    /// client that stops reading fills the server's output buffer sooner).
    func rawConnection(_ port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw NSError(domain: "rawConnection", code: Int(errno)) }
        return fd
    }

    func startStrata(dir: String? = nil, leading: [String] = [], extra: [String] = []) throws -> RedisOracle {
        try RedisOracle(server: strataPath, dir: dir, leading: ["serve"] + leading, extra: extra)
    }

    /// Everything a fresh server ("redis" or "strata") answers to `script` (inline commands)
    /// on one raw connection: sent whole, or a line every 20 ms; read until 0.5 s of silence.
    func rawAnswers(server: String, script: String, oneAtATime: Bool) throws -> String {
        let o = server == "redis" ? try RedisOracle() : try startStrata()
        defer { o.stop() }
        let fd = try rawConnection(o.port)
        defer { close(fd) }
        var tv = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        for part in oneAtATime ? script.split(separator: "\r\n").map({ $0 + "\r\n" }) : [script] {
            _ = Array(part.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if oneAtATime { usleep(20_000) }
        }
        var got = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += buf[0..<n]
        }
        return String(decoding: got, as: UTF8.self)
    }

    /// The same random traffic over every type to strata serve and to redis-server: the same
    /// DEBUG DIGEST; then strata's SAVE loads in redis-server with that digest.
    func testSameTrafficSameDigestAndItsDumpLoadsInRedis() throws {
        var w = AOFWorkload(seed: 20261124)
        let cmds = w.batch(3000, streams: false)
        let data = respData(cmds)
        if let p = ProcessInfo.processInfo.environment["STRATA_DUMP_WORKLOAD"] { try data.write(to: URL(fileURLWithPath: p)) }
        let strata = try startStrata()
        defer { strata.stop() }
        let redis = try RedisOracle()
        defer { redis.stop() }
        _ = try strata.pipe(data)
        _ = try redis.pipe(data)
        let digest = try redis.cmd("debug", "digest")
        XCTAssertEqual(try strata.cmd("debug", "digest"), digest)
        if try strata.cmd("debug", "digest") != digest {
            for db in 0..<3 {
                for k in try redis.cmd("-n", "\(db)", "keys", "*").split(separator: "\n").map(String.init) {
                    let a = try redis.cmd("-n", "\(db)", "debug", "digest-value", k), b = try strata.cmd("-n", "\(db)", "debug", "digest-value", k)
                    if a != b { XCTFail("db \(db) key \(k): redis \(try redis.cmd("-n", "\(db)", "type", k)) \(a), strata \(b): \(try redis.cmd("-n", "\(db)", "hgetall", k)) vs \(try strata.cmd("-n", "\(db)", "hgetall", k)); ttl \(try redis.cmd("-n", "\(db)", "pttl", k)) vs \(try strata.cmd("-n", "\(db)", "pttl", k))"); return }
                }
            }
        }
        XCTAssertEqual(try strata.cmd("dbsize"), try redis.cmd("dbsize"))
        XCTAssertEqual(try strata.cmd("save"), "OK")
        let loaded = try RedisOracle.digest(ofRDB: strata.dir + "/dump.rdb")
        XCTAssertEqual(loaded.digest, digest)
    }

    /// A dump written by redis-server is served with the same digest, and BGSAVE (a forked
    /// child) writes a file redis-server loads back, while the server keeps answering.
    func testLoadsRedisDumpAndBackgroundSaves() throws {
        let d = makeTempDir()
        try FileManager.default.copyItem(atPath: fixture("redis-7.0-all-types.rdb"), toPath: d + "/dump.rdb")
        let expected = try String(contentsOfFile: fixture("redis-7.0-all-types.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let s = try startStrata(dir: d)
        defer { s.stop() }
        XCTAssertEqual(try s.cmd("debug", "digest"), expected)
        XCTAssertTrue(s.log.contains("DB loaded from disk"), s.log)
        try FileManager.default.removeItem(atPath: d + "/dump.rdb")
        let before = try s.cmd("lastsave")
        sleep(1)
        XCTAssertEqual(try s.cmd("bgsave"), "Background saving started")
        var done = false
        for _ in 0..<100 {
            XCTAssertEqual(try s.cmd("ping"), "PONG")
            if try s.cmd("lastsave") != before { done = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(done, "BGSAVE did not finish: \(s.log)")
        XCTAssertEqual(try RedisOracle.digest(ofRDB: d + "/dump.rdb").digest, expected)
        // The dump's function library survives the round trip (redis-server lists it).
        let back = makeTempDir()
        try FileManager.default.copyItem(atPath: d + "/dump.rdb", toPath: back + "/dump.rdb")
        let o = try RedisOracle(dir: back)
        defer { o.stop() }
        let list = try o.cmd("function", "list")
        XCTAssertTrue(list.contains("library_name"), list)
        XCTAssertEqual(try s.cmd("function", "flush"), "OK")
        XCTAssertEqual(try s.cmd("save"), "OK")
        XCTAssertTrue(try strata("rdb", "inspect", d + "/dump.rdb").out.count > 0)
    }

    /// The production redis.conf fixture, paths rewritten, overrides on the command line as
    /// redis-server takes them: renamed commands, values from the file, ignored directives named.
    func testStartsFromAProductionRedisConf() throws {
        let d = makeTempDir()
        var conf = try String(contentsOfFile: fixture("seed-redis.conf"), encoding: .utf8)
        conf = conf.replacingOccurrences(of: "/mnt/redis/redis_6379/data/", with: d)
            .replacingOccurrences(of: "/mnt/redis/redis_6379/logs/redis.log", with: d + "/file.log")
            .replacingOccurrences(of: "/mnt/redis/redis_6379/redis.pid", with: d + "/strata.pid")
        try conf.write(toFile: d + "/redis.conf", atomically: true, encoding: .utf8)
        // The file's own `appendonly yes` (appendfilename redis_6379.aof) is honoured.
        let s = try startStrata(dir: d, leading: [d + "/redis.conf"], extra: ["--appendonly", "yes"])
        defer { s.stop() }
        XCTAssertEqual(try s.cmd("set", "k", "v"), "OK")
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/appendonlydir/redis_6379.aof.manifest"))
        XCTAssertTrue(try s.cmd("info", "persistence").contains("aof_enabled:1"))
        XCTAssertTrue(try s.cmd("flushdb").hasPrefix("ERR unknown command 'flushdb'"))
        XCTAssertTrue(try s.cmd("keys", "*").hasPrefix("ERR unknown command"))
        XCTAssertEqual(try s.cmd("iss_flushdb"), "OK")
        XCTAssertEqual(try s.cmd("dbsize"), "0")
        XCTAssertEqual(try s.cmd("config", "get", "maxmemory-policy"), "maxmemory-policy\nvolatile-lru")
        XCTAssertEqual(try s.cmd("config", "get", "timeout"), "timeout\n600")
        XCTAssertTrue(s.log.contains("accepted and ignored"), s.log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/strata.pid"))
    }

    /// Bad configuration stops startup with redis-server's text and line number.
    func testUnknownDirectiveFailsLikeRedis() throws {
        let d = makeTempDir()
        try "port 7000\nbogus-directive 1\n".write(toFile: d + "/bad.conf", atomically: true, encoding: .utf8)
        let r = try strata("serve", d + "/bad.conf")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"), r.err)
        XCTAssertTrue(r.err.contains("at line 2"), r.err)
        XCTAssertTrue(r.err.contains(">>> 'bogus-directive 1'"), r.err)
        XCTAssertTrue(r.err.contains("Bad directive or wrong number of arguments"), r.err)
        let r2 = try strata("serve", "--port", "notaport")
        XCTAssertEqual(r2.status, 1)
        XCTAssertTrue(r2.err.contains("argument couldn't be parsed into an integer"), r2.err)
    }

    /// A damaged dump stops startup naming the file and offset; nothing is served.
    /// A plain set (RDB type 2) that repeats a member, as text and as an integer: redis-server
    /// refuses it ("Duplicate set members detected"), and so does strata serve, naming the
    /// member and the offset (the loader's own set finds the repeat).
    func testRepeatedSetMemberStopsStartupAsInRedis() throws {
        for (members, shown) in [(["ab", "cd", "ab"], "\"ab\""), (["12", "5", "12"], "\"12\"")] {
            let d = makeTempDir()
            var rdb = Array("REDIS0009".utf8) + [0xFE, 0x00, 0x02, 0x01, UInt8(ascii: "s"), UInt8(members.count)]
            for m in members { rdb += [UInt8(m.utf8.count)] + Array(m.utf8) }
            rdb += [0xFF] + [UInt8](repeating: 0, count: 8)   // no checksum
            try Data(rdb).write(to: URL(fileURLWithPath: d + "/dump.rdb"))
            let r = try strata("serve", "--port", "\(freeLoopbackPort())", "--dir", d, "--save", "")
            XCTAssertEqual(r.status, 1)
            let log = String(decoding: r.out, as: UTF8.self) + r.err
            XCTAssertTrue(log.contains("duplicate set member \(shown)") && log.contains("offset"), log)
            XCTAssertThrowsError(try RedisOracle(dir: d), "redis-server loads a set with a repeated member")
        }
    }

    func testDamagedDumpStopsStartup() throws {
        let d = makeTempDir()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("redis-7.0-all-types.rdb")))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: d + "/dump.rdb"))
        let r = try strata("serve", "--port", "\(freeLoopbackPort())", "--dir", d, "--save", "")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.out.count + r.err.count > 0)
        let log = String(decoding: r.out, as: UTF8.self) + r.err
        XCTAssertTrue(log.contains("dump.rdb") && log.contains("offset"), log)
        XCTAssertTrue(log.contains("Fatal error loading the DB"), log)
    }

    /// SIGTERM with save points saves before exiting, as redis-server does.
    func testSigtermSavesWhenSavePointsAreSet() throws {
        let s = try startStrata(extra: ["--save", "3600 1"])
        XCTAssertEqual(try s.cmd("set", "x", "1"), "OK")
        s.process.terminate()   // SIGTERM
        s.process.waitUntilExit()
        XCTAssertEqual(s.process.terminationStatus, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.dir + "/dump.rdb"), s.log)
        XCTAssertTrue(s.log.contains("Received SIGTERM"), s.log)
    }

    /// A protocol error closes that client only; pipelined clients and redis-benchmark work.
    func testProtocolErrorAndBenchmark() throws {
        let s = try startStrata()
        defer { s.stop() }
        // A raw connection: the error reply, then the server closes it.
        let bad = try runProcess("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(s.port); printf '*1\\r\\n$x\\r\\n' >&3; timeout 5 cat <&3"])
        XCTAssertEqual(String(decoding: bad.out, as: UTF8.self), "-ERR Protocol error: invalid bulk length\r\n")
        XCTAssertEqual(try s.cmd("ping"), "PONG")
        guard let bench = which("redis-benchmark") else { throw XCTSkip("redis-benchmark missing") }
        let r = try runProcess(bench, ["-p", "\(s.port)", "-q", "-n", "2000", "-c", "10", "-P", "8", "-t", "set,get,incr,lpush,sadd,hset,zadd,lrange_100,mset"])
        XCTAssertEqual(r.status, 0, r.err)
        let out = String(decoding: r.out, as: UTF8.self)
        for t in ["SET:", "GET:", "INCR:", "LPUSH:", "SADD:", "HSET:", "ZADD:", "LRANGE_100 (first 100 elements):", "MSET (10 keys):"] {
            XCTAssertTrue(out.contains(t), "\(t) missing in \(out)")
        }
        XCTAssertGreaterThanOrEqual(Int(try s.cmd("llen", "mylist")) ?? 0, 2000)
        XCTAssertEqual(try s.cmd("multi"), "OK")
    }

    /// WATCH/MULTI/EXEC as redis-server answers them, one connection per script (redis-cli
    /// reading stdin), and a write from another connection aborting a transaction.
    func testWatchAndTransactionsAnswerLikeRedis() throws {
        let s = try startStrata()
        defer { s.stop() }
        let redis = try RedisOracle()
        defer { redis.stop() }
        let scripts = [
            "MULTI\nWATCH x\nSET a 1\nEXEC\n",
            "SET x 1\nWATCH x\nSET x 2\nMULTI\nSET a 1\nEXEC\nGET a\n",
            "WATCH nokey\nFLUSHALL\nMULTI\nPING\nEXEC\n",
            "SET x 1\nWATCH x\nFLUSHALL\nMULTI\nPING\nEXEC\n",
            "SET y 1\nWATCH y\nUNWATCH\nSET y 2\nMULTI\nINCR y\nEXEC\n",
            "WATCH w\nMULTI\nSET w 1\nEXEC\nMULTI\nSET w 2\nEXEC\n",
            "MULTI\nSET k v\nNOSUCHCOMMAND\nEXEC\nGET k\n",
            "MULTI\nMULTI\nDISCARD\nDISCARD\nEXEC\n",
            "SET q 1\nSELECT 1\nWATCH q\nSELECT 0\nSET q 2\nSELECT 1\nMULTI\nPING\nEXEC\n",
        ]
        for script in scripts {
            func run(_ o: RedisOracle) throws -> String {
                _ = try o.cmd("flushall")
                return String(decoding: try runProcess(o.cli, ["-p", "\(o.port)"], stdin: Data(script.utf8)).out, as: UTF8.self)
            }
            XCTAssertEqual(try run(s), try run(redis), script)
        }
        // Another connection's write to a watched key aborts the transaction.
        let a = try runProcess("/bin/bash", ["-c", """
            exec 3<>/dev/tcp/127.0.0.1/\(s.port)
            printf 'WATCH shared\\r\\n' >&3; read -r l <&3
            redis-cli -p \(s.port) set shared changed >/dev/null
            printf 'MULTI\\r\\nSET shared mine\\r\\nEXEC\\r\\n' >&3
            read -r a <&3; read -r b <&3; read -r c <&3; echo "$l $a $b $c"
            """])
        XCTAssertEqual(String(decoding: a.out, as: UTF8.self).replacingOccurrences(of: "\r", with: ""), "+OK +OK +QUEUED *-1\n")
        XCTAssertEqual(try s.cmd("get", "shared"), "changed")
    }

    /// A unix socket (as `unixsocket`/`unixsocketperm`), and rdbcompression/rdbchecksum off
    /// giving a dump redis-server still loads (with its zero checksum).
    func testUnixSocketAndRdbOptions() throws {
        let d = makeTempDir()
        let sock = d + "/strata.sock"
        let s = try startStrata(dir: d, extra: ["--unixsocket", sock, "--unixsocketperm", "700", "--rdbcompression", "no", "--rdbchecksum", "no"])
        defer { s.stop() }
        let r = try runProcess(s.cli, ["-s", sock, "set", "viaunix", String(repeating: "z", count: 200)])
        XCTAssertEqual(String(decoding: r.out, as: UTF8.self), "OK\n")
        var st = stat()
        XCTAssertEqual(stat(sock, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertEqual(try s.cmd("save"), "OK")
        let dump = try Data(contentsOf: URL(fileURLWithPath: d + "/dump.rdb"))
        XCTAssertEqual(Array(dump.suffix(8)), [UInt8](repeating: 0, count: 8), "rdbchecksum no writes a zero checksum")
        XCTAssertNotNil(dump.range(of: Data(String(repeating: "z", count: 200).utf8)), "rdbcompression no keeps the string as is")
        XCTAssertEqual(try RedisOracle.digest(ofRDB: d + "/dump.rdb").digest, try s.cmd("debug", "digest"))
    }

    /// Blocking pops: a waiter is served by a later push (oldest waiter first), a timeout
    /// replies nil after about its time, MULTI does not wait; the same script against
    /// redis-server prints the same.
    func testBlockingPopsLikeRedis() throws {
        let s = try startStrata()
        defer { s.stop() }
        let redis = try RedisOracle()
        defer { redis.stop() }
        func script(_ port: Int) -> String {
            """
            cli() { \(s.cli) -p \(port) "$@"; }
            cli del q z src dst >/dev/null
            cli blpop q 5 > first.out & sleep 0.6
            cli brpop q 5 > second.out & sleep 0.6
            cli rpush q a b c >/dev/null; wait
            cat first.out second.out; cli lrange q 0 -1
            cli bzpopmin z 5 > z.out & sleep 0.6; cli zadd z 2 two 1 one >/dev/null; wait; cat z.out
            cli brpoplpush src dst 5 > m.out & sleep 0.6; cli rpush src x >/dev/null; wait; cat m.out; cli lrange dst 0 -1
            start=$(date +%s%N); cli blpop nothing 0.5; end=$(date +%s%N); echo "waited $(( (end - start) / 100000000 ))"
            printf 'MULTI\\nBLPOP nothing 0\\nEXEC\\n' | cli
            cli blmpop 0.1 2 nothing q left count 5
            # A transaction is served as a whole: a push deleted (or replaced by a string) in the
            # same EXEC wakes nobody; the waiter gets what the next push brings.
            cli del w >/dev/null; cli blpop w 5 > w.out & sleep 0.6
            printf 'MULTI\\nLPUSH w a\\nDEL w\\nSET w str\\nEXEC\\nDEL w\\nLPUSH w b\\n' | cli >/dev/null; wait; cat w.out
            # A push made by a served BRPOPLPUSH touches its destination for WATCH.
            cli del s2 d2 >/dev/null; cli brpoplpush s2 d2 5 >/dev/null & sleep 0.6
            { printf 'WATCH d2\\nMULTI\\nGET d2\\n'; sleep 0.3; printf 'EXEC\\n'; } | cli > x.out & sleep 0.15; cli lpush s2 e >/dev/null; wait; cat x.out
            # CLIENT UNBLOCK, with its timeout reply and with the error.
            cli blpop u 5 > u1.out & sleep 0.6; cli client unblock $(cli client list | grep 'cmd=blpop' | sed 's/^id=\\([0-9]*\\).*/\\1/') timeout; wait; cat u1.out
            cli blpop u 5 > u2.out & sleep 0.6; cli client unblock $(cli client list | grep 'cmd=blpop' | sed 's/^id=\\([0-9]*\\).*/\\1/') error; wait; cat u2.out
            """
        }
        func run(_ port: Int) throws -> String {
            let d = makeTempDir()
            let r = try runProcess("/bin/bash", ["-c", "cd \(d) && " + script(port)])
            return String(decoding: r.out, as: UTF8.self)
        }
        let ours = try run(s.port), theirs = try run(redis.port)
        // The measured wait (tenths of a second) depends on machine load: checked apart.
        func withoutWait(_ t: String) -> String { t.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("waited") }.joined(separator: "\n") }
        XCTAssertEqual(withoutWait(ours), withoutWait(theirs))
        XCTAssertTrue(ours.contains("q\na\nq\nc\nb\n"), ours)
        let waited = ours.split(separator: "\n").first { $0.hasPrefix("waited ") }.flatMap { Int($0.dropFirst(7)) } ?? -1
        XCTAssertTrue((5...9).contains(waited), "a 0.5 s timeout waited \(waited) tenths")
    }

    /// A client blocked in XREADGROUP whose stream is deleted, overwritten, flushed or swapped
    /// away is told so at once (Redis 7.0's -UNBLOCKED error), and one whose group is destroyed
    /// gets NOGROUP, as redis-server does.
    func testBlockedGroupReaderLearnsItsStreamIsGoneLikeRedis() throws {
        var seen = [[String]]()
        for server in ["redis", "strata"] {
            let o = server == "redis" ? try RedisOracle() : try startStrata()
            defer { o.stop() }
            var got = [String]()
            for how in [["del", "s"], ["set", "s", "x"], ["flushdb"], ["swapdb", "0", "9"], ["xgroup", "destroy", "s", "g"], ["xadd", "other", "*", "f", "v"]] {
                _ = try o.cmd("flushall")
                _ = try o.cmd("xadd", "s", "666", "f", "v")
                _ = try o.cmd("xgroup", "create", "s", "g", "$")
                let fd = try rawConnection(o.port)
                var tv = timeval(tv_sec: 0, tv_usec: 300_000)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                _ = Array("XREADGROUP GROUP g alice BLOCK 0 STREAMS s >\r\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                _ = poll { (try? o.cmd("client", "list"))?.contains("cmd=xreadgroup") == true }
                _ = try o.cmd(how)
                var buf = [UInt8](repeating: 0, count: 512)
                let n = read(fd, &buf, buf.count)
                got.append(how[0] + ": " + (n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : "(still waiting)"))
                close(fd)
            }
            seen.append(got)
        }
        XCTAssertEqual(seen[0], seen[1])
        XCTAssertTrue(seen[0][0].contains("UNBLOCKED the stream key no longer exists"), "\(seen[0])")
        XCTAssertTrue(seen[0][4].contains("NOGROUP"), "\(seen[0])")
        XCTAssertTrue(seen[0][5].contains("still waiting"), "\(seen[0])")
    }

    /// (Un)subscribe confirmations pass CLIENT REPLY OFF and SKIP, in RESP2 and RESP3, byte for
    /// byte as redis-server sends them (other replies stay silent).
    func testSubscribeConfirmationsUnderClientReplyOffLikeRedis() throws {
        for script in ["CLIENT REPLY OFF\r\nSUBSCRIBE a\r\nPING\r\nPSUBSCRIBE b*\r\nUNSUBSCRIBE a\r\nPUNSUBSCRIBE\r\nCLIENT REPLY ON\r\nPING\r\n",
                       "HELLO 3\r\nCLIENT REPLY SKIP\r\nSUBSCRIBE a\r\nCLIENT REPLY OFF\r\nPSUBSCRIBE b*\r\nGET x\r\nPUNSUBSCRIBE b*\r\nCLIENT REPLY ON\r\nGET x\r\n"] {
            let clean = { (s: String) in s.replacingOccurrences(of: #"\$\d+\r\n7\.0\.\d+|proto.*"#, with: "", options: .regularExpression) }
            let strata = try rawAnswers(server: "strata", script: script, oneAtATime: true)
            let redis = try rawAnswers(server: "redis", script: script, oneAtATime: true)
            XCTAssertEqual(clean(strata).components(separatedBy: "subscribe").count, clean(redis).components(separatedBy: "subscribe").count, strata)
            XCTAssertEqual(strata.suffix(120), redis.suffix(120))
            XCTAssertTrue(redis.contains("psubscribe"), redis)
        }
    }

    /// Pub/sub in RESP2: the raw replies of subscribe-mode scripts are redis-server's byte for
    /// byte, and PUBLISH reaches channel and pattern subscribers on other connections.
    func testPubSubLikeRedis() throws {
        let s = try startStrata()
        defer { s.stop() }
        let redis = try RedisOracle()
        defer { redis.stop() }
        func raw(_ port: Int, _ commands: String) throws -> String {
            let r = try runProcess("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf '\(commands)' >&3; timeout 0.5 cat <&3"])
            return String(decoding: r.out, as: UTF8.self)
        }
        for script in [
            "SUBSCRIBE a\\r\\nSUBSCRIBE a b\\r\\nPING\\r\\nPING hi\\r\\nGET x\\r\\nUNSUBSCRIBE b\\r\\nUNSUBSCRIBE\\r\\nPING\\r\\n",
            "PSUBSCRIBE n*\\r\\nPUNSUBSCRIBE n* zz\\r\\nUNSUBSCRIBE\\r\\nPUNSUBSCRIBE\\r\\n",
            "PUBSUB NUMSUB a b\\r\\nPUBSUB NUMPAT\\r\\nPUBLISH nobody hi\\r\\n",
        ] {
            XCTAssertEqual(try raw(s.port, script), try raw(redis.port, script), script)
        }
        let d = makeTempDir()
        let r = try runProcess("/bin/bash", ["-c", """
            cd \(d)
            (exec 3<>/dev/tcp/127.0.0.1/\(s.port); printf 'SUBSCRIBE news\\r\\n' >&3; timeout 2 cat <&3 > sub.out) &
            (exec 4<>/dev/tcp/127.0.0.1/\(s.port); printf 'PSUBSCRIBE n*\\r\\n' >&4; timeout 2 cat <&4 > psub.out) &
            sleep 0.6
            \(s.cli) -p \(s.port) publish news hello
            \(s.cli) -p \(s.port) pubsub channels
            wait
            cat sub.out psub.out
            """])
        let out = String(decoding: r.out, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
        XCTAssertTrue(out.hasPrefix("2\nnews\n"), out)
        XCTAssertTrue(out.contains("*3\n$7\nmessage\n$4\nnews\n$5\nhello"), out)
        XCTAssertTrue(out.contains("*4\n$8\npmessage\n$2\nn*\n$4\nnews\n$5\nhello"), out)
    }

    /// XREAD BLOCK with "$" waits for entries added after the call; XREADGROUP BLOCK with ">"
    /// is served by the next XADD; a timeout replies nil; the same script against redis-server
    /// prints the same.
    func testStreamBlockingReadsLikeRedis() throws {
        let s = try startStrata()
        defer { s.stop() }
        let redis = try RedisOracle()
        defer { redis.stop() }
        func run(_ port: Int) throws -> String {
            let d = makeTempDir()
            let script = """
                cd \(d); cli() { \(s.cli) -p \(port) "$@"; }
                cli del st >/dev/null; cli xadd st 1-1 f old >/dev/null
                cli xread block 5000 streams st '$' > a.out & sleep 0.6
                cli xadd st 2-1 f new >/dev/null; wait; cat a.out
                cli xgroup create st g '$' >/dev/null
                cli xreadgroup group g alice block 5000 streams st '>' > b.out & sleep 0.6
                cli xadd st 3-1 f third >/dev/null; wait; cat b.out
                cli xpending st g
                cli xread block 200 streams st '$'
                printf 'MULTI\\nXREAD BLOCK 0 STREAMS st $\\nEXEC\\n' | cli
                """
            return String(decoding: try runProcess("/bin/bash", ["-c", script]).out, as: UTF8.self)
        }
        let ours = try run(s.port), theirs = try run(redis.port)
        XCTAssertEqual(ours, theirs)
        XCTAssertTrue(ours.contains("2-1") && ours.contains("third"), ours)
    }

    // MARK: append-only file

    /// The same traffic into redis-server and strata serve, both with appendonly yes and a
    /// BGREWRITEAOF in the middle: each starts from the other's appendonlydir with the same
    /// digest, and from its own.
    func testAppendOnlyFileAgreesWithRedisBothWays() throws {
        let rd = makeTempDir(), sd = makeTempDir()
        let aofArgs = ["--appendonly", "yes", "--aof-timestamp-enabled", "yes"]
        let r = try RedisOracle(dir: rd, extra: aofArgs)
        let st = try startStrata(dir: sd, extra: aofArgs)
        for (i, o) in [r, st].enumerated() {
            try burst(o, 150, tag: "a")
            XCTAssertTrue(try o.cmd("bgrewriteaof").contains("started"), "server \(i)")
            try o.waitForAOFRewrite()
            try burst(o, 100, tag: "b")
            _ = try o.cmd("set", "ttl", "v", "ex", "1000")
            _ = try o.cmd("expire", "s:a:3", "1000")
        }
        // (XADD * makes different IDs on the two servers: each server's own digest is the reference.)
        let redisDigest = try r.cmd("debug", "digest")
        let digest = try st.cmd("debug", "digest")
        r.stop(); st.stop()
        let strataDirCopy = makeTempDir(), redisDirCopy = makeTempDir()
        try FileManager.default.copyItem(atPath: sd + "/appendonlydir", toPath: strataDirCopy + "/appendonlydir")
        try FileManager.default.copyItem(atPath: rd + "/appendonlydir", toPath: redisDirCopy + "/appendonlydir")
        let redisOnStrata = try RedisOracle(dir: strataDirCopy, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try redisOnStrata.cmd("debug", "digest"), digest, "redis-server loading strata's AOF")
        redisOnStrata.stop()
        let strataOnRedis = try startStrata(dir: redisDirCopy, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try strataOnRedis.cmd("debug", "digest"), redisDigest, "strata loading redis-server's AOF")
        strataOnRedis.stop()
        let again = try startStrata(dir: sd, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try again.cmd("debug", "digest"), digest, "strata restarting from its own AOF")
        // The rewrite left one base and one incr file (history deleted).
        let files = try FileManager.default.contentsOfDirectory(atPath: sd + "/appendonlydir").sorted()
        XCTAssertEqual(files, ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"])
        again.stop()
    }

    /// `aof-use-rdb-preamble no`: BGREWRITEAOF writes the dataset as commands (a `.base.aof`
    /// file, as redis-server names it), with a stream's groups and pending entries, expiries and
    /// a function library; redis-server starts from it with strata's digest and vice versa.
    func testCommandBaseWithoutRDBPreambleAgreesWithRedis() throws {
        let rd = makeTempDir(), sd = makeTempDir()
        let aofArgs = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"]
        let r = try RedisOracle(dir: rd, extra: aofArgs)
        let st = try startStrata(dir: sd, extra: aofArgs)
        for (i, o) in [r, st].enumerated() {
            try burst(o, 120, tag: "a")
            _ = try o.cmd("function", "load", "#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            _ = try o.cmd("xgroup", "create", "x:0", "g", "0")
            _ = try o.cmd("xreadgroup", "group", "g", "alice", "count", "3", "streams", "x:0", ">")
            _ = try o.cmd("set", "ttl", "v", "ex", "1000")
            XCTAssertTrue(try o.cmd("bgrewriteaof").contains("started"), "server \(i)")
            try o.waitForAOFRewrite()
            try burst(o, 30, tag: "b")
        }
        let redisDigest = try r.cmd("debug", "digest")
        let digest = try st.cmd("debug", "digest")
        r.stop(); st.stop()
        let ours = try FileManager.default.contentsOfDirectory(atPath: sd + "/appendonlydir").sorted()
        let theirs = try FileManager.default.contentsOfDirectory(atPath: rd + "/appendonlydir").sorted()
        XCTAssertEqual(ours, theirs)
        XCTAssertEqual(ours, ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"])
        let base = try Data(contentsOf: URL(fileURLWithPath: sd + "/appendonlydir/appendonly.aof.2.base.aof"))
        XCTAssertEqual(base.first, UInt8(ascii: "*"), "a command base, not an RDB")
        let strataDirCopy = makeTempDir(), redisDirCopy = makeTempDir()
        try FileManager.default.copyItem(atPath: sd + "/appendonlydir", toPath: strataDirCopy + "/appendonlydir")
        try FileManager.default.copyItem(atPath: rd + "/appendonlydir", toPath: redisDirCopy + "/appendonlydir")
        let redisOnStrata = try RedisOracle(dir: strataDirCopy, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try redisOnStrata.cmd("debug", "digest"), digest, "redis-server loading strata's command base")
        XCTAssertEqual(try redisOnStrata.cmd("fcall", "f", "0"), "1")
        XCTAssertTrue(try redisOnStrata.cmd("xpending", "x:0", "g").contains("alice"))
        redisOnStrata.stop()
        let strataOnRedis = try startStrata(dir: redisDirCopy, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try strataOnRedis.cmd("debug", "digest"), redisDigest, "strata loading redis-server's command base")
        strataOnRedis.stop()
    }

    /// kill -9 at random moments while three clients increment their own counters (appendfsync
    /// always, automatic rewrites on): every increment a client saw acknowledged survives.
    func testKillNineLosesNoAcknowledgedWrite() throws {
        guard let cli = which("redis-cli") else { throw XCTSkip("redis-cli not installed") }
        let d = makeTempDir()
        let args = ["--appendonly", "yes", "--appendfsync", "always", "--auto-aof-rewrite-min-size", "32kb", "--auto-aof-rewrite-percentage", "50"]
        let sent = 3000
        let counters = ["ctr:a", "ctr:b", "ctr:c"]
        for k in counters { try String(repeating: "INCR \(k)\n", count: sent).write(toFile: d + "/\(k).txt", atomically: true, encoding: .utf8) }
        var rng = TestRNG()
        var expected = [String: Int]()
        var kills = 0
        for round in 0..<22 {
            let s = try startStrata(dir: d, extra: args)
            var before = [String: Int]()
            for k in counters {
                before[k] = Int(try s.cmd("get", k)) ?? 0
                XCTAssertGreaterThanOrEqual(before[k]!, expected[k] ?? 0, "round \(round): acknowledged increments of \(k) were lost")
            }
            // Each client sends its commands one by one; its output lines are the acknowledgements.
            var procs = [(Process, String, String)]()
            for k in counters {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: cli)
                p.arguments = ["-p", "\(s.port)"]
                p.standardInput = FileHandle(forReadingAtPath: d + "/\(k).txt")
                let outPath = d + "/out-\(round)-\(k).txt"
                FileManager.default.createFile(atPath: outPath, contents: nil)
                p.standardOutput = FileHandle(forWritingAtPath: outPath)
                p.standardError = FileHandle.nullDevice
                try p.run()
                procs.append((p, outPath, k))
            }
            usleep(useconds_t(Int.random(in: 20_000...250_000, using: &rng)))
            kill(s.process.processIdentifier, SIGKILL)
            s.process.waitUntilExit()
            kills += 1
            for (p, outPath, k) in procs {
                p.waitUntilExit()
                let acked = (try String(contentsOfFile: outPath, encoding: .utf8)).split(separator: "\n").compactMap { Int($0) }.last
                XCTAssertLessThanOrEqual(acked ?? 0, before[k]! + sent)
                expected[k] = max(expected[k] ?? 0, acked ?? before[k]!)
            }
        }
        let s = try startStrata(dir: d, extra: args)
        for k in counters { XCTAssertGreaterThanOrEqual(Int(try s.cmd("get", k)) ?? 0, expected[k] ?? 0, k) }
        XCTAssertTrue(try s.cmd("info", "persistence").contains("aof_enabled:1"))
        s.stop()
        XCTAssertGreaterThanOrEqual(kills, 20)
    }

    /// CONFIG SET appendonly yes/no on a running server, and a Redis 6 single-file AOF upgraded
    /// at startup as Redis 7.0 does it; redis-server loads both results with the same digest.
    func testAppendonlyAtRuntimeAndLegacyUpgrade() throws {
        let d = makeTempDir()
        let st = try startStrata(dir: d)
        try burst(st, 50, tag: "off")
        XCTAssertEqual(try st.cmd("config", "set", "appendonly", "yes"), "OK")
        try burst(st, 50, tag: "on")
        XCTAssertEqual(try st.cmd("config", "set", "appendonly", "no"), "OK")
        _ = try st.cmd("set", "lost-when-off", "1")
        XCTAssertEqual(try st.cmd("config", "set", "appendonly", "yes"), "OK")
        try burst(st, 20, tag: "again")
        let digest = try st.cmd("debug", "digest")
        st.stop()
        let copy = makeTempDir()
        try FileManager.default.copyItem(atPath: d + "/appendonlydir", toPath: copy + "/appendonlydir")
        let r = try RedisOracle(dir: copy, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try r.cmd("debug", "digest"), digest)
        r.stop()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d + "/appendonlydir").sorted(),
                       ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"])
        // A legacy appendonly.aof (with an RDB preamble, as Redis 6 wrote it).
        let legacy = makeTempDir()
        let src = try RedisOracle(dir: legacy)
        try burst(src, 40, tag: "legacy")
        let want = try src.cmd("debug", "digest")
        _ = try src.cmd("save")
        src.stop()
        let rdb = try Data(contentsOf: URL(fileURLWithPath: legacy + "/dump.rdb"))
        let tail = Data("*3\r\n$3\r\nSET\r\n$4\r\ntail\r\n$1\r\n1\r\n".utf8)
        let a = makeTempDir(), b = makeTempDir()
        for dir in [a, b] { try (rdb + tail).write(to: URL(fileURLWithPath: dir + "/appendonly.aof")) }
        let s2 = try startStrata(dir: a, extra: ["--appendonly", "yes"])
        let r2 = try RedisOracle(dir: b, extra: ["--appendonly", "yes"])
        XCTAssertEqual(try s2.cmd("debug", "digest"), try r2.cmd("debug", "digest"))
        XCTAssertNotEqual(try s2.cmd("debug", "digest"), want, "the tail command is there too")
        XCTAssertEqual(try s2.cmd("get", "tail"), "1")
        s2.stop(); r2.stop()
        XCTAssertTrue(FileManager.default.fileExists(atPath: a + "/appendonlydir/appendonly.aof.manifest"))
    }

    /// SLOWLOG records what Redis records: trimmed arguments, queued commands of EXEC, LEN/RESET.
    func testSlowlogLikeRedis() throws {
        let r = try RedisOracle(extra: ["--slowlog-log-slower-than", "0"])
        let st = try startStrata(extra: ["--slowlog-log-slower-than", "0"])
        defer { r.stop(); st.stop() }
        var seen = [[String]]()
        for o in [r, st] {
            _ = try o.cmd("slowlog", "reset")
            _ = try o.cmd(["sadd", "set"] + (3...33).map(String.init))
            _ = try o.cmd("sadd", "set", "foo", String(repeating: "A", count: 129))
            var lines = [try o.cmd("slowlog", "len")]
            // The three newest entries without what differs between servers (ids, times,
            // durations, client address): the arguments, in order.
            let get = try o.cmd("slowlog", "get", "3")
            lines += get.split(separator: "\n").map(String.init).filter { Int($0) == nil && !$0.hasPrefix("127.0.0.1:") && !$0.isEmpty }
            _ = try o.cmd("slowlog", "reset")
            lines.append(try o.cmd("slowlog", "len"))
            seen.append(lines)
        }
        XCTAssertEqual(seen[1], seen[0])
        XCTAssertTrue(seen[0].joined().contains("... (2 more arguments)"), "\(seen[0])")
    }

    /// MONITOR shows what redis-server shows: executed commands with their db, queued ones when
    /// EXEC runs them, arguments quoted as sdscatrepr, AUTH redacted.
    func testMonitorLikeRedis() throws {
        var outputs = [[String]]()
        for server in ["redis", "strata"] {
            let o = server == "redis" ? try RedisOracle() : try startStrata()
            defer { o.stop() }
            let out = makeTempDir() + "/monitor.txt"
            FileManager.default.createFile(atPath: out, contents: nil)
            let m = Process()
            m.executableURL = URL(fileURLWithPath: o.cli)
            m.arguments = ["-p", "\(o.port)", "monitor"]
            m.standardOutput = FileHandle(forWritingAtPath: out)
            try m.run()
            usleep(300_000)
            _ = try runProcess(o.cli, ["-p", "\(o.port)"], stdin: Data("SET a \"x\\ty\"\nMULTI\nINCR c\nSET b 2\nEXEC\nGET a\nAUTH foo\nSELECT 2\nRPUSH l \"\\x00\\xff\"\nEVAL \"return redis.call('set','s','v')\" 0\n".utf8))
            usleep(300_000)
            m.terminate(); m.waitUntilExit()
            let lines = (try String(contentsOfFile: out, encoding: .utf8)).split(separator: "\n").map { line -> String in
                // Drop the time and the client address: "[db addr]" -> "[db]".
                guard let open = line.firstIndex(of: "["), let space = line[open...].firstIndex(of: " "), let close = line.firstIndex(of: "]") else { return String(line) }
                return String(line[open..<space]) + String(line[close...])
            }
            outputs.append(lines.filter { !$0.contains("\"COMMAND\"") })
        }
        XCTAssertEqual(outputs[1], outputs[0])
        XCTAssertTrue(outputs[0].contains("[2] \"RPUSH\" \"l\" \"\\x00\\xff\""), "\(outputs[0])")
        // A script's commands follow the script, shown as the lua client's.
        XCTAssertEqual(outputs[0].suffix(2).map { $0.hasPrefix("[2]") }, [true, true], "\(outputs[0])")
        XCTAssertTrue(outputs[0].last?.hasSuffix("\"set\" \"s\" \"v\"") == true, "\(outputs[0])")
    }

    /// `strata serve --replicaof` and REPLICAOF against a real redis-server master, next to a
    /// real redis-server replica of the same master: the full resynchronisation (diskless and
    /// from disk) and the command stream give all three the same DEBUG DIGEST, the replication
    /// offset equals the master's, writes are refused with Redis's READONLY, a master that goes
    /// away and comes back is followed again, REPLICAOF NO ONE makes the replica writable.
    func testReplicatesFromARedisMasterLikeARedisReplica() throws {
        let master = try RedisOracle(extra: ["--repl-diskless-sync-delay", "0"])
        defer { master.stop() }
        _ = try master.pipe(Data((0..<3000).map { "SET k\($0) v\($0)\r\nRPUSH l\($0 % 50) \($0)\r\nHSET h\($0 % 40) f\($0) \($0)\r\nZADD z \($0) m\($0)\r\n" }.joined().utf8))
        _ = try master.cmd("expire", "k1", "1000")
        let redisReplica = try RedisOracle(extra: ["--replicaof", "127.0.0.1", "\(master.port)"])
        defer { redisReplica.stop() }
        let strata = try startStrata(extra: ["--replicaof", "127.0.0.1", "\(master.port)"])
        defer { strata.stop() }
        func linkUp(_ o: RedisOracle) throws -> Bool { try o.cmd("info", "replication").contains("master_link_status:up") }
        func waitInSync() throws {
            // WAIT for both replicas to acknowledge the master's offset, then compare offsets.
            XCTAssertTrue(try poll { try linkUp(strata) && linkUp(redisReplica) }, "a replica's link stayed down")
            _ = try master.cmd("wait", "2", "5000")
            for _ in 0..<60 {
                let want = try master.cmd("info", "replication").split(separator: "\n").first { $0.hasPrefix("master_repl_offset:") }
                let got = try strata.cmd("info", "replication").split(separator: "\n").first { $0.hasPrefix("master_repl_offset:") }
                if want == got { return }
                usleep(50_000)
            }
            XCTFail("strata's offset never reached the master's")
        }
        try waitInSync()
        XCTAssertEqual(try strata.cmd("debug", "digest"), try master.cmd("debug", "digest"))
        XCTAssertEqual(try redisReplica.cmd("debug", "digest"), try master.cmd("debug", "digest"))
        // The stream: transactions, scripts, other databases, expiry, deletions.
        _ = try master.pipe(Data(("MULTI\r\nINCR c\r\nLPUSH l1 x y\r\nEXEC\r\nSELECT 4\r\nSET other 1\r\nSELECT 0\r\n"
            + "EVAL \"redis.call('set','s','1'); return redis.call('del','k2')\" 0\r\nPEXPIRE k3 1\r\nZREM z m5\r\n"
            + (0..<2000).map { "INCRBY n \($0)\r\nSADD s\($0 % 7) \($0)\r\n" }.joined()).utf8))
        usleep(100_000)
        try waitInSync()
        let digest = try master.cmd("debug", "digest")
        XCTAssertEqual(try strata.cmd("debug", "digest"), digest)
        XCTAssertEqual(try redisReplica.cmd("debug", "digest"), digest)
        XCTAssertEqual(try strata.cmd("set", "x", "1"), try redisReplica.cmd("set", "x", "1"))
        XCTAssertTrue(try strata.cmd("set", "x", "1").hasPrefix("READONLY"))
        XCTAssertEqual(try strata.cmd("role").split(separator: "\n").prefix(4), try redisReplica.cmd("role").split(separator: "\n").prefix(4))
        // The master restarts from disk (a dump written by SAVE): both replicas follow it again.
        XCTAssertEqual(try master.cmd("config", "set", "repl-diskless-sync", "no"), "OK")
        _ = try master.cmd("set", "before-restart", "1")
        try waitInSync()
        _ = try master.cmd("client", "kill", "type", "replica")
        _ = try master.cmd("set", "after-kill", "2")
        try waitInSync()
        XCTAssertEqual(try strata.cmd("debug", "digest"), try master.cmd("debug", "digest"))
        XCTAssertEqual(try strata.cmd("get", "after-kill"), "2")
        // REPLICAOF NO ONE: writable, the data kept.
        XCTAssertEqual(try strata.cmd("replicaof", "no", "one"), "OK")
        XCTAssertEqual(try strata.cmd("set", "x", "1"), "OK")
        XCTAssertEqual(try strata.cmd("get", "after-kill"), "2")
        XCTAssertTrue(try strata.cmd("info", "replication").contains("role:master"))
    }

    /// The refusals a transaction meets answer byte for byte as redis-server's: SAVE and
    /// SHUTDOWN refused inside MULTI, NOREPLICAS under min-replicas-to-write, READONLY and
    /// MASTERDOWN on a replica whose master is unreachable, EXECABORT when EXEC itself is refused.
    func testRefusalsInAndOutOfTransactionsLikeRedis() throws {
        let script = "MULTI\r\nSAVE\r\nSHUTDOWN\r\nINCR a\r\nEXEC\r\n"
            + "CONFIG SET min-replicas-to-write 1\r\nSET a 1\r\nGET a\r\nMULTI\r\nINCR a\r\nEXEC\r\nCONFIG SET min-replicas-to-write 0\r\n"
            + "REPLICAOF 127.0.0.1 1\r\nSET a 1\r\nMULTI\r\nSET a 2\r\nEXEC\r\nCONFIG SET replica-serve-stale-data no\r\n"
            + "GET a\r\nPING\r\nMULTI\r\nDBSIZE\r\nEXEC\r\nREPLICAOF NO ONE\r\nCONFIG SET replica-serve-stale-data yes\r\nSET a 3\r\nGET a\r\n"
        // One command at a time (redis-server itself answers a pipeline that changes the
        // replication state in the middle differently from the same commands sent apart).
        let answers = try ["redis", "strata"].map { try rawAnswers(server: $0, script: script, oneAtATime: true) }
        XCTAssertEqual(answers[1], answers[0])
        XCTAssertTrue(answers[0].contains("-NOREPLICAS") && answers[0].contains("-MASTERDOWN") && answers[0].hasSuffix("$1\r\n3\r\n"), answers[0])
    }

    /// Keyspace notifications (notify-keyspace-events): the same messages, in the same order,
    /// as redis-server publishes for a run of writes of every kind, with keyspace and keyevent
    /// channels, class masks, "new", expired (lazy and active) and evicted keys.
    func testKeyspaceNotificationsLikeRedis() throws {
        var seen = [String]()
        let script: [[String]] = [
            ["set", "s", "1"], ["set", "s", "2", "ex", "100"], ["setex", "s2", "100", "x"], ["mset", "a", "1", "b", "2"],
            ["incr", "a"], ["incrbyfloat", "a", "1.5"], ["append", "b", "x"], ["setrange", "b", "0", "y"], ["setbit", "bits", "3", "1"],
            ["getdel", "b"], ["getex", "a", "persist"], ["getex", "a", "ex", "50"], ["expire", "a", "100"], ["persist", "a"],
            ["pfadd", "hll", "x"], ["del", "a", "nosuch", "hll"], ["rename", "s", "s3"], ["copy", "s3", "s4"], ["move", "s4", "2"],
            ["lpush", "l", "a", "b", "c"], ["rpush", "l", "d"], ["lpop", "l"], ["lmove", "l", "l2", "left", "right"],
            ["rpoplpush", "l", "l2"], ["lrem", "l", "0", "a"], ["ltrim", "l2", "0", "0"], ["lset", "l2", "0", "z"], ["rpop", "l2"],
            ["sadd", "st", "a", "b"], ["srem", "st", "zz"], ["smove", "st", "st2", "a"], ["sadd", "st2", "b"], ["smove", "st", "st2", "b"],
            ["sadd", "st3", "q"], ["sinterstore", "st3", "st", "st2"], ["sunionstore", "st4", "st2", "nosuch"], ["spop", "st4"],
            ["hset", "h", "f", "1", "g", "2"], ["hincrby", "h", "f", "2"], ["hincrbyfloat", "h", "f", "0.5"], ["hdel", "h", "f", "g"],
            ["zadd", "z", "1", "a", "2", "b"], ["zadd", "z", "incr", "5", "a"], ["zincrby", "z", "1", "b"], ["zrem", "z", "q"],
            ["zunionstore", "z2", "1", "z"], ["zpopmin", "z2"], ["zremrangebyscore", "z2", "0", "100"], ["zmpop", "1", "z", "max"],
            ["geoadd", "g", "13.36", "38.11", "p"],
            ["xadd", "x", "1-1", "f", "v"], ["xgroup", "create", "x", "grp", "$"], ["xreadgroup", "group", "grp", "alice", "streams", "x", ">"],
            ["xadd", "x", "maxlen", "1", "2-1", "f", "v"], ["xdel", "x", "2-1"], ["xgroup", "delconsumer", "x", "grp", "alice"],
            ["xgroup", "delconsumer", "x", "grp", "nobody"], ["xtrim", "x", "maxlen", "0"],
            ["xadd", "x", "3-1", "f", "v"], ["xreadgroup", "group", "grp", "bob", "streams", "x", ">"],
            ["xclaim", "x", "grp", "mike", "0", "3-1", "force"], ["xautoclaim", "x", "grp", "bob", "0", "0"],
            ["xgroup", "createconsumer", "x", "grp", "ann"], ["xgroup", "delconsumer", "x", "grp", "bob"],
            ["xgroup", "setid", "x", "grp", "0"], ["xgroup", "destroy", "x", "grp"], ["xgroup", "destroy", "x", "grp"],
            ["multi"], ["lpush", "ml", "1"], ["rpop", "ml"], ["exec"],
            ["eval", "redis.call('set', KEYS[1], 'v'); redis.call('del', KEYS[1])", "1", "ev"],
            ["psetex", "gone", "1", "x"], ["debug", "sleep", "0.05"], ["get", "gone"],
        ]
        for server in ["redis", "strata"] {
            let o = server == "redis" ? try RedisOracle(extra: ["--enable-debug-command", "yes"]) : try startStrata(extra: ["--enable-debug-command", "yes"])
            defer { o.stop() }
            var out = [String]()
            for flags in ["KEA", "Kl", "En", "Eg$", "Kgn"] {
                _ = try o.cmd("flushall")
                _ = try o.cmd("config", "set", "notify-keyspace-events", flags)
                out.append("config " + (try o.cmd("config", "get", "notify-keyspace-events")))
                let fd = try rawConnection(o.port)
                defer { close(fd) }
                _ = Array("PSUBSCRIBE *\r\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                usleep(100_000)
                _ = try o.pipe(respData(script))
                if flags == "KEA" {
                    // Active expiry and eviction.
                    _ = try o.cmd("psetex", "bg", "50", "x")
                    _ = poll { (try? o.cmd("exists", "bg")) == "0" }
                    _ = try o.cmd("flushall")
                    _ = try o.cmd("set", "victim", "x")
                    _ = try o.cmd("config", "set", "maxmemory-policy", "allkeys-lru")
                    _ = try o.cmd("config", "set", "maxmemory", "1")
                    _ = try? o.cmd("set", "ev", "x")
                    _ = try o.cmd("config", "set", "maxmemory", "0")
                }
                _ = try o.cmd("publish", "end", "end")
                var text = [UInt8]()
                var buf = [UInt8](repeating: 0, count: 65536)
                _ = poll {
                    let n = read(fd, &buf, buf.count)
                    if n > 0 { text += buf[0..<n] }
                    return String(decoding: text, as: UTF8.self).hasSuffix("$3\r\nend\r\n$3\r\nend\r\n")
                }
                out.append(String(decoding: text, as: UTF8.self))
            }
            seen.append(out.joined(separator: "\n"))
        }
        if let dump = ProcessInfo.processInfo.environment["STRATA_NOTIFY_DUMP"] {
            try? seen[0].write(toFile: dump + ".redis", atomically: true, encoding: .utf8)
            try? seen[1].write(toFile: dump + ".strata", atomically: true, encoding: .utf8)
        }
        let redisLines = seen[0].components(separatedBy: "\r\n"), strataLines = seen[1].components(separatedBy: "\r\n")
        for (i, (a, b)) in zip(redisLines, strataLines).enumerated() where a != b {
            XCTFail("line \(i): redis \(a), strata \(b)\nredis:\n\(redisLines[max(0, i - 12)..<min(redisLines.count, i + 6)].joined(separator: " "))\nstrata:\n\(strataLines[max(0, i - 12)..<min(strataLines.count, i + 6)].joined(separator: " "))")
            break
        }
        XCTAssertEqual(redisLines.count, strataLines.count)
        XCTAssertTrue(seen[0].contains("__keyevent@0__:expired"), "the oracle saw no expiry: \(seen[0].suffix(400))")
    }

    /// CLIENT LIST / INFO give redis-server's fields in its order with the same values where
    /// they do not depend on the process (flags, db, sub, multi, cmd, user, events); CLIENT
    /// KILL refuses bad filters with Redis's errors; COMMAND GETKEYS and COMMAND LIST FILTERBY
    /// answer as Redis; CONFIG GET * shows redis-server 7.0's
    /// values for every directive but the few each instance sets for itself.
    func testClientListKillAndConfigGetLikeRedis() throws {
        let instanceSpecific: Set<String> = ["port", "dir", "logfile", "pidfile", "bind", "daemonize", "save", "appendonly", "enable-debug-command"]
        var lists = [[String]](), kills = [String](), configs = [[String: String]]()
        for server in ["redis", "strata"] {
            let o = server == "redis" ? try RedisOracle() : try startStrata()
            defer { o.stop() }
            // A connection in MULTI, subscribed, in db 3, named; another asks for CLIENT LIST.
            let fd = try rawConnection(o.port)
            defer { close(fd) }
            _ = Array("CLIENT SETNAME watcher\r\nSELECT 3\r\nSUBSCRIBE a b\r\nPSUBSCRIBE p*\r\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            usleep(200_000)
            let text = try o.cmd("client", "list")
            let lines = text.split(separator: "\n").map(String.init).sorted { $0.contains("name=watcher") && !$1.contains("name=watcher") }
            XCTAssertEqual(lines.count, 2, "\(server): \(text)")
            // Fields by name; addresses, ids, fds, ages and buffer sizes vary by process.
            lists.append(lines.map { line in
                line.split(separator: " ").map { f -> String in
                    let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
                    let varying: Set<String> = ["id", "addr", "laddr", "fd", "age", "idle", "qbuf-free", "argv-mem", "rbs", "rbp", "tot-mem", "qbuf"]
                    return varying.contains(kv[0]) ? kv[0] : f.description
                }.joined(separator: " ")
            })
            XCTAssertTrue(text.contains("laddr=127.0.0.1:\(o.port)"), "\(server): \(text)")
            var k = [String]()
            for args in [["client", "kill"], ["client", "kill", "id", "0"], ["client", "kill", "id", "x"], ["client", "kill", "type", "nope"],
                         ["client", "kill", "user", "nobody"], ["client", "kill", "skipme", "maybe"], ["client", "kill", "1.2.3.4:5"],
                         ["client", "kill", "type", "pubsub"], ["client", "kill", "id", "424242"]] {
                k.append(try o.cmd(args))
            }
            kills.append(k.joined(separator: "\n"))
            // COMMAND GETKEYS and COMMAND LIST FILTERBY (Redis lists in dict order: sorted here).
            for args in [["command", "getkeys", "eval", "return 1", "0"], ["command", "getkeys", "lcs", "k1", "k2"],
                         ["command", "getkeys", "memory", "usage", "k"], ["command", "list", "filterby", "pattern", "z*store"],
                         ["command", "list", "filterby", "aclcat", "geo"], ["command", "list", "bad"],
                         ["command", "list", "filterby", "module", "x"]] {
                k.append(try o.cmd(args).split(separator: "\n").sorted().joined(separator: " "))
            }
            // LATENCY HISTOGRAM: the commands asked for that ran, their calls (the buckets depend
            // on the machine: only their count of lines is even).
            _ = try o.cmd("config", "resetstat")
            _ = try o.cmd("set", "a", "b"); _ = try o.cmd("set", "a", "c"); _ = try o.cmd("client", "id")
            let histo = try o.cmd("latency", "histogram", "set", "blabla", "client", "get").split(separator: "\n").map(String.init)
            k.append([histo[0], histo[1], histo[2], histo[3]].joined(separator: " "))
            XCTAssertTrue(histo.count % 2 == 0 && histo.contains("client|id"), "\(server): \(histo)")
            kills[kills.count - 1] = k.joined(separator: "\n")
            var all = try o.cmd("config", "get", "*").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if all.count % 2 == 1 { all.append("") }   // the last value was empty (cmd trims the output)
            var dict = [String: String]()
            for i in stride(from: 0, to: all.count - 1, by: 2) where !instanceSpecific.contains(all[i]) { dict[all[i]] = all[i + 1] }
            configs.append(dict)
        }
        XCTAssertEqual(lists[1], lists[0])
        XCTAssertEqual(kills[1], kills[0])
        XCTAssertTrue(kills[0].contains("ERR Unknown client type 'nope'"), kills[0])
        for (name, value) in configs[0] where configs[1][name] != value {
            XCTFail("CONFIG GET \(name): redis-server \(value), strata \(configs[1][name] ?? "(missing)")")
        }
        XCTAssertEqual(Set(configs[1].keys), Set(configs[0].keys))
    }

    /// A subscriber that stops reading is closed at the pubsub output-buffer limit, as by Redis;
    /// other clients carry on.
    func testOutputBufferLimitClosesASlowSubscriber() throws {
        for server in ["redis", "strata"] {
            let extra = ["--client-output-buffer-limit", "pubsub 256kb 0 0"]
            let o = server == "redis" ? try RedisOracle(extra: extra) : try startStrata(extra: extra)
            defer { o.stop() }
            let fd = try rawConnection(o.port, receiveBuffer: 4096)
            defer { close(fd) }
            let sub = Array("SUBSCRIBE ch\r\n".utf8)
            _ = sub.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            usleep(200_000)
            XCTAssertEqual(try o.cmd("pubsub", "numsub", "ch"), "ch\n1", server)
            let payload = String(repeating: "x", count: 1000)
            var pipe = ""
            for _ in 0..<20000 { pipe += "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$1000\r\n\(payload)\r\n" }
            _ = try o.pipe(Data(pipe.utf8))
            usleep(200_000)
            XCTAssertEqual(try o.cmd("pubsub", "numsub", "ch"), "ch\n0", "\(server): the subscriber was not closed")
            XCTAssertEqual(try o.cmd("ping"), "PONG")
        }
    }

    /// Byte-for-byte the same answers as redis-server for CLIENT REPLY, COMMAND GETKEYS, WAIT,
    /// LATENCY and CLIENT KILL, sent inline over a raw connection.
    func testClientReplyCommandGetkeysWaitLikeRedis() throws {
        let script = "CLIENT REPLY SKIP\r\nSET x 1\r\nGET x\r\nCLIENT REPLY OFF\r\nSET y 2\r\nCLIENT REPLY ON\r\nGET y\r\n"
            + "COMMAND GETKEYS MSET a 1 b 2\r\nCOMMAND GETKEYS ZUNIONSTORE d 2 k1 k2\r\nCOMMAND GETKEYS PING\r\nWAIT 0 0\r\nLATENCY LATEST\r\n"
            + "LATENCY RESET\r\nCLIENT KILL ID 999999\r\nCLIENT NO-EVICT on\r\nPING\r\n"
        let answers = try ["redis", "strata"].map { try rawAnswers(server: $0, script: script, oneAtATime: false) }
        XCTAssertEqual(answers[1], answers[0])
        XCTAssertTrue(answers[0].hasSuffix("+PONG\r\n"), answers[0])
    }

    /// redis-py (a real client library) against strata serve and redis-server, with RESP2, RESP3
    /// and the library's default: the same script, the same printed results (connection
    /// handshake, pipelines with and without MULTI, pub/sub, blocking pop, scan, hashes, sets,
    /// sorted sets with scores, streams, geo, expiry, client name, INFO fields).
    func testRedisPyClientAgreesWithRedis() throws {
        guard let py = which("python3"), (try? runProcess(py, ["-c", "import redis"]))?.status == 0 else {
            return XCTFail("redis-py is not installed (.ci/run installs PyPI redis)")
        }
        let script = """
        import sys, json, redis
        kw = {} if sys.argv[2] == "default" else {"protocol": int(sys.argv[2])}
        r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True, **kw)
        out = []
        out.append(r.ping())
        r.flushall()
        out.append(r.set("a", "1"))
        out.append(r.get("a"))
        out.append(r.incrby("n", 5))
        p = r.pipeline(transaction=True)
        p.set("t1", "x").incr("n").lpush("l", "a", "b", "c").lrange("l", 0, -1)
        out.append(p.execute())
        p = r.pipeline(transaction=False)
        p.hset("h", mapping={"f1": "v1", "f2": "v2"}).hgetall("h").hlen("h")
        out.append(p.execute())
        out.append(r.zadd("z", {"m1": 1.5, "m2": 2.25, "m3": -1}))
        out.append(r.zrange("z", 0, -1, withscores=True))
        out.append(r.zrangebyscore("z", 0, 3))
        out.append(r.expire("a", 100))
        out.append(r.ttl("a"))
        out.append(sorted(r.scan_iter(match="*")))
        out.append(r.blpop(["empty", "l"], timeout=1))
        out.append(r.blpop(["empty"], timeout=1))
        ps = r.pubsub()
        ps.subscribe("ch")
        out.append(ps.get_message(timeout=1))
        out.append(r.publish("ch", "hello"))
        out.append(ps.get_message(timeout=1))
        ps.close()
        out.append(r.client_setname("pyclient"))
        out.append(r.client_getname())
        info = r.info()
        out.append([k in info for k in ("redis_version", "connected_clients", "used_memory", "db0")])
        out.append(r.dbsize())
        out.append(r.config_get("maxmemory"))
        out.append(sorted(r.smembers("nosuch")))
        r.sadd("s", "x", "y", "z")
        out.append(sorted(r.smembers("s")))
        out.append(sorted(r.sunion("s", "nosuch")))
        out.append(sorted(r.hrandfield("h", 5, withvalues=True)))
        out.append(r.zscore("z", "m2"))
        out.append(r.zincrby("z", 0.5, "m1"))
        out.append(r.zpopmin("z", 2))
        out.append(r.zpopmax("z"))
        out.append(r.zmscore("z", ["m1", "m2", "nope"]))
        r.xadd("st", {"f": "v"}, id="1-1")
        r.xadd("st", {"g": "w"}, id="2-1")
        out.append(r.xread({"st": "0"}, count=5))
        out.append(r.xrange("st"))
        r.geoadd("geo", (13.361389, 38.115556, "Palermo"))
        out.append(r.geopos("geo", "Palermo", "nope"))
        r.set("lcs1", "ohmytext"); r.set("lcs2", "mynewtext")
        out.append(r.lcs("lcs1", "lcs2", idx=True, minmatchlen=4, withmatchlen=True))
        h = r.execute_command("HELLO"); h = h if isinstance(h, dict) else dict(zip(h[::2], h[1::2]))
        out.append({k: v for k, v in h.items() if k != "id"})
        try:
            r.lpush("a", "x")
        except redis.ResponseError as e:
            out.append(str(e))
        print(json.dumps(out))
        """
        let redis = try RedisOracle(), strata = try startStrata()
        defer { redis.stop(); strata.stop() }
        for proto in ["2", "3", "default"] {
            var outputs = [String]()
            for o in [redis, strata] {
                let r = try runProcess(py, ["-c", script, "\(o.port)", proto])
                XCTAssertEqual(r.status, 0, "protocol \(proto), port \(o.port): \(r.err)")
                outputs.append(String(decoding: r.out, as: UTF8.self))
            }
            XCTAssertEqual(outputs[1], outputs[0], "protocol \(proto)")
        }
    }

    /// maxmemory with every policy, the same scenario against redis-server and strata serve
    /// (redis-py): 1000 persistent and 1000 volatile keys of 1 KB (TTLs rising with the index),
    /// cold keys restored with IDLETIME 1000 (LRU) or FREQ 0 (LFU), hot ones written fresh and
    /// read 30 times; then maxmemory is set 300 KB under the usage and 200 KB more is written.
    /// Both servers must show the same behaviour: noeviction refuses with OOM and loses nothing;
    /// volatile-* never take a persistent key; LRU/LFU keep the hot keys and take cold ones;
    /// volatile-ttl takes the nearest expiries first; OBJECT FREQ/IDLETIME answer per policy.
    func testMaxmemoryPoliciesBehaveAsRedis() throws {
        guard let py = which("python3"), (try? runProcess(py, ["-c", "import redis"]))?.status == 0 else {
            return XCTFail("redis-py is not installed (.ci/run installs PyPI redis)")
        }
        let script = """
        import sys, json, redis
        r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
        policy = sys.argv[2]
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", policy)
        r.flushall()
        r.config_resetstat()
        val = b"x" * 1000
        r.set("template", val)
        payload = r.dump("template")
        r.delete("template")
        lru, lfu = policy.endswith("lru"), policy.endswith("lfu")
        cold = ["IDLETIME", "1000"] if lru else (["FREQ", "0"] if lfu else [])
        p = r.pipeline(transaction=False)
        for i in range(1000):
            hot = i < 100
            for prefix, ttl in (("p:", 0), ("v:", 100000000 + i * 1000)):
                if hot:
                    p.set(prefix + str(i), val, px=ttl or None)
                else:
                    p.execute_command("RESTORE", prefix + str(i), ttl, payload, *cold)
        p.execute()
        for _ in range(30):
            p = r.pipeline(transaction=False)
            for i in range(100):
                p.get("p:" + str(i)); p.get("v:" + str(i))
            p.execute()
        out = {}
        if lfu:
            out["freq_hot_gt_cold"] = r.object("freq", "p:1") > r.object("freq", "p:500")
        else:
            try:
                r.object("freq", "p:1"); out["freq_error"] = False
            except redis.ResponseError:
                out["freq_error"] = True
        if lru:
            out["idle_cold"] = r.object("idletime", "p:500") >= 900
        used = r.info("memory")["used_memory"]
        r.config_set("maxmemory", used - 300 * 1024)
        oom = 0
        for i in range(200):
            try:
                r.set("n:" + str(i), val)
            except redis.ResponseError as e:
                if str(e).startswith("command not allowed when used memory"): oom += 1
                else: raise
        alive = lambda prefix, lo, hi: sum(r.exists(prefix + str(i)) for i in range(lo, hi))
        out["oom"] = oom
        out["evicted"] = r.info("stats")["evicted_keys"] > 0
        out["persistent"] = alive("p:", 0, 1000)
        out["volatile"] = alive("v:", 0, 1000)
        out["hot_p"] = alive("p:", 0, 100)
        out["hot_v"] = alive("v:", 0, 100)
        out["cold_p"] = alive("p:", 100, 1000)
        out["cold_v"] = alive("v:", 100, 1000)
        out["near_ttl"] = alive("v:", 100, 300)
        out["far_ttl"] = alive("v:", 800, 1000)
        out["within_limit"] = r.info("memory")["used_memory"] < int(r.config_get("maxmemory")["maxmemory"])
        r.config_set("maxmemory", 0)
        print(json.dumps(out))
        """
        let redis = try RedisOracle(), strata = try startStrata()
        defer { redis.stop(); strata.stop() }
        for policy in ["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] {
            for (name, server) in [("redis", redis), ("strata", strata)] {
                let r = try runProcess(py, ["-c", script, "\(server.port)", policy])
                guard r.status == 0, let o = try JSONSerialization.jsonObject(with: r.out) as? [String: Any] else {
                    XCTFail("\(name) \(policy): \(r.err)"); continue
                }
                let n = { (k: String) in (o[k] as? Int) ?? -1 }
                let where_ = "\(name) \(policy): \(o)"
                if policy == "noeviction" {
                    XCTAssertGreaterThan(n("oom"), 0, where_)
                    XCTAssertEqual(n("persistent") + n("volatile"), 2000, where_)
                    XCTAssertEqual(o["evicted"] as? Bool, false, where_)
                    continue
                }
                XCTAssertEqual(n("oom"), 0, where_)
                XCTAssertEqual(o["evicted"] as? Bool, true, where_)
                if policy.hasPrefix("volatile") { XCTAssertEqual(n("persistent"), 1000, where_) }
                if policy.hasSuffix("lru") || policy.hasSuffix("lfu") {
                    let (hot, cold, pool) = policy.hasPrefix("volatile") ? (n("hot_v"), n("cold_v"), 900.0) : (n("hot_p") + n("hot_v"), n("cold_p") + n("cold_v"), 1800.0)
                    XCTAssertGreaterThanOrEqual(hot, policy.hasPrefix("volatile") ? 90 : 180, where_)
                    XCTAssertLessThan(Double(cold) / pool, 0.95, where_)
                }
                if policy.hasSuffix("lfu") { XCTAssertEqual(o["freq_hot_gt_cold"] as? Bool, true, where_) }
                else { XCTAssertEqual(o["freq_error"] as? Bool, true, where_) }
                if policy.hasSuffix("lru") { XCTAssertEqual(o["idle_cold"] as? Bool, true, where_) }
                if policy == "volatile-ttl" { XCTAssertLessThan(n("near_ttl"), n("far_ttl"), where_) }
            }
        }
    }

    /// CLIENT PAUSE WRITE holds writes (reads go on) until the timeout; CLIENT UNPAUSE ends it
    /// early; CLIENT PAUSE ALL holds everything. Same behaviour as redis-server.
    func testClientPauseHoldsWritesLikeRedis() throws {
        for s in [try RedisOracle(), try startStrata()] {
            defer { s.stop() }
            func timed(_ args: String...) throws -> (String, Double) {
                let t0 = Date()
                let r = try s.cmd(args)
                return (r, Date().timeIntervalSince(t0))
            }
            XCTAssertEqual(try s.cmd("client", "pause", "600", "write"), "OK")
            let (g, tg) = try timed("get", "k")
            XCTAssertEqual(g, "")
            XCTAssertLessThan(tg, 0.4, "\(s.dir): reads are not paused")
            let (w, tw) = try timed("set", "k", "v")
            XCTAssertEqual(w, "OK")
            XCTAssertGreaterThan(tw, 0.35, "\(s.dir): writes wait for the pause")
            XCTAssertEqual(try s.cmd("client", "pause", "10000", "write"), "OK")
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: s.cli)
            writer.arguments = ["-p", "\(s.port)", "incr", "n"]
            writer.standardOutput = FileHandle.nullDevice
            let t0 = Date()
            try writer.run()
            usleep(200_000)
            XCTAssertEqual(try s.cmd("client", "unpause"), "OK")
            writer.waitUntilExit()
            XCTAssertLessThan(Date().timeIntervalSince(t0), 3, "UNPAUSE releases the held write")
            XCTAssertEqual(try s.cmd("get", "n"), "1")
            XCTAssertEqual(try s.cmd("client", "pause", "x"), "ERR timeout is not an integer or out of range")
            XCTAssertEqual(try s.cmd("client", "pause", "10", "bogus"), "ERR CLIENT PAUSE mode must be WRITE or ALL")
        }
    }

    /// ACL users (a read-only user, a user limited to key patterns and without FLUSHALL, bad
    /// rules, DRYRUN, DELUSER, a disabled user, scripts run with the caller's rights) give
    /// redis-server's replies; a `user default on >pw ~* &* +@all` config line requires AUTH.
    func testACLUsersAsRedis() throws {
        let steps: [[String]] = [
            ["acl", "setuser", "ro", "on", ">ropw", "~*", "+@read"], ["acl", "setuser", "app", "on", ">apppw", "~app:*", "+@all", "-flushall"],
            ["acl", "setuser", "bad", "on", "bogus"], ["acl", "users"], ["acl", "whoami"], ["set", "app:1", "x"],
            ["--user", "ro", "--pass", "ropw", "get", "app:1"], ["--user", "ro", "--pass", "ropw", "set", "app:1", "y"],
            ["--user", "app", "--pass", "apppw", "set", "app:2", "y"], ["--user", "app", "--pass", "apppw", "set", "other", "y"],
            ["--user", "app", "--pass", "apppw", "flushall"], ["--user", "app", "--pass", "apppw", "acl", "whoami"],
            ["--user", "ro", "--pass", "wrong", "get", "app:1"], ["--user", "nobody", "--pass", "x", "get", "app:1"],
            ["--user", "ro", "--pass", "ropw", "eval", "return redis.call('set','app:1','z')", "1", "app:1"],
            ["--user", "app", "--pass", "apppw", "eval", "return redis.call('get','other')", "0"],
            ["acl", "dryrun", "ro", "set", "k", "v"], ["acl", "dryrun", "ro", "get", "k"], ["acl", "deluser", "ro", "nosuch"],
            ["acl", "deluser", "default"], ["acl", "cat", "nosuch"], ["acl", "getuser", "nosuch"], ["acl", "setuser", "off1", "off", ">p"],
            ["--user", "off1", "--pass", "p", "ping"], ["get", "app:1"],
        ]
        var outputs = [[String]]()
        for server in [try RedisOracle(), try startStrata()] {
            defer { server.stop() }
            outputs.append(try steps.map { try server.cmd($0) })
        }
        for (i, step) in steps.enumerated() where outputs[0][i] != outputs[1][i] {
            XCTFail("\(step):\nredis:  \(outputs[0][i])\nstrata: \(outputs[1][i])")
        }
        let dir = makeTempDir()
        try "user default on >s3cret ~* &* +@all\nuser reader on >r ~* +@read\n".write(toFile: dir + "/acl.conf", atomically: true, encoding: .utf8)
        let s = try RedisOracle(server: strataPath, dir: dir, leading: ["serve", dir + "/acl.conf"])
        defer { s.stop() }
        XCTAssertEqual(try s.cmd("get", "x"), "NOAUTH Authentication required.")
        XCTAssertEqual(try s.cmd("-a", "s3cret", "set", "x", "1"), "OK")
        XCTAssertEqual(try s.cmd("--user", "reader", "--pass", "r", "get", "x"), "1")
        XCTAssertEqual(try s.cmd("--user", "reader", "--pass", "r", "del", "x"), "NOPERM this user has no permissions to run the 'del' command")
    }

    /// CONFIG REWRITE keeps the file's comments and order, rewrites the lines of changed options
    /// in place, appends the others after "# Generated by CONFIG REWRITE" with the users, and a
    /// server started from the result has the same settings.
    func testConfigRewriteKeepsTheFileAndRestarts() throws {
        let dir = makeTempDir()
        let file = dir + "/redis.conf"
        try "# My config\nhz 10\n# memory\nmaxmemory-policy noeviction\nsave 900 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let s = try RedisOracle(server: strataPath, dir: dir, leading: ["serve", file])
        XCTAssertEqual(try s.cmd("config", "set", "hz", "20"), "OK")
        XCTAssertEqual(try s.cmd("config", "set", "maxmemory", "100mb"), "OK")
        XCTAssertEqual(try s.cmd("config", "set", "maxmemory-policy", "allkeys-lru"), "OK")
        XCTAssertEqual(try s.cmd("acl", "setuser", "bob", "on", ">pw", "~*", "+@read"), "OK")
        XCTAssertEqual(try s.cmd("config", "rewrite"), "OK")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        // (The test harness starts servers with --save "": the line takes the running value.)
        XCTAssertEqual(Array(lines.prefix(5)), ["# My config", "hz 20", "# memory", "maxmemory-policy allkeys-lru", "save \"\""], text)
        XCTAssertTrue(lines.contains("# Generated by CONFIG REWRITE") && lines.contains("maxmemory 100mb"), text)
        XCTAssertTrue(lines.contains { $0.hasPrefix("user bob on #") && $0.hasSuffix("-@all +@read") }, text)
        s.stop()
        let again = try RedisOracle(server: strataPath, dir: dir, leading: ["serve", file])
        defer { again.stop() }
        XCTAssertEqual(try again.cmd("config", "get", "hz"), "hz\n20")
        XCTAssertEqual(try again.cmd("config", "get", "maxmemory-policy"), "maxmemory-policy\nallkeys-lru")
        XCTAssertEqual(try again.cmd("--user", "bob", "--pass", "pw", "dbsize"), "0")
        let plain = try startStrata()
        defer { plain.stop() }
        XCTAssertEqual(try plain.cmd("config", "rewrite"), "ERR The server is running without a config file")
    }

    /// Under an LRU policy a key's idle time travels through the RDB (IDLE opcode) and a loaded key
    /// starts as just accessed: after SAVE and a restart OBJECT IDLETIME reads the same in strata
    /// serve and in redis-server loading strata's file.
    func testIdleTimesSurviveSaveAndLoad() throws {
        let dir = makeTempDir()
        let lru = ["--maxmemory-policy", "allkeys-lru"]
        let s = try RedisOracle(server: strataPath, dir: dir, leading: ["serve"], extra: lru)
        XCTAssertEqual(try s.cmd("set", "warm", "v"), "OK")
        XCTAssertEqual(try s.cmd("set", "tmp", "v"), "OK")
        let payload = Array(try runProcess(s.cli, ["-p", "\(s.port)", "--raw", "dump", "tmp"]).out.dropLast())
        // RESTORE cold 0 <payload> IDLETIME 5000 (binary payload: sent as RESP on a raw connection).
        var cmd = [UInt8]()
        let words: [[UInt8]] = [Array("RESTORE".utf8), Array("cold".utf8), Array("0".utf8), payload, Array("IDLETIME".utf8), Array("5000".utf8)]
        cmd += Array("*\(words.count)\r\n".utf8)
        for w in words { cmd += Array("$\(w.count)\r\n".utf8) + w + [13, 10] }
        let fd = try rawConnection(s.port)
        defer { close(fd) }
        _ = cmd.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 64) }
        XCTAssertEqual(String(decoding: buf.prefix(max(0, n)), as: UTF8.self), "+OK\r\n")
        XCTAssertEqual(try s.cmd("save"), "OK")
        s.stop()
        let copy = makeTempDir()
        try FileManager.default.copyItem(atPath: dir + "/dump.rdb", toPath: copy + "/dump.rdb")
        for server in [try RedisOracle(server: strataPath, dir: dir, leading: ["serve"], extra: lru), try RedisOracle(dir: copy, extra: lru)] {
            defer { server.stop() }
            let cold = Int(try server.cmd("object", "idletime", "cold")) ?? -1, warm = Int(try server.cmd("object", "idletime", "warm")) ?? -1
            XCTAssertTrue((5000...5100).contains(cold), "\(server.dir): cold idle \(cold)")
            XCTAssertTrue((0...100).contains(warm), "\(server.dir): warm idle \(warm)")
        }
    }
    /// Hash and sorted set listpacks load as redis-server loads them: a file that repeats a
    /// field or member is served as Redis serves it unless sanitize-dump-payload is yes, which
    /// refuses it at startup (naming the offset) in both servers. Packed values of every
    /// encoding (integers, long strings, scores out of order, over the limits) keep Redis's
    /// answers, encodings and digest.
    func testListpacksLoadAsRedisWithAndWithoutSanitizing() throws {
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: RDBTarget.named("redis-7.0")!)
        try w.writeHeader()
        try w.writeSelectDB(0)
        func b(_ s: String) -> [UInt8] { Array(s.utf8) }
        try w.writeEntry(key: b("dup-hash"), value: .hash([HashField(field: b("a"), value: b("1")), HashField(field: b("b"), value: b("2")),
                                                            HashField(field: b("a"), value: b("3"))]), expireMs: nil)
        try w.writeEntry(key: b("dup-zset"), value: .sortedSet([ZSetMember(member: b("m"), score: 1), ZSetMember(member: b("n"), score: 2),
                                                                 ZSetMember(member: b("m"), score: 3)]), expireMs: nil)
        try w.finish()
        let clean = ByteSink()
        let w2 = RDBWriter(sink: clean, target: RDBTarget.named("redis-7.0")!)
        try w2.writeHeader()
        try w2.writeSelectDB(0)
        try w2.writeEntry(key: b("ints"), value: .hash((0..<40).map { HashField(field: b("\($0 * 977 - 9000)"), value: b("\(Int64($0) * 123_456_789_01 - 5)")) }), expireMs: nil)
        try w2.writeEntry(key: b("long"), value: .hash([HashField(field: b("f"), value: [UInt8](repeating: 0x41, count: 60)),
                                                        HashField(field: b("g"), value: [UInt8](repeating: 0x42, count: 3000))]), expireMs: nil)
        try w2.writeEntry(key: b("many"), value: .hash((0..<513).map { HashField(field: b("f\($0)"), value: b("v\($0)")) }), expireMs: nil)
        try w2.writeEntry(key: b("scores"), value: .sortedSet((0..<60).map { ZSetMember(member: b("m\($0 % 7)-\($0)"), score: Double($0 % 5) * 1.5 - 2) }), expireMs: nil)
        try w2.writeEntry(key: b("bigscores"), value: .sortedSet((0..<129).map { ZSetMember(member: b("\($0)"), score: Double($0)) }), expireMs: nil)
        try w2.finish()
        for (name, bytes) in [("dup", sink.memory), ("clean", clean.memory)] {
            let rd = makeTempDir(), sd = makeTempDir()
            FileManager.default.createFile(atPath: rd + "/dump.rdb", contents: Data(bytes))
            FileManager.default.createFile(atPath: sd + "/dump.rdb", contents: Data(bytes))
            let r = try RedisOracle(dir: rd)
            defer { r.stop() }
            let st = try startStrata(dir: sd)
            defer { st.stop() }
            let probes: [[String]] = name == "dup"
                ? [["hlen", "dup-hash"], ["hget", "dup-hash", "a"], ["hgetall", "dup-hash"], ["zcard", "dup-zset"],
                   ["zscore", "dup-zset", "m"], ["zrange", "dup-zset", "0", "-1", "withscores"], ["debug", "digest"]]
                : [["debug", "digest"], ["object", "encoding", "ints"], ["object", "encoding", "long"], ["object", "encoding", "many"],
                   ["object", "encoding", "scores"], ["object", "encoding", "bigscores"], ["hgetall", "ints"],
                   ["zrange", "scores", "0", "-1", "withscores"], ["hget", "long", "g"]]
            for p in probes { XCTAssertEqual(try st.cmd(p), try r.cmd(p), "\(name): \(p)") }
            if name == "dup" {
                // An AOF whose RDB preamble carries the repeats loads back the same.
                let digest = try st.cmd("debug", "digest")
                XCTAssertEqual(try st.cmd("config", "set", "appendonly", "yes"), "OK")
                try st.waitForAOFRewrite()
                let copy = makeTempDir()
                try FileManager.default.copyItem(atPath: sd + "/appendonlydir", toPath: copy + "/appendonlydir")
                let again = try RedisOracle(server: strataPath, dir: copy, leading: ["serve"], extra: ["--appendonly", "yes"])
                XCTAssertEqual(try again.cmd("debug", "digest"), digest)
                again.stop()
                for p in [["hdel", "dup-hash", "a"], ["hgetall", "dup-hash"], ["zrem", "dup-zset", "m"], ["zrange", "dup-zset", "0", "-1", "withscores"]] {
                    XCTAssertEqual(try st.cmd(p), try r.cmd(p), "\(name): \(p)")
                }
                // Past the packed limits the repeated field is one field in a table (Redis would
                // stop on it here; Strata keeps serving).
                XCTAssertEqual(try st.cmd(["hset", "dup-hash"] + (0..<520).flatMap { ["x\($0)", "y"] }), "520")
                XCTAssertEqual(try st.cmd("object", "encoding", "dup-hash"), "hashtable")
                XCTAssertEqual(try st.cmd("hlen", "dup-hash"), "522")
                XCTAssertEqual(try st.cmd(["zadd", "dup-zset"] + (0..<130).flatMap { ["\($0)", "x\($0)"] }), "130")
                XCTAssertEqual(try st.cmd("object", "encoding", "dup-zset"), "skiplist")
                XCTAssertEqual(try st.cmd("zcard", "dup-zset"), "132")
                XCTAssertEqual(try st.cmd("zscore", "dup-zset", "m"), "3")
            }
        }
        // sanitize-dump-payload yes: both refuse the file with repeats at startup.
        let d = makeTempDir()
        FileManager.default.createFile(atPath: d + "/dump.rdb", contents: Data(sink.memory))
        XCTAssertThrowsError(try RedisOracle(dir: d, extra: ["--sanitize-dump-payload", "yes"]))
        let r = try strata("serve", "--port", "\(freeLoopbackPort())", "--dir", d, "--save", "", "--sanitize-dump-payload", "yes")
        XCTAssertEqual(r.status, 1)
        let log = String(decoding: r.out, as: UTF8.self) + r.err
        XCTAssertTrue(log.contains("offset") && log.contains("duplicate field"), log)
    }
}
