import XCTest
@testable import StrataServer

/// redis.conf parsing as redis-server 7.0 does it (the texts are Redis's).
final class ServerConfigTests: XCTestCase {
    func testFileThenCommandLineAndRedisQuoting() throws {
        let file = """
        # a comment
        port 7000
        save 900 1
        save 300 10
        bind 10.0.0.1 -::1
        rename-command FLUSHALL ""
        requirepass "pa ss\\x41"
        hash-max-ziplist-entries 64
        list-max-ziplist-entries 512
        client-output-buffer-limit pubsub 32mb 8mb 60
        """
        let c = try ServerConfig.parse(file: file, arguments: ["--port", "7001", "--dir", "/tmp/x y", "--save", "3600 1"])
        XCTAssertEqual(c.int("port"), 7001, "the command line comes after the file")
        XCTAssertEqual(c.string("dir"), "/tmp/x y")
        XCTAssertEqual(c.savePoints.map { [$0.seconds, $0.changes] }, [[900, 1], [300, 10], [3600, 1]])
        XCTAssertEqual(c.binds, ["10.0.0.1", "-::1"])
        XCTAssertEqual(c.renames.map { [$0.from, $0.to] }, [["flushall", ""]])
        XCTAssertEqual(c.string("requirepass"), "pa ssA")
        XCTAssertEqual(c.int("hash-max-listpack-entries"), 64, "old ziplist names are aliases")
        XCTAssertEqual(c.outputBufferLimits["pubsub"] ?? [], ["32mb", "8mb", "60"])
        XCTAssertEqual(ServerConfig.memory("1gb"), 1 << 30)
        XCTAssertEqual(ServerConfig.memory("5m"), 5_000_000)
    }

    func testDefaultsAndEmptySave() throws {
        let d = try ServerConfig.parse(file: nil, arguments: [])
        XCTAssertEqual(d.int("port"), 6379)
        XCTAssertEqual(d.binds, ["127.0.0.1", "-::1"])
        XCTAssertEqual(d.savePoints.count, 3)
        XCTAssertTrue(try ServerConfig.parse(file: nil, arguments: ["--save", ""]).savePoints.isEmpty)
    }

    func testErrorsNameTheLineAndUseRedisTexts() {
        func reason(_ text: String) -> (Int, String)? {
            do { _ = try ServerConfig.parse(file: text, arguments: []); return nil } catch let e as ServerConfig.ConfigError { return (e.line, e.reason) } catch { return nil }
        }
        XCTAssertEqual(reason("port 1\nnosuch 1\n")?.0, 2)
        XCTAssertEqual(reason("nosuch 1")?.1, "Bad directive or wrong number of arguments")
        XCTAssertEqual(reason("port x")?.1, "argument couldn't be parsed into an integer")
        XCTAssertEqual(reason("appendonly maybe")?.1, "argument must be 'yes' or 'no'")
        XCTAssertEqual(reason("save 1")?.1, "Invalid save parameters")
        XCTAssertEqual(reason("dbfilename a/b.rdb")?.1, "dbfilename can't be a path, just a filename")
        XCTAssertEqual(reason("requirepass \"open")?.1, "Unbalanced quotes in configuration line")
        XCTAssertEqual(reason("port 70000")?.1, "argument must be between 0 and 65535 inclusive")
    }
}
