import Foundation
import XCTest
import StrataTestSupport
import StrataFormats
#if canImport(Glibc)
import Glibc
#endif

/// `strata backup` end to end, with real redis-server 7.0 as the source and as the judge of
/// what was stored (DEBUG DIGEST of the restored data).
final class BackupTests: XCTestCase {
    /// Files under a directory with their sizes (what "the repository is untouched" compares).
    func tree(_ dir: String) -> [String: Int] {
        var out = [String: Int]()
        let e = FileManager.default.enumerator(atPath: dir)
        while let p = e?.nextObject() as? String {
            var st = stat()
            if stat(dir + "/" + p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && p != "lock" { out[p] = Int(st.st_size) }
        }
        return out
    }

    /// The dataset of a chain (its snapshot, then its increments) as redis-server loads it.
    func chainDigest(repo: String, chain: String) throws -> String {
        let cat = try listJSON(repo)
        let chains = (cat["chains"] as? [[String: Any]]) ?? []
        guard let c = chains.first(where: { $0["id"] as? String == chain }), let snapID = c["snapshot"] as? String else {
            XCTFail("no chain \(chain)"); return ""
        }
        let snaps = (cat["snapshots"] as? [[String: Any]]) ?? []
        let snap = snaps.first { $0["id"] as? String == snapID }
        let d = makeTempDir()
        let aof = d + "/appendonlydir"
        try FileManager.default.createDirectory(atPath: aof, withIntermediateDirectories: true)
        var manifest = ""
        if let f = snap?["file"] as? String {
            try FileManager.default.copyItem(atPath: repo + "/" + f, toPath: aof + "/appendonly.aof.1.base.rdb")
            manifest += "file appendonly.aof.1.base.rdb seq 1 type b\n"
        }
        var incr = Data()
        let n = (c["increments"] as? Int) ?? 0
        if n > 0 {
            for i in 1...n { incr.append(try Data(contentsOf: URL(fileURLWithPath: "\(repo)/chains/\(chain)/\(i).aof"))) }
        }
        try incr.write(to: URL(fileURLWithPath: aof + "/appendonly.aof.1.incr.aof"))
        manifest += "file appendonly.aof.1.incr.aof seq 1 type i\n"
        try manifest.write(toFile: aof + "/appendonly.aof.manifest", atomically: true, encoding: .utf8)
        let o = try RedisOracle(dir: d, extra: ["--appendonly", "yes"])
        defer { o.stop() }
        return try o.cmd("debug", "digest")
    }

    // MARK: live servers

    func testLiveServerSnapshotHasTheServersDigestDiskAndDiskless() throws {
        guard let bench = which("redis-benchmark") else { throw XCTSkip("redis-benchmark not installed") }
        for diskless in ["yes", "no"] {
            let o = try RedisOracle(extra: ["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0", "--requirepass", "pw"])
            defer { o.stop() }
            func cli(_ a: String...) throws -> String {
                let r = try runProcess(o.cli, ["-p", "\(o.port)", "-a", "pw", "--no-auth-warning"] + a)
                return String(decoding: r.out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            _ = try cli("debug", "populate", "50000", "pop", "40")
            // Write load for the whole test.
            let load = Process()
            load.executableURL = URL(fileURLWithPath: bench)
            load.arguments = ["-p", "\(o.port)", "-a", "pw", "-t", "set,lpush,sadd,hset,zadd", "-n", "100000000", "-r", "100000", "-q", "-c", "4"]
            load.standardOutput = FileHandle.nullDevice; load.standardError = FileHandle.nullDevice
            try load.run()
            defer { if load.isRunning { load.terminate(); load.waitUntilExit() } }
            usleep(300_000)
            let repo = makeTempDir() + "/repo"
            // Under load, without a pause: a valid snapshot is stored.
            var r = try backup(["create", "redis://:pw@127.0.0.1:\(o.port)", "--repo", repo])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.err, "", "a successful run is silent")
            // Writes paused around the check: the snapshot is exactly the server's dataset.
            XCTAssertEqual(try cli("client", "pause", "60000", "write"), "OK")
            let digest = try cli("debug", "digest")
            let keys = try cli("dbsize")
            r = try backup(["create", "redis://:pw@127.0.0.1:\(o.port)", "--repo", repo, "--label", "paused"])
            XCTAssertEqual(try cli("client", "unpause"), "OK")
            XCTAssertEqual(r.status, 0, r.err)
            try assertVerifies(repo, "diskless \(diskless)")
            let snaps = (try listJSON(repo)["snapshots"] as? [[String: Any]]) ?? []
            XCTAssertEqual(snaps.count, 2)
            guard let paused = snaps.first(where: { $0["label"] as? String == "paused" }), let file = paused["file"] as? String else { return XCTFail("no labelled snapshot") }
            XCTAssertEqual(paused["keys"] as? Int, Int(keys))
            let d = try RedisOracle.digest(ofRDB: repo + "/" + file)
            XCTAssertEqual(d.digest, digest, "repl-diskless-sync \(diskless): the stored snapshot is not the server's dataset")
            // No stale tail, no EOF mark: the stored file is exactly an RDB (verify re-parses it).
            let bytes = try Data(contentsOf: URL(fileURLWithPath: repo + "/" + file))
            XCTAssertTrue(bytes.starts(with: Data("REDIS".utf8)))
        }
    }

    func testBadServersFailCleanly() throws {
        let o = try RedisOracle(extra: ["--requirepass", "right"])
        defer { o.stop() }
        let repo = makeTempDir() + "/repo"
        var r = try backup(["create", "redis://:wrong@127.0.0.1:\(o.port)", "--repo", repo])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("authentication failed"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, "one line: \(r.err)")
        r = try backup(["create", "redis://127.0.0.1:\(o.port)", "--repo", repo])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("refused") || r.err.contains("NOAUTH"), r.err)
        r = try backup(["create", "redis://127.0.0.1:\(freeLoopbackPort())", "--repo", repo])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("cannot connect"), r.err)
        r = try backup(["create", "redis://127.0.0.1:notaport", "--repo", repo])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertEqual(try snapshotIDs(repo), [])
        XCTAssertTrue(tree(repo).keys.allSatisfy { !$0.hasPrefix("snapshots/") && !$0.hasPrefix("tmp/") }, "\(tree(repo))")
    }

    // MARK: data directories and AOF chains

    /// A data directory under a real server with timestamps: increments archived run after run,
    /// a rewrite between runs (Redis deletes the old incr file; the pin keeps its tail), and
    /// every chain replays to the digest the server had.
    func testDataDirectoryChainsAcrossARewrite() throws {
        let dir = makeTempDir()
        let o = try RedisOracle(dir: dir, extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes"])
        defer { o.stop() }
        let repo = makeTempDir() + "/repo"
        try burst(o, 200, tag: "a")
        var r = try backup(["create", dir, "--repo", repo])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "")
        sleep(1)
        try burst(o, 150, tag: "b")
        r = try backup(["create", dir, "--repo", repo, "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let second = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        XCTAssertEqual((second?["increments"] as? [Any])?.count, 1, "the second run archives only the new commands: \(r.out)")
        // Nothing new: nothing stored.
        r = try backup(["create", dir, "--repo", repo, "--json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])?["increments"] as? [Any] == nil ? 1 : ((try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])?["increments"] as? [Any])?.count, 0)
        // More writes, then a rewrite before the next run: the old incr file is deleted by Redis.
        sleep(1)
        try burst(o, 100, tag: "c")
        let beforeRewrite = try o.cmd("debug", "digest")
        XCTAssertTrue(try o.cmd("bgrewriteaof").contains("started"))
        try o.waitForAOFRewrite()
        usleep(200_000)
        try burst(o, 80, tag: "d")
        let afterRewrite = try o.cmd("debug", "digest")
        r = try backup(["create", dir, "--repo", repo, "-v"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.err.contains("warning"), "no gap: the pin kept the old file's tail: \(r.err)")
        try assertVerifies(repo, "after rewrite")
        let cat = try listJSON(repo)
        let chains = ((cat["chains"] as? [[String: Any]]) ?? []).sorted { ($0["start"] as? Int ?? 0) < ($1["start"] as? Int ?? 0) }
        XCTAssertEqual(chains.count, 2)
        XCTAssertEqual(chains.first?["closed"] as? Bool, true)
        XCTAssertEqual(chains.first?["timestamps"] as? Bool, true)
        XCTAssertEqual(try chainDigest(repo: repo, chain: chains[0]["id"] as! String), beforeRewrite, "the closed chain ends exactly at the rewrite")
        XCTAssertEqual(try chainDigest(repo: repo, chain: chains[1]["id"] as! String), afterRewrite, "the new chain is the server's dataset now")
        let windows = (cat["windows"] as? [[String: Any]]) ?? []
        XCTAssertEqual(windows.count, 1, "one restorable window without a gap: \(windows)")
        // The same server, the same repo: a later prune that keeps the newest keeps the open chain.
        r = try backup(["prune", "--repo", repo, "--keep-last", "1", "--dry-run"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("keep") && r.out.contains("last #1"), r.out)
    }

    /// Without the pin (as with a repository on another file system), a rewrite before the next
    /// run deletes commands nobody archived: the run warns of the gap and list shows two windows.
    func testLostTailIsReportedAsAGap() throws {
        let dir = makeTempDir()
        let o = try RedisOracle(dir: dir, extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes"])
        defer { o.stop() }
        let repo = makeTempDir() + "/repo"
        try burst(o, 50, tag: "a")
        XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0)
        for p in try FileManager.default.contentsOfDirectory(atPath: repo + "/pins") { try FileManager.default.removeItem(atPath: repo + "/pins/" + p) }
        sleep(2)
        try burst(o, 50, tag: "b")
        XCTAssertTrue(try o.cmd("bgrewriteaof").contains("started"))
        try o.waitForAOFRewrite()
        usleep(300_000)
        let r = try backup(["create", dir, "--repo", repo])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("warning: gap") && r.err.contains("lost"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        XCTAssertEqual(((try listJSON(repo)["windows"] as? [Any]) ?? []).count, 2)
        try assertVerifies(repo, "gap")
    }

    /// A single AOF file: appended between runs (increments), truncated in place (a new chain and
    /// a reported gap), never mistaken for the same history.
    func testSingleAOFFileAppendedThenTruncated() throws {
        let d = makeTempDir()
        let f = d + "/appendonly.aof"
        func cmd(_ a: [String]) -> String { "*\(a.count)\r\n" + a.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined() }
        try ("#TS:1795500000\r\n" + cmd(["SET", "a", "1"]) + cmd(["SET", "b", "2"])).write(toFile: f, atomically: false, encoding: .utf8)
        let repo = d + "/repo"
        XCTAssertEqual(try backup(["create", f, "--repo", repo]).status, 0)
        let h = FileHandle(forWritingAtPath: f)!
        h.seekToEndOfFile()
        h.write(Data(("#TS:1795500005\r\n" + cmd(["MULTI"]) + cmd(["INCR", "c"]) + cmd(["EXEC"]) + "*2\r\n$3\r\nGET").utf8))   // a partial command at the end
        try h.close()
        var r = try backup(["create", f, "--repo", repo, "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        var cat = try listJSON(repo)
        var chains = (cat["chains"] as? [[String: Any]]) ?? []
        XCTAssertEqual(chains.count, 1)
        XCTAssertEqual(chains.first?["increments"] as? Int, 2)
        XCTAssertEqual(chains.first?["commands"] as? Int, 5, "the partial command waits for the next run")
        try assertVerifies(repo, "appended")
        // A catalog (validly checksummed) that lost the first increment: verify names the hole.
        let tampered = d + "/tampered"
        try FileManager.default.copyItem(atPath: repo, toPath: tampered)
        let raw = try Data(contentsOf: URL(fileURLWithPath: tampered + "/catalog.json"))
        let outer = try JSONSerialization.jsonObject(with: raw) as! [String: Any]
        var body = outer["catalog"] as! [String: Any]
        var ch = (body["chains"] as! [[String: Any]])
        var incs = ch[0]["increments"] as! [[String: Any]]
        incs.removeFirst()
        ch[0]["increments"] = incs
        body["chains"] = ch
        let bodyData = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        var crc = CRC64()
        crc.update([UInt8](bodyData))
        let hex = String(crc.value, radix: 16)
        let framed = Data("{\"checksum\":\"\(String(repeating: "0", count: 16 - hex.count) + hex)\",\"catalog\":".utf8) + bodyData + Data("}\n".utf8)
        try framed.write(to: URL(fileURLWithPath: tampered + "/catalog.json"))
        try framed.write(to: URL(fileURLWithPath: tampered + "/catalog.json.copy"))
        let v = try backup(["verify", "--repo", tampered])
        XCTAssertEqual(v.status, 4, v.err)
        XCTAssertTrue(v.err.contains("first increment is number 2"), v.err)
        // Cut the file back (as redis-check-aof --fix would): a new chain, and the gap said on stderr.
        truncate(f, 40)
        r = try backup(["create", f, "--repo", repo])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("warning") && r.err.contains("truncated"), r.err)
        cat = try listJSON(repo)
        chains = (cat["chains"] as? [[String: Any]]) ?? []
        XCTAssertEqual(chains.count, 2)
        try assertVerifies(repo, "truncated")
    }

    // MARK: bad input

    func testBadSourcesAndRepositoriesAreRefused() throws {
        let d = makeTempDir()
        let repo = d + "/repo"
        let good = fixture("redis-7.0-all-types.rdb")
        var r = try backup(["create", good, "--repo", repo])
        guard r.status == 0 else { return XCTFail("fixture backup failed: \(r.err)") }
        let before = tree(repo)
        let catalogBefore = try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json"))
        // A corrupt RDB: refused, nothing stored.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        bytes[bytes.count / 2] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: d + "/bad.rdb"))
        r = try backup(["create", d + "/bad.rdb", "--repo", repo])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("bad.rdb"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        // A stale tail after the RDB (redis-cli --rdb's trap): refused.
        try Data(try Data(contentsOf: URL(fileURLWithPath: good)) + Data("old tail".utf8)).write(to: URL(fileURLWithPath: d + "/tail.rdb"))
        r = try backup(["create", d + "/tail.rdb", "--repo", repo])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("after the end of the RDB"), r.err)
        // A missing source, a directory that is not Redis's.
        XCTAssertEqual(try backup(["create", d + "/nope.rdb", "--repo", repo]).status, 1)
        try FileManager.default.createDirectory(atPath: d + "/empty", withIntermediateDirectories: true)
        r = try backup(["create", d + "/empty", "--repo", repo])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("neither dump.rdb nor appendonlydir"), r.err)
        XCTAssertEqual(tree(repo), before)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json")), catalogBefore)
        // Not a repository; a newer format.
        try "hello".write(toFile: d + "/empty/file.txt", atomically: true, encoding: .utf8)
        r = try backup(["create", good, "--repo", d + "/empty"])
        XCTAssertEqual(r.status, 5)
        XCTAssertTrue(r.err.contains("not a strata backup repository"), r.err)
        XCTAssertEqual(try backup(["list", "--repo", d + "/missing"]).status, 5)
        let newer = d + "/newer"
        try FileManager.default.copyItem(atPath: repo, toPath: newer)
        try "strata-backup-repository 99\n".write(toFile: newer + "/FORMAT", atomically: true, encoding: .utf8)
        r = try backup(["create", good, "--repo", newer])
        XCTAssertEqual(r.status, 5)
        XCTAssertTrue(r.err.contains("newer"), r.err)
        // Usage errors exit 2.
        XCTAssertEqual(try backup(["create", good]).status, 2)
        XCTAssertEqual(try backup(["prune", "--repo", repo]).status, 2)
        XCTAssertEqual(try backup(["prune", "--repo", repo, "--keep-within-pitr", "soon"]).status, 2)
    }

    func testDamagedCatalogAndSnapshotAreNamed() throws {
        let d = makeTempDir()
        let repo = d + "/repo"
        XCTAssertEqual(try backup(["create", fixture("redis-7.0-all-types.rdb"), "--repo", repo]).status, 0)
        // A damaged catalog: the copy still lists the backups; verify names the damage; create repairs it.
        var c = [UInt8](try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json")))
        c[c.count / 2] ^= 1
        try Data(c).write(to: URL(fileURLWithPath: repo + "/catalog.json"))
        XCTAssertEqual(try snapshotIDs(repo).count, 1)
        var r = try backup(["verify", "--repo", repo])
        XCTAssertEqual(r.status, 4)
        XCTAssertTrue(r.err.contains("catalog.json"), r.err)
        XCTAssertEqual(try backup(["create", fixture("redis-7.0-lfu.rdb"), "--repo", repo]).status, 0)
        try assertVerifies(repo, "repaired")
        // A flipped byte in a stored snapshot.
        let ids = try snapshotIDs(repo)
        let path = repo + "/snapshots/\(ids[0]).rdb"
        var s = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        s[s.count / 3] ^= 0x20
        try Data(s).write(to: URL(fileURLWithPath: path))
        r = try backup(["verify", "--repo", repo])
        XCTAssertEqual(r.status, 4)
        XCTAssertTrue(r.err.contains(ids[0]), r.err)
        // Verifying only the other snapshot passes.
        XCTAssertEqual(try backup(["verify", "--repo", repo, ids[1]]).status, 0)
    }

    func testLockIsExclusiveAndWaitWaits() throws {
        let d = makeTempDir()
        let repo = d + "/repo"
        let src = fixture("redis-7.0-all-types.rdb")
        XCTAssertEqual(try backup(["create", src, "--repo", repo]).status, 0)
        var st = stat()
        XCTAssertEqual(stat(repo + "/lock", &st), 0)
        XCTAssertEqual(st.st_mode & 0o077, 0, "the lock file is not readable by others")
        let fd = open(repo + "/lock", O_RDWR)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        var r = try backup(["create", fixture("redis-7.0-lfu.rdb"), "--repo", repo])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.err.contains("locked"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1)
        XCTAssertEqual(try backup(["prune", "--repo", repo, "--keep-last", "1"]).status, 3)
        XCTAssertEqual(try backup(["verify", "--repo", repo]).status, 3)
        XCTAssertEqual(try backup(["list", "--repo", repo]).status, 0, "list reads the catalog without the lock")
        // --wait: released after half a second, the run then goes ahead.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { close(fd) }
        r = try backup(["create", fixture("redis-7.0-lfu.rdb"), "--repo", repo, "--wait", "10"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try snapshotIDs(repo).count, 2)
    }

    // MARK: crash consistency

    /// kill -9 at every step of three runs (initialising a repository with its first backup, an
    /// incremental backup of a data directory, a prune): after each, verify and list must show
    /// every earlier backup intact, and the next run must succeed and leave nothing behind.
    func testKillAtEveryStepLeavesTheRepositoryValid() throws {
        let base = makeTempDir()
        let dir = base + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let o = try RedisOracle(dir: dir, extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes"])
        try burst(o, 60, tag: "a")
        let template = base + "/template"
        XCTAssertEqual(try backup(["create", fixture("redis-7.0-all-types.rdb"), "--repo", template]).status, 0)
        XCTAssertEqual(try backup(["create", fixture("redis-7.0-lfu.rdb"), "--repo", template]).status, 0)
        XCTAssertEqual(try backup(["create", dir, "--repo", template]).status, 0)
        try burst(o, 60, tag: "b")
        _ = try o.cmd("save")
        o.stop()
        let earlier = Set(try snapshotIDs(template))
        XCTAssertEqual(earlier.count, 3)

        func steps(_ args: [String], repo: String) throws -> Int {
            let r = try backup(args, env: ["STRATA_BACKUP_COUNT_STEPS": "1"])
            XCTAssertEqual(r.status, 0, r.err)
            guard let line = r.err.split(separator: "\n").first(where: { $0.hasPrefix("strata-backup-steps: ") }),
                  let n = Int(line.dropFirst("strata-backup-steps: ".count)) else { XCTFail("no step count: \(r.err)"); return 0 }
            return n
        }
        func copyTemplate(_ to: String) throws {
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.copyItem(atPath: template, toPath: to)
        }
        var killPoints = 0
        // 1. A new repository and its first backup.
        let fresh = base + "/fresh"
        let n1 = try steps(["create", dir, "--repo", fresh], repo: fresh)
        for k in 1...n1 {
            try? FileManager.default.removeItem(atPath: fresh)
            let r = try backup(["create", dir, "--repo", fresh], env: ["STRATA_BACKUP_CRASH_AT": "\(k)"])
            XCTAssertNotEqual(r.status, 0, "step \(k) of \(n1) was not reached")
            killPoints += 1
            let v = try backup(["verify", "--repo", fresh])
            XCTAssertTrue(v.status == 0 || (v.status == 5 && access(fresh + "/FORMAT", F_OK) != 0), "init kill \(k): \(v.err)")
            let again = try backup(["create", dir, "--repo", fresh])
            XCTAssertEqual(again.status, 0, "init kill \(k): the next run failed: \(again.err)")
            try assertVerifies(fresh, "init kill \(k)")
            XCTAssertEqual(try backup(["verify", "--repo", fresh, "--json"]).out.contains("\"notes\":[]"), true, "init kill \(k): leftovers")
        }
        // 2. An incremental backup into a repository with three backups.
        let inc = base + "/inc"
        try copyTemplate(inc)
        let n2 = try steps(["create", dir, "--repo", inc], repo: inc)
        for k in 1...n2 {
            try copyTemplate(inc)
            let r = try backup(["create", dir, "--repo", inc], env: ["STRATA_BACKUP_CRASH_AT": "\(k)"])
            XCTAssertNotEqual(r.status, 0, "step \(k) of \(n2) was not reached")
            killPoints += 1
            try assertVerifies(inc, "create kill \(k)")
            XCTAssertTrue(earlier.isSubset(of: Set(try snapshotIDs(inc))), "create kill \(k): an earlier backup vanished")
            XCTAssertEqual(try backup(["create", dir, "--repo", inc]).status, 0)
            try assertVerifies(inc, "create kill \(k), then a run")
            XCTAssertTrue(try backup(["verify", "--repo", inc, "--json"]).out.contains("\"notes\":[]"), "create kill \(k): leftovers")
        }
        // 3. A prune that drops the two RDB-file snapshots.
        let pr = base + "/prune"
        try copyTemplate(pr)
        XCTAssertEqual(try backup(["create", dir, "--repo", pr]).status, 0)
        let prTemplate = base + "/prune-template"
        try FileManager.default.copyItem(atPath: pr, toPath: prTemplate)
        let all = Set(try snapshotIDs(pr))
        let n3 = try steps(["prune", "--repo", pr, "--keep-last", "1"], repo: pr)
        let kept = Set(try snapshotIDs(pr))
        XCTAssertLessThan(kept.count, all.count)
        for k in 1...n3 {
            try? FileManager.default.removeItem(atPath: pr)
            try FileManager.default.copyItem(atPath: prTemplate, toPath: pr)
            let r = try backup(["prune", "--repo", pr, "--keep-last", "1"], env: ["STRATA_BACKUP_CRASH_AT": "\(k)"])
            XCTAssertNotEqual(r.status, 0)
            killPoints += 1
            try assertVerifies(pr, "prune kill \(k)")
            let now = Set(try snapshotIDs(pr))
            XCTAssertTrue(now == all || now == kept, "prune kill \(k): half a prune is visible: \(now)")
            XCTAssertEqual(try backup(["prune", "--repo", pr, "--keep-last", "1"]).status, 0)
            XCTAssertEqual(Set(try snapshotIDs(pr)), kept)
            XCTAssertTrue(try backup(["verify", "--repo", pr, "--json"]).out.contains("\"notes\":[]"), "prune kill \(k): leftovers")
        }
        print("kill points: \(killPoints) (init \(n1), create \(n2), prune \(n3))")
        XCTAssertGreaterThanOrEqual(killPoints, 50)
    }

    /// Disk faults through the file-system seam: the run fails with one line, the repository is
    /// exactly as before.
    func testDiskFaultsLeaveTheRepositoryUntouched() throws {
        let d = makeTempDir()
        let repo = d + "/repo"
        XCTAssertEqual(try backup(["create", fixture("redis-7.0-all-types.rdb"), "--repo", repo]).status, 0)
        let before = tree(repo)
        let catalog = try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json"))
        for fault in ["write:1:ENOSPC", "fsync:1:EIO", "rename:1:EXDEV", "fsyncdir:1:EIO", "create:1:EDQUOT", "write:2:ENOSPC", "fsync:2:EIO", "rename:2:EIO"] {
            let r = try backup(["create", fixture("redis-7.0-lfu.rdb"), "--repo", repo], env: ["STRATA_BACKUP_FAULT": fault])
            XCTAssertEqual(r.status, 1, "\(fault): \(r.err)")
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, "\(fault): \(r.err)")
            XCTAssertEqual(tree(repo), before, "\(fault): the repository changed")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json")), catalog)
            try assertVerifies(repo, fault)
        }
    }

    // MARK: prune

    func testPruneDeletesWhatNoRuleKeepsAndSaysWhy() throws {
        let d = makeTempDir()
        let repo = d + "/repo"
        let fixtures = ["redis-7.0-all-types.rdb", "redis-7.0-lfu.rdb"]
        for f in fixtures { XCTAssertEqual(try backup(["create", fixture(f), "--repo", repo]).status, 0) }
        let ids = try snapshotIDs(repo)
        XCTAssertEqual(ids.count, 2)
        var r = try backup(["prune", "--repo", repo, "--keep-last", "1", "--dry-run"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.out.contains("last #1") && r.out.contains("would remove"), r.out)
        XCTAssertEqual(try snapshotIDs(repo).count, 2, "a dry run deletes nothing")
        r = try backup(["prune", "--repo", repo, "--keep-last", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let after = try snapshotIDs(repo)
        XCTAssertEqual(after.count, 1)
        XCTAssertEqual(Set(tree(repo).keys.filter { $0.hasPrefix("snapshots/") }), Set(after.map { "snapshots/\($0).rdb" }))
        try assertVerifies(repo, "pruned")
    }
}

/// Shared by the backup and restore tests.
extension XCTestCase {

    @discardableResult
    func backup(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let r = try runProcess(strataPath, ["backup"] + args, env: env)
        return (r.status, String(decoding: r.out, as: UTF8.self), r.err)
    }

    func listJSON(_ repo: String) throws -> [String: Any] {
        let r = try backup(["list", "--repo", repo, "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        return (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]) ?? [:]
    }

    func snapshotIDs(_ repo: String) throws -> [String] {
        ((try listJSON(repo)["snapshots"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
    }

    func assertVerifies(_ repo: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try backup(["verify", "--repo", repo, "--json"])
        XCTAssertEqual(r.status, 0, "\(context): verify: \(r.out) \(r.err)", file: file, line: line)
    }

    /// A mixed burst of writes of every type, in several databases, with TTLs and a MULTI block.
    func burst(_ o: RedisOracle, _ n: Int, tag: String) throws {
        var s = ""
        func cmd(_ a: [String]) { s += "*\(a.count)\r\n" + a.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined() }
        for i in 0..<n {
            cmd(["SELECT", String(i % 3)])
            cmd(["SET", "s:\(tag):\(i)", "v\(i)"])
            cmd(["RPUSH", "l:\(i % 7)", "\(tag)\(i)"])
            cmd(["SADD", "set:\(i % 5)", "\(tag)\(i)"])
            cmd(["ZADD", "z:\(i % 4)", "\(i)", "\(tag)\(i)"])
            cmd(["HSET", "h:\(i % 6)", "\(tag)\(i)", "\(i)"])
            cmd(["XADD", "x:\(i % 2)", "*", "f", "\(tag)\(i)"])
            if i % 10 == 0 { cmd(["EXPIRE", "s:\(tag):\(i)", "100000"]) }
            if i % 25 == 0 { cmd(["MULTI"]); cmd(["INCR", "ctr"]); cmd(["DEL", "s:\(tag):\(i / 2)"]); cmd(["EXEC"]) }
        }
        _ = try o.pipe(Data(s.utf8))
    }

}
