import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import StrataTestSupport

/// Point-in-time restore judged by real redis-server 7.0: checkpoints (unix second, DEBUG
/// DIGEST) are recorded while a server with aof-timestamp-enabled takes bursts of writes; the
/// restored data directory, started by redis-server, must have the recorded digest.
final class RestoreTests: XCTestCase {
    func strataRun(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try runProcess(strataPath, args)
        return (r.status, String(decoding: r.out, as: UTF8.self), r.err)
    }

    /// Sleeps into the next second, so later writes carry a later #TS than `now`.
    func nextSecond() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec)
        usleep(useconds_t((1_000_000_000 - Int(ts.tv_nsec)) / 1000 + 60_000))
        return now
    }

    func digestOf(_ outDir: String, aof: Bool = false) throws -> String {
        let o = try RedisOracle(dir: outDir, extra: aof ? ["--appendonly", "yes"] : [])
        defer { o.stop() }
        return try o.cmd("debug", "digest")
    }

    /// A scratch directory and redis-server on its data/ subdirectory, writing a timestamped AOF.
    func timestampedRedis() throws -> (base: String, dir: String, oracle: RedisOracle) {
        let base = makeTempDir()
        let dir = base + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (base, dir, try RedisOracle(dir: dir, extra: ["--appendonly", "yes", "--aof-timestamp-enabled", "yes"]))
    }

    func testRestoreToEveryCheckpointFromTheRepositoryAndTheAppendonlydir() throws {
        let (base, dir, o) = try timestampedRedis()
        defer { o.stop() }
        let repo = base + "/repo"
        var checkpoints = [(time: Int64, digest: String)]()
        var rewriteAfter: Int64 = 0
        for k in 0..<6 {
            try burst(o, 40, tag: "k\(k)")
            _ = try o.pipe(Data("*3\r\n$5\r\nPFADD\r\n$3\r\nhll\r\n$\(String(k).count + 1)\r\nk\(k)\r\n*5\r\n$6\r\nGEOADD\r\n$3\r\ngeo\r\n$4\r\n13.3\r\n$4\r\n52.5\r\n$\(String(k).count + 1)\r\np\(k)\r\n".utf8))
            checkpoints.append((0, try o.cmd("debug", "digest")))
            checkpoints[k].time = nextSecond()
            if k == 1 || k == 4 { XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0) }
            if k == 2 {
                XCTAssertTrue(try o.cmd("bgrewriteaof").contains("started"))
                try o.waitForAOFRewrite()
                rewriteAfter = nextSecond()
            }
        }
        XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0)
        try assertVerifies(repo, "restore source")
        for (i, cp) in checkpoints.enumerated() {
            let out = base + "/out-repo-\(i)"
            let r = try strataRun(["restore", repo, "--at", String(cp.time), "-o", out, "--json"])
            XCTAssertEqual(r.status, 0, "checkpoint \(i): \(r.err)")
            XCTAssertEqual(try digestOf(out), cp.digest, "checkpoint \(i) from the repository")
            // The raw appendonlydir holds only what follows its current base (the rewrite).
            let out2 = base + "/out-dir-\(i)"
            let r2 = try strataRun(["restore", dir + "/appendonlydir", "--at", String(cp.time), "-o", out2])
            if cp.time >= rewriteAfter {
                XCTAssertEqual(r2.status, 0, "checkpoint \(i): \(r2.err)")
                XCTAssertEqual(try digestOf(out2), cp.digest, "checkpoint \(i) from the appendonlydir")
            } else {
                XCTAssertEqual(r2.status, 1, "checkpoint \(i) is before the directory's base: \(r2.err)")
                XCTAssertTrue(r2.err.contains("before the oldest restorable point"), r2.err)
                XCTAssertFalse(FileManager.default.fileExists(atPath: out2), "nothing is left in OUTDIR")
            }
        }
        // An appendonlydir as output, loaded by redis-server with appendonly yes.
        let aofOut = base + "/out-aof"
        XCTAssertEqual(try strataRun(["restore", repo, "--at", String(checkpoints[3].time), "-o", aofOut, "--format", "aof"]).status, 0)
        let aofCopy = makeTempDir()
        try FileManager.default.copyItem(atPath: aofOut + "/appendonlydir", toPath: aofCopy + "/appendonlydir")
        XCTAssertEqual(try digestOf(aofOut, aof: true), checkpoints[3].digest)
        let strataOnAOF = try RedisOracle(server: strataPath, dir: aofCopy, leading: ["serve"], extra: ["--appendonly", "yes"])
        XCTAssertEqual(try strataOnAOF.cmd("debug", "digest"), checkpoints[3].digest, "strata serve on the restored appendonlydir")
        strataOnAOF.stop()
        // serve --from-backup: the same data, served; the repository is not written to.
        let catalog = try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json"))
        let served = try RedisOracle(server: strataPath, dir: makeTempDir(), leading: ["serve", "--from-backup", repo, "--at", String(checkpoints[2].time)])
        XCTAssertEqual(try served.cmd("debug", "digest"), checkpoints[2].digest)
        served.stop()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: repo + "/catalog.json")), catalog)
        // ISO 8601 with a zone names the same second.
        var t = time_t(checkpoints[4].time)
        var x = tm(); gmtime_r(&t, &x)
        let iso = String(format: "%04d-%02d-%02dT%02d:%02d:%02d+00:00", x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec)
        XCTAssertEqual(try strataRun(["restore", repo, "--at", iso, "-o", base + "/out-iso"]).status, 0)
        XCTAssertEqual(try digestOf(base + "/out-iso"), checkpoints[4].digest)
        // --match keeps only matching keys.
        XCTAssertEqual(try strataRun(["restore", repo, "--at", "latest", "-o", base + "/out-match", "--match", "h:*", "--match", "z:*"]).status, 0)
        let m = try RedisOracle(dir: base + "/out-match")
        let keys = try m.cmd("keys", "*").split(separator: "\n")
        XCTAssertFalse(keys.isEmpty)
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix("h:") || $0.hasPrefix("z:") }, "\(keys)")
        m.stop()
        // Refusals: the future, before everything, a non-empty OUTDIR, OUTDIR inside SOURCE.
        var r = try strataRun(["restore", repo, "--at", String(checkpoints[5].time + 3600), "-o", base + "/nope"])
        XCTAssertEqual(r.status, 1); XCTAssertTrue(r.err.contains("in the future"), r.err)
        r = try strataRun(["restore", repo, "--at", "1000000000", "-o", base + "/nope"])
        XCTAssertEqual(r.status, 1); XCTAssertTrue(r.err.contains("before the oldest"), r.err)
        r = try strataRun(["restore", repo, "--at", "latest", "-o", base + "/out-iso"])
        XCTAssertEqual(r.status, 1); XCTAssertTrue(r.err.contains("not empty"), r.err)
        r = try strataRun(["restore", repo, "--at", "latest", "-o", repo + "/inside"])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/nope"))
        XCTAssertEqual(try strataRun(["restore", repo, "--at", "latest", "-o", base + "/out-iso", "--force"]).status, 0)
        XCTAssertEqual(try digestOf(base + "/out-iso"), try o.cmd("debug", "digest"))

        // A gap: the pin gone (as on another file system), writes, a rewrite, then a backup.
        for p in try FileManager.default.contentsOfDirectory(atPath: repo + "/pins") { try FileManager.default.removeItem(atPath: repo + "/pins/" + p) }
        let beforeGap = nextSecond()
        _ = nextSecond()
        try burst(o, 20, tag: "lost")
        _ = nextSecond()
        XCTAssertTrue(try o.cmd("bgrewriteaof").contains("started"))
        try o.waitForAOFRewrite()
        let afterGap = nextSecond()
        XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0)
        let list = try strataRun(["restore", repo, "--list", "--json"])
        let gaps = ((try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [String: Any])?["gaps"] as? [[String: Any]]) ?? []
        XCTAssertEqual(gaps.count, 1, list.out)
        r = try strataRun(["restore", repo, "--at", String(beforeGap + 2), "-o", base + "/gap"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("falls in a gap"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/gap"))
        // Both sides of the gap restore.
        XCTAssertEqual(try strataRun(["restore", repo, "--at", String(checkpoints[5].time), "-o", base + "/gap-before"]).status, 0)
        XCTAssertEqual(try digestOf(base + "/gap-before"), checkpoints[5].digest)
        XCTAssertEqual(try strataRun(["restore", repo, "--at", String(afterGap), "-o", base + "/gap-after"]).status, 0)
    }

    /// A single AOF file with #TS annotations: restorable to each annotated second.
    func testSingleAOFFileWithTimestamps() throws {
        let d = makeTempDir()
        func cmd(_ a: [String]) -> String { "*\(a.count)\r\n" + a.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined() }
        let text = "#TS:1795500000\r\n" + cmd(["SET", "a", "1"]) + "#TS:1795500010\r\n" + cmd(["MULTI"]) + cmd(["SET", "b", "2"]) + cmd(["DEL", "a"]) + cmd(["EXEC"])
            + "#TS:1795500020\r\n" + cmd(["SET", "c", "3"])
        try text.write(toFile: d + "/appendonly.aof", atomically: true, encoding: .utf8)
        func keys(_ at: String) throws -> Set<String> {
            let out = d + "/out-\(at)"
            let r = try strataRun(["restore", d + "/appendonly.aof", "--at", at, "-o", out])
            XCTAssertEqual(r.status, 0, r.err)
            let k = try runProcess(strataPath, ["rdb", "dump", out + "/dump.rdb", "--format", "keys"])
            return Set(String(decoding: k.out, as: UTF8.self).split(separator: "\n").map(String.init))
        }
        XCTAssertEqual(try keys("1795500000"), ["a"])
        XCTAssertEqual(try keys("1795500009"), ["a"])
        XCTAssertEqual(try keys("1795500010"), ["b"], "the MULTI block is applied whole")
        XCTAssertEqual(try keys("1795500020"), ["b", "c"])
        let r = try strataRun(["restore", d + "/appendonly.aof", "--at", "1795499999", "-o", d + "/early"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("before the oldest"), r.err)
    }

    /// Expiry is judged at the target second, and --ttl-from now restarts the TTL left then.
    func testExpiryJudgedAtTheTargetTime() throws {
        let (base, dir, o) = try timestampedRedis()
        defer { o.stop() }
        XCTAssertEqual(try o.cmd("set", "short", "v", "ex", "3"), "OK")
        XCTAssertEqual(try o.cmd("set", "plain", "v"), "OK")
        let t = nextSecond()
        sleep(4)
        XCTAssertEqual(try o.cmd("exists", "short"), "0")
        XCTAssertEqual(try o.cmd("set", "later", "v"), "OK")
        let repo = base + "/repo"
        XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0)
        // At t the key had not expired: it is restored with its original absolute expiry...
        var r = try strataRun(["restore", repo, "--at", String(t), "-o", base + "/at", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let dump = try runProcess(strataPath, ["rdb", "dump", base + "/at/dump.rdb", "--format", "keys"])
        XCTAssertEqual(Set(String(decoding: dump.out, as: UTF8.self).split(separator: "\n").map(String.init)), ["short", "plain"])
        // ... which has passed now, so redis-server drops it while loading, as it would have.
        var s = try RedisOracle(dir: base + "/at")
        XCTAssertEqual(try s.cmd("dbsize"), "1")
        s.stop()
        // With --ttl-from now the 3 s it had left start at the restore.
        r = try strataRun(["restore", repo, "--at", String(t), "-o", base + "/now", "--ttl-from", "now"])
        XCTAssertEqual(r.status, 0, r.err)
        s = try RedisOracle(dir: base + "/now")
        XCTAssertEqual(try s.cmd("get", "short"), "v")
        let ttl = Int(try s.cmd("pttl", "short")) ?? -9
        XCTAssertTrue(ttl > 0 && ttl <= 3000, "pttl \(ttl)")
        s.stop()
        // After the expiry the key is gone even without a server to drop it.
        r = try strataRun(["restore", repo, "--at", String(t + 3), "-o", base + "/after", "--ttl-from", "now"])
        XCTAssertEqual(r.status, 0, r.err)
        let d2 = try runProcess(strataPath, ["rdb", "dump", base + "/after/dump.rdb", "--format", "keys"])
        XCTAssertFalse(String(decoding: d2.out, as: UTF8.self).contains("short"))
    }

    /// A damaged increment inside the window is refused and named; --allow-partial restores up
    /// to it and says where it stopped.
    func testDamagedIncrementIsRefusedOrRestoredUpToIt() throws {
        let (base, dir, o) = try timestampedRedis()
        defer { o.stop() }
        let repo = base + "/repo"
        try burst(o, 30, tag: "a")
        let first = try o.cmd("debug", "digest")
        let t1 = nextSecond()
        XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0)
        try burst(o, 30, tag: "b")
        _ = nextSecond()
        XCTAssertEqual(try backup(["create", dir, "--repo", repo]).status, 0)
        let chainDir = try FileManager.default.contentsOfDirectory(atPath: repo + "/chains").first!
        let inc = repo + "/chains/\(chainDir)/2.aof"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: inc)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: inc))
        var r = try strataRun(["restore", repo, "--at", "latest", "-o", base + "/out"])
        XCTAssertEqual(r.status, 4, r.err)
        XCTAssertTrue(r.err.contains("2.aof"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/out"))
        // Before the damaged increment nothing is missing.
        XCTAssertEqual(try strataRun(["restore", repo, "--at", String(t1), "-o", base + "/early"]).status, 0)
        XCTAssertEqual(try digestOf(base + "/early"), first)
        r = try strataRun(["restore", repo, "--at", "latest", "-o", base + "/partial", "--allow-partial"])
        XCTAssertEqual(r.status, 3, r.err)
        XCTAssertTrue(r.err.contains("stopped before"), r.err)
        XCTAssertEqual(try digestOf(base + "/partial"), first)
    }
}
