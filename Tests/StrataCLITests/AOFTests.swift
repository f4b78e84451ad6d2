import Foundation
import XCTest
import StrataTestSupport
import StrataFormats

/// RESP for a list of commands.
func respData(_ cmds: [[String]]) -> Data {
    var d = Data()
    for c in cmds { d += Data("*\(c.count)\r\n".utf8); for a in c { d += Data("$\(a.utf8.count)\r\n".utf8) + Data(a.utf8) + Data("\r\n".utf8) } }
    return d
}

/// Random writes over every data type the engine replays, in three dbs, with MULTI/EXEC
/// blocks and far-future TTLs: what a real application leaves in its AOF.
struct AOFWorkload {
    var rng: SeededRNG
    init(seed: UInt64) { rng = SeededRNG(seed: seed) }

    mutating func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
    mutating func n(_ k: Int) -> Int { Int(rng.next() % UInt64(k)) }

    mutating func value() -> String {
        switch n(6) {
        case 0: return "\(n(1000) - 500)"
        case 1: return String(repeating: "x", count: 30 + n(80))
        case 2: return "caf\u{e9}-\(n(50))"
        default: return "v\(n(40))"
        }
    }

    mutating func command() -> [String] {
        let key = { (p: String, me: inout AOFWorkload) in "\(p)\(me.n(12))" }
        switch n(25) {
        case 0, 1: return ["SET", key("s", &self), value()]
        case 2: return ["APPEND", key("s", &self), value()]
        case 3: return ["INCRBY", key("i", &self), "\(n(100))"]
        case 4: return ["RPUSH", key("l", &self)] + (0..<(1 + n(6))).map { _ in value() }
        case 5: return ["LPUSH", key("l", &self), value()]
        case 6: return ["LPOP", key("l", &self)]
        case 7: return ["HSET", key("h", &self)] + (0..<(1 + n(4))).flatMap { _ in ["f\(n(30))", value()] }
        case 8: return ["HDEL", key("h", &self), "f\(n(30))"]
        case 9: return ["HINCRBY", key("hi", &self), "f\(n(5))", "\(n(10))"]
        case 10: return ["SADD", key("t", &self)] + (0..<(1 + n(5))).map { _ in "\(n(600))" }
        case 11: return ["SADD", key("u", &self)] + (0..<(1 + n(5))).map { _ in value() }
        case 12: return ["SREM", key("t", &self), "\(n(600))"]
        case 13: return ["ZADD", key("z", &self)] + (0..<(1 + n(4))).flatMap { _ in ["\(Double(n(2000)) / 8)", "m\(n(200))"] }
        case 14: return ["ZINCRBY", key("z", &self), "1.5", "m\(n(200))"]
        case 15: return ["ZREM", key("z", &self), "m\(n(200))"]
        case 16: return ["EXPIRE", key(pick(["s", "l", "h", "z"]), &self), "\(100_000 + n(100_000))"]
        case 17: return ["DEL", key(pick(["s", "l", "h", "t", "z"]), &self)]
        case 18: return ["SELECT", "\(n(3))"]
        case 19: return ["SETEX", key("e", &self), "\(50_000 + n(1000))", value()]
        case 20: return ["INCRBYFLOAT", key("f", &self), "1.25"]
        case 21: return n(2) == 0 ? ["LTRIM", key("l", &self), "0", "\(n(8))"] : ["SETBIT", key("b", &self), "\(n(4000))", "\(n(2))"]
        case 22:
            switch n(8) {
            case 0: return ["XGROUP", "CREATE", key("x", &self), "g\(n(2))", pick(["0", "$"]), "MKSTREAM"]
            case 1: return ["XREADGROUP", "GROUP", "g\(n(2))", "c\(n(3))", "COUNT", "\(1 + n(3))", "STREAMS", key("x", &self), ">"]
            case 2: return ["XTRIM", key("x", &self), "MAXLEN", "~", "\(n(200))"]
            case 3: return ["XDEL", key("x", &self), "0-1"]
            default: return ["XADD", key("x", &self), "*", "f\(n(3))", value()]
            }
        case 23:
            switch n(8) {
            case 0: return ["PFADD", key("p", &self)] + (0..<(1 + n(400))).map { _ in "e\(n(100_000))" }
            case 1: return ["PFCOUNT", key("p", &self)]
            case 2: return ["PFMERGE", key("p", &self), key("p", &self), key("p", &self)]
            case 3: return ["GEOADD", key("g", &self)] + (0..<(1 + n(4))).flatMap { _ in ["\(13 + Double(n(1000)) / 1000)", "\(38 + Double(n(1000)) / 1000)", "pl\(n(100))"] }
            case 4: return ["GEOSEARCHSTORE", key("gs", &self), key("g", &self), "FROMLONLAT", "13.5", "38.5", "BYRADIUS", "\(1 + n(60))", "km", "ASC"] + (n(2) == 0 ? ["STOREDIST"] : [])
            case 5: return ["BITFIELD", key("bf", &self), "INCRBY", pick(["u8", "i16", "u63", "i5"]), "#\(n(40))", "\(n(300) - 150)", "OVERFLOW", pick(["WRAP", "SAT", "FAIL"]), "SET", "u4", "\(n(100))", "\(n(20))"]
            case 6: return ["SORT", key("t", &self), "LIMIT", "0", "\(1 + n(20))", "STORE", key("so", &self)]
            default: return ["SORT", key("l", &self), "ALPHA", pick(["ASC", "DESC"]), "STORE", key("so", &self)]
            }
        default: return ["ZADD", key("zb", &self)] + (0..<(60 + n(90))).flatMap { i in ["\(i)", "member-\(i)-\(n(9))"] }
        }
    }

    /// `count` commands, some of them wrapped in MULTI/EXEC.
    mutating func batch(_ count: Int, streams: Bool = true) -> [[String]] {
        var out = [[String]]()
        while out.count < count {
            if n(15) == 0 {
                out.append(["MULTI"])
                for _ in 0..<(1 + n(4)) { var c = command(); while c[0] == "SELECT" || (!streams && c[0] == "XADD") { c = command() }; out.append(c) }
                out.append(["EXEC"])
            } else {
                let c = command()
                if !streams && c[0] == "XADD" { continue }
                out.append(c)
            }
        }
        return out
    }
}

func aofSeed() -> UInt64 { ProcessInfo.processInfo.environment["STRATA_SEED"].flatMap { UInt64($0) } ?? 20_261_124 }

/// A redis-server 7.0 with appendonly on; waits out rewrites and fsyncs.
extension RedisOracle {
    func waitForRewrite() {
        for _ in 0..<200 {
            let info = (try? cmd("info", "persistence")) ?? ""
            if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") { break }
            usleep(50_000)
        }
        usleep(100_000)
    }
}

func copyTree(_ from: String, _ to: String) throws {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: from, toPath: to)
}

/// Starts redis-server 7.0 on a data directory with appendonly on and returns its digest (nil
/// when it refuses to start), and its log.
func redisDigest(ofAOFDataDir dir: String, extra: [String] = []) -> (digest: String?, log: String, functions: String) {
    do {
        let o = try RedisOracle(dir: dir, extra: ["--appendonly", "yes"] + extra)
        defer { o.stop() }
        return (try o.cmd("debug", "digest"), o.log, try o.cmd("function", "list"))
    } catch {
        return (nil, "\(error)", "")
    }
}

/// redis-check-aof's verdict: exit status and, per file, ok_up_to.
func redisCheckAOF(_ args: [String], stdin: String? = nil) throws -> (status: Int32, okUpTo: [String: Int], out: String) {
    guard let bin = which("redis-check-aof") else { throw XCTSkip("redis-check-aof not installed") }
    let r = try runProcess(bin, args, stdin: stdin.map { Data($0.utf8) })
    let out = String(decoding: r.out, as: UTF8.self)
    var ok = [String: Int]()
    for line in out.split(separator: "\n") where line.hasPrefix("AOF analyzed: ") {
        var name = "", upTo = 0
        for part in line.dropFirst("AOF analyzed: ".count).split(separator: ",") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2 && kv[0] == "filename" { name = String(kv[1]).split(separator: "/").last.map(String.init) ?? String(kv[1]) }
            if kv.count == 2 && kv[0] == "ok_up_to" { upTo = Int(kv[1]) ?? -1 }
        }
        ok[name] = upTo
    }
    return (r.status, ok, out)
}

func strataCheckJSON(_ args: [String]) throws -> (status: Int32, json: [String: Any], err: String) {
    let r = try runProcess(strataPath, ["aof", "check"] + args + ["--json"])
    let j = (try? JSONSerialization.jsonObject(with: r.out) as? [String: Any]) ?? [:]
    return (r.status, j, r.err)
}

final class AOFCommandTests: XCTestCase {
    /// One real appendonlydir, made once: RDB-preamble base from a BGREWRITEAOF, an incr file
    /// with #TS annotations, MULTI/EXEC blocks and SELECTs over every type.
    nonisolated(unsafe) static var made: (dir: String, digest: String)?

    func realAOF(preamble: Bool = true) throws -> (dir: String, digest: String) {
        if preamble, let m = AOFCommandTests.made { return m }
        let o = try RedisOracle(extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes", "--aof-use-rdb-preamble", preamble ? "yes" : "no"])
        defer { o.stop() }
        var w = AOFWorkload(seed: aofSeed() &+ (preamble ? 0 : 1))
        _ = try o.pipe(respData([["FUNCTION", "LOAD", "#!lua name=strata_lib\nredis.register_function('strata_fn', function(keys, args) return 1 end)"]]))
        _ = try o.pipe(respData(w.batch(1500)))
        _ = try o.cmd("bgrewriteaof")
        o.waitForRewrite()
        _ = try o.pipe(respData([["SELECT", "0"]] + w.batch(1500)))
        usleep(1_100_000)   // a new second: a new #TS
        _ = try o.pipe(respData([["SELECT", "1"]] + w.batch(500)))
        let digest = try o.cmd("debug", "digest")
        o.stop()
        let dir = makeTempDir()
        try copyTree(o.dir + "/appendonlydir", dir + "/appendonlydir")
        if preamble { AOFCommandTests.made = (dir, digest) }
        return (dir, digest)
    }

    func testCheckAgreesWithRedisCheckAOFOnARealDirectory() throws {
        let (dir, _) = try realAOF()
        let manifest = dir + "/appendonlydir/appendonly.aof.manifest"
        let theirs = try redisCheckAOF([manifest])
        XCTAssertEqual(theirs.status, 0, theirs.out)
        let ours = try strataCheckJSON([dir + "/appendonlydir"])
        XCTAssertEqual(ours.status, 0, ours.err)
        XCTAssertEqual(ours.json["valid"] as? Bool, true)
        let files = ours.json["files"] as? [[String: Any]] ?? []
        XCTAssertEqual(files.count, theirs.okUpTo.count)
        for f in files {
            let name = f["name"] as! String
            XCTAssertEqual(f["ok_up_to"] as? Int, theirs.okUpTo[name], name)
        }
        XCTAssertEqual(files.first?["format"] as? String, "rdb")
        XCTAssertNotNil(files.last?["first_timestamp"] as? Int)
        // The data directory and the manifest path are accepted too.
        XCTAssertEqual(try strata("aof", "check", dir).status, 0)
        XCTAssertEqual(try strata("aof", "check", manifest).status, 0)
    }

    func testRewriteStartsRedisWithTheSameDigest() throws {
        for preamble in [true, false] {
            let (dir, digest) = try realAOF(preamble: preamble)
            for (p, layout) in [("rdb", "dir"), ("none", "dir"), ("rdb", "file"), ("none", "file")] {
                let out = makeTempDir()
                let target = layout == "dir" ? out + "/appendonlydir" : out + "/appendonly.aof"
                let r = try strata("aof", "rewrite", dir + "/appendonlydir", "-o", target, "--preamble", p, "--layout", layout)
                XCTAssertEqual(r.status, 0, r.err)
                let loaded = redisDigest(ofAOFDataDir: out)
                XCTAssertEqual(loaded.digest, digest, "input preamble \(preamble), output \(p)/\(layout): \(loaded.log.suffix(800))")
                XCTAssertTrue(loaded.functions.contains("strata_lib"), "functions survive the rewrite (\(p)/\(layout))")
                if layout == "dir" {
                    XCTAssertEqual(try redisCheckAOF([target + "/appendonly.aof.manifest"]).status, 0)
                }
            }
            // Never overwrites: an existing output is refused and left alone.
            let out = makeTempDir() + "/taken.aof"
            try Data("keep".utf8).write(to: URL(fileURLWithPath: out))
            XCTAssertEqual(try strata("aof", "rewrite", dir + "/appendonlydir", "-o", out, "--layout", "file").status, 1)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep")
        }
    }

    func testRESPDumpPipedIntoRedisGivesTheSameDigest() throws {
        let (dir, digest) = try realAOF()
        let r = try strata("aof", "dump", dir + "/appendonlydir", "--format", "resp")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(String(decoding: r.out, as: UTF8.self).contains("#TS:"))
        let o = try RedisOracle()
        defer { o.stop() }
        _ = try o.pipe(r.out)
        XCTAssertEqual(try o.cmd("debug", "digest"), digest)
        // text and json carry provenance and time.
        let text = String(decoding: try strata("aof", "dump", dir + "/appendonlydir", "--format", "text").out, as: UTF8.self)
        XCTAssertTrue(text.contains(".base.rdb@rdb:"), String(text.prefix(300)))
        XCTAssertTrue(text.contains(".incr.aof:"))
        let json = try strata("aof", "dump", dir + "/appendonlydir", "--format", "json").out
        for line in json.split(separator: UInt8(ascii: "\n")).prefix(50) {
            let obj = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            XCTAssertNotNil(obj?["args"] as? [Any])
            XCTAssertNotNil(obj?["file"] as? String)
        }
    }

    /// Damaged copies of a real incr file: strata's verdict and valid prefix equal
    /// redis-check-aof's; a fix gives the dataset redis-check-aof's fix gives; damage with data
    /// after it is only cut when asked.
    func testDamageVerdictsAndFixesAgreeWithRedisCheckAOF() throws {
        let (dir, _) = try realAOF()
        let src = dir + "/appendonlydir"
        let m = try AOFManifest.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: src + "/appendonly.aof.manifest"))))
        let incrName = String(decoding: m.incrs.last!.file, as: UTF8.self)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: src + "/" + incrName)))
        // Command boundaries of the incr file (from our own scanner's view of redis's file).
        var rng = SeededRNG(seed: aofSeed())
        let unclosed = Array("*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n".utf8)
        let mid = original.count / 2
        var cut = mid
        while !(original[cut - 1] == 10 && original[cut] == UInt8(ascii: "*")) { cut += 1 }
        var cases: [(String, [UInt8], String)] = [
            ("garbage tail", original + Array("xyz\r\n".utf8), "corrupt-tail"),
            ("zero-filled tail", original + [UInt8](repeating: 0, count: 4096), "zero-filled"),
            ("unclosed MULTI", original + unclosed, "unclosed-multi"),
            ("garbage in the middle", Array(original[..<cut]) + Array("GARBAGE".utf8) + Array(original[cut...]), "corrupt-middle"),
            ("negative bulk length", original + Array("*2\r\n$-5\r\n".utf8), "corrupt-tail"),
            ("nested MULTI", original + Array("*1\r\n$5\r\nMULTI\r\n".utf8) + unclosed, "corrupt-middle"),
        ]
        for _ in 0..<12 {
            let at = original.count - 1 - Int(rng.next() % UInt64(min(400, original.count - 1)))
            cases.append(("truncated at \(at)", Array(original[..<at]), "truncated"))
        }
        for (name, bytes, kind) in cases {
            let work = makeTempDir()
            try copyTree(src, work + "/appendonlydir")
            try Data(bytes).write(to: URL(fileURLWithPath: work + "/appendonlydir/" + incrName))
            let theirs = try redisCheckAOF([work + "/appendonlydir/appendonly.aof.manifest"])
            let ours = try strataCheckJSON([work + "/appendonlydir"])
            let files = ours.json["files"] as? [[String: Any]] ?? []
            let last = files.last ?? [:]
            if bytes.count < original.count && original.starts(with: bytes) && theirs.status == 0 {
                // Cut exactly at a command boundary: valid for both.
                XCTAssertEqual(ours.status, 0, name)
                continue
            }
            XCTAssertEqual(theirs.status, 1, "\(name): \(theirs.out)")
            XCTAssertEqual(ours.status, 1, "\(name): \(ours.err)")
            XCTAssertEqual(last["ok_up_to"] as? Int, theirs.okUpTo[incrName], "\(name): \(theirs.out)")
            XCTAssertEqual(last["damage"] as? String, kind, name)

            // The fixes: redis-check-aof's (answering its prompt) on one copy, ours on another.
            let theirsFixed = makeTempDir()
            try copyTree(work + "/appendonlydir", theirsFixed + "/appendonlydir")
            _ = try redisCheckAOF(["--fix", theirsFixed + "/appendonlydir/appendonly.aof.manifest"], stdin: "y\n")
            let expected = redisDigest(ofAOFDataDir: theirsFixed, extra: ["--aof-load-truncated", "no"])
            XCTAssertNotNil(expected.digest, "\(name): redis does not start after redis-check-aof --fix: \(expected.log.suffix(500))")

            let fix = try runProcess(strataPath, ["aof", "check", "--fix", work + "/appendonlydir"])
            if kind == "corrupt-middle" {
                XCTAssertEqual(fix.status, 1, name)
                XCTAssertTrue(fix.err.contains("--cut-damaged"), fix.err)
                XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: work + "/appendonlydir/" + incrName))), bytes, "\(name): refused, so unchanged")
                let forced = try runProcess(strataPath, ["aof", "check", "--fix", "--cut-damaged", work + "/appendonlydir"])
                XCTAssertEqual(forced.status, 0, "\(name): \(forced.err)")
            } else {
                XCTAssertEqual(fix.status, 0, "\(name): \(fix.err) \(String(decoding: fix.out, as: UTF8.self))")
            }
            let kept = try FileManager.default.contentsOfDirectory(atPath: work + "/appendonlydir").filter { $0.contains(".strata-orig-") }
            XCTAssertEqual(kept.count, 1, "\(name): the original is kept")
            if let k = kept.first {
                XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: work + "/appendonlydir/" + k))), bytes)
            }
            XCTAssertEqual(try redisCheckAOF([work + "/appendonlydir/appendonly.aof.manifest"]).status, 0, name)
            let ourDigest = redisDigest(ofAOFDataDir: work, extra: ["--aof-load-truncated", "no"])
            XCTAssertEqual(ourDigest.digest, expected.digest, "\(name): \(ourDigest.log.suffix(500))")
        }
    }

    func testMaxLossBoundsTheFix() throws {
        let (dir, _) = try realAOF()
        let work = makeTempDir()
        try copyTree(dir + "/appendonlydir", work + "/appendonlydir")
        let m = try AOFManifest.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: work + "/appendonlydir/appendonly.aof.manifest"))))
        let incr = work + "/appendonlydir/" + String(decoding: m.incrs.last!.file, as: UTF8.self)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: incr))
        h.seekToEndOfFile(); h.write(Data([UInt8](repeating: 0, count: 5000))); try h.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: incr))
        let r = try runProcess(strataPath, ["aof", "check", "--fix", "--max-loss", "1000", work + "/appendonlydir"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("--max-loss"), r.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: incr)), before)
        XCTAssertEqual(try runProcess(strataPath, ["aof", "check", "--fix", "--max-loss", "5000", work + "/appendonlydir"]).status, 0)
    }

    /// --truncate-to-timestamp in a file that is not the last: the same dataset as
    /// redis-check-aof's cut of the equivalent single file.
    func testTruncateToTimestampInAnyFile() throws {
        let o = try RedisOracle(extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes", "--aof-use-rdb-preamble", "no"])
        var w = AOFWorkload(seed: aofSeed() &+ 7)
        var stamps = [Int]()
        for _ in 0..<3 {
            usleep(1_050_000)
            stamps.append(Int(Date().timeIntervalSince1970))
            _ = try o.pipe(respData([["SELECT", "0"]] + w.batch(200, streams: false)))
        }
        o.stop()
        let src = o.dir + "/appendonlydir"
        let m = try AOFManifest.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: src + "/appendonly.aof.manifest"))))
        let baseName = String(decoding: m.base!.file, as: UTF8.self)
        let incrName = String(decoding: m.incrs.last!.file, as: UTF8.self)
        let base = [UInt8](try Data(contentsOf: URL(fileURLWithPath: src + "/" + baseName)))
        let incr = [UInt8](try Data(contentsOf: URL(fileURLWithPath: src + "/" + incrName)))
        // Split the incr file in two at the second #TS annotation: two incr files.
        var tsAt = [Int]()
        for i in 0..<(incr.count - 4) where (i == 0 || incr[i - 1] == 10) && incr[i] == UInt8(ascii: "#") { tsAt.append(i) }
        XCTAssertGreaterThanOrEqual(tsAt.count, 3, "three seconds, three #TS lines")
        guard tsAt.count >= 3 else { return }
        let work = makeTempDir() + "/appendonlydir"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data(base).write(to: URL(fileURLWithPath: work + "/" + baseName))
        try Data(incr[..<tsAt[2]]).write(to: URL(fileURLWithPath: work + "/appendonly.aof.1.incr.aof"))
        try Data(incr[tsAt[2]...]).write(to: URL(fileURLWithPath: work + "/appendonly.aof.2.incr.aof"))
        try Data("file \(baseName) seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n".utf8)
            .write(to: URL(fileURLWithPath: work + "/appendonly.aof.manifest"))
        XCTAssertEqual(try redisCheckAOF([work + "/appendonly.aof.manifest"]).status, 0)
        // Cut to the first batch's second: inside the first incr file.
        let t = String(stamps[0])
        // The oracle: the same commands as one legacy file, cut by redis-check-aof.
        let legacy = makeTempDir()
        try Data(base + incr).write(to: URL(fileURLWithPath: legacy + "/appendonly.aof"))
        let theirs = try redisCheckAOF(["--truncate-to-timestamp", t, legacy + "/appendonly.aof"])
        XCTAssertEqual(theirs.status, 0, theirs.out)
        let expected = redisDigest(ofAOFDataDir: legacy)
        XCTAssertNotNil(expected.digest, expected.log)

        let r = try runProcess(strataPath, ["aof", "check", "--truncate-to-timestamp", t, work])
        XCTAssertEqual(r.status, 0, r.err + String(decoding: r.out, as: UTF8.self))
        let names = try FileManager.default.contentsOfDirectory(atPath: work)
        XCTAssertTrue(names.contains { $0.hasPrefix("appendonly.aof.2.incr.aof.strata-dropped-") }, "\(names)")
        XCTAssertTrue(names.contains { $0.hasPrefix("appendonly.aof.manifest.strata-orig-") }, "\(names)")
        XCTAssertEqual(try redisCheckAOF([work + "/appendonly.aof.manifest"]).status, 0)
        let ours = redisDigest(ofAOFDataDir: AtomicFile.directory(of: work))
        XCTAssertEqual(ours.digest, expected.digest, ours.log.suffix(600).description)
        // Again: nothing later than T is left.
        let again = try runProcess(strataPath, ["aof", "check", "--truncate-to-timestamp", t, work])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(String(decoding: again.out, as: UTF8.self).contains("nothing to cut"))
        // A time before the oldest point is refused and changes nothing.
        let early = try runProcess(strataPath, ["aof", "check", "--truncate-to-timestamp", "1000", work])
        XCTAssertEqual(early.status, 1, String(decoding: early.out, as: UTF8.self))
    }

    /// A legacy single-file AOF (Redis 6 style, RESP only): the same verdicts as
    /// redis-check-aof, valid and truncated, and a fix that redis-server 7.0 loads.
    func testLegacySingleFileAgreesWithRedisCheckAOF() throws {
        let (dir, digest) = try realAOF(preamble: false)
        let m = try AOFManifest.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/appendonlydir/appendonly.aof.manifest"))))
        var whole = [UInt8]()
        for e in [m.base!] + m.incrs { whole += [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/appendonlydir/" + String(decoding: e.file, as: UTF8.self)))) }
        let legacy = makeTempDir()
        try Data(whole).write(to: URL(fileURLWithPath: legacy + "/appendonly.aof"))
        XCTAssertEqual(try redisCheckAOF([legacy + "/appendonly.aof"]).status, 0)
        let ok = try strataCheckJSON([legacy + "/appendonly.aof"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertEqual(ok.json["layout"] as? String, "legacy")
        // Rewritten from the legacy file: the same dataset.
        let out = makeTempDir()
        XCTAssertEqual(try strata("aof", "rewrite", legacy + "/appendonly.aof", "-o", out + "/appendonly.aof").status, 0)
        XCTAssertEqual(redisDigest(ofAOFDataDir: out).digest, digest)
        // Truncated mid-command.
        let cut = makeTempDir()
        try Data(whole.dropLast(7)).write(to: URL(fileURLWithPath: cut + "/appendonly.aof"))
        let theirs = try redisCheckAOF([cut + "/appendonly.aof"])
        let ours = try strataCheckJSON([cut + "/appendonly.aof"])
        XCTAssertEqual(theirs.status, 1)
        XCTAssertEqual(ours.status, 1)
        let f = (ours.json["files"] as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(f["ok_up_to"] as? Int, theirs.okUpTo.values.first, theirs.out)
        XCTAssertEqual(f["damage"] as? String, "truncated")
        XCTAssertEqual(try runProcess(strataPath, ["aof", "check", "--fix", cut + "/appendonly.aof"]).status, 0)
        XCTAssertEqual(try redisCheckAOF([cut + "/appendonly.aof"]).status, 0)
        XCTAssertNotNil(redisDigest(ofAOFDataDir: cut, extra: ["--aof-load-truncated", "no"]).digest)
    }

    func testHostileManifestsAreRefused() throws {
        let outside = makeTempDir() + "/secret.aof"
        try Data(respData([["SET", "stolen", "1"]])).write(to: URL(fileURLWithPath: outside))
        let names = ["../secret.aof", outside, "sub/secret.aof", "\"a\\x00b\""]
        for n in names {
            let dir = makeTempDir() + "/appendonlydir"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data("file \(n) seq 1 type i\n".utf8).write(to: URL(fileURLWithPath: dir + "/appendonly.aof.manifest"))
            for args in [["aof", "check", dir], ["aof", "dump", dir], ["aof", "rewrite", dir, "-o", dir + "-out"]] {
                let r = try runProcess(strataPath, args)
                XCTAssertEqual(r.status, 1, "\(n) \(args[1])")
                XCTAssertFalse(String(decoding: r.out, as: UTF8.self).contains("stolen"), n)
                XCTAssertTrue(r.err.contains("manifest"), "\(n): \(r.err)")
            }
        }
        // A directory without a manifest is not an empty dataset.
        let empty = makeTempDir() + "/appendonlydir"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let r = try runProcess(strataPath, ["aof", "check", empty])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("no AOF manifest"), r.err)
    }
}
