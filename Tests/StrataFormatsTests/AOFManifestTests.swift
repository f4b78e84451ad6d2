import XCTest
@testable import StrataFormats

final class AOFManifestTests: XCTestCase {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// What Redis 7.0 writes after rewrites with history kept (reference, verified there).
    func testParsesWhatRedisWritesAndWritesItBack() throws {
        let text = """
        file appendonly.aof.3.base.aof seq 3 type b
        file appendonly.aof.2.incr.aof seq 2 type h
        file appendonly.aof.2.base.rdb seq 2 type h
        file appendonly.aof.1.incr.aof seq 1 type h
        file appendonly.aof.3.incr.aof seq 3 type i
        file appendonly.aof.4.incr.aof seq 4 type i

        """
        let m = try AOFManifest.parse(b(text))
        XCTAssertEqual(m.base?.file, b("appendonly.aof.3.base.aof"))
        XCTAssertEqual(m.incrs.map(\.seq), [3, 4])
        XCTAssertEqual(m.history.count, 3)
        XCTAssertEqual(String(decoding: m.serialized(), as: UTF8.self), text)
    }

    func testQuotedNamesRoundTripAsSdscatrepr() throws {
        let m = AOFManifest(entries: [.init(file: b("my \"odd\" aof.1.base.rdb"), seq: 1, type: .base)])
        XCTAssertEqual(String(decoding: m.serialized(), as: UTF8.self), "file \"my \\\"odd\\\" aof.1.base.rdb\" seq 1 type b\n")
        XCTAssertEqual(try AOFManifest.parse(m.serialized()), m)
    }

    func testCommentsCRLFAndUnknownKeysAreAccepted() throws {
        let m = try AOFManifest.parse(b("# made by hand\r\nfile a.1.base.rdb seq 1 type b future x\r\n"))
        XCTAssertEqual(m.entries, [.init(file: b("a.1.base.rdb"), seq: 1, type: .base)])
    }

    func testBadManifestsAreRefusedWithRedisMessagesAndTheLine() {
        func err(_ s: String) -> String? {
            do { _ = try AOFManifest.parse(Array(s.utf8)); return nil } catch { return error.message }
        }
        XCTAssertEqual(err(""), "Found an empty AOF manifest")
        XCTAssertEqual(err("# only a comment\n"), "Found an empty AOF manifest")
        XCTAssertEqual(err("file a seq 1\n"), "Invalid AOF manifest file format")
        XCTAssertEqual(err("file a seq 0 type b\n"), "Invalid AOF manifest file format")
        XCTAssertEqual(err("file a seq 1 type x\n"), "Unknown AOF file type")
        XCTAssertEqual(err("file a seq 1 type b\nfile b seq 2 type b\n"), "Found duplicate base file information")
        XCTAssertEqual(err("file a seq 2 type i\nfile b seq 2 type i\n"), "Found a non-monotonic sequence number")
        XCTAssertEqual(err("file a seq 1 type b"), "The AOF manifest file contains too long line (or the last line has no newline)")
        XCTAssertEqual(err("file \"unbalanced seq 1 type b\n"), "Invalid AOF manifest file format")
        XCTAssertEqual(err("file x seq 1 type b \(String(repeating: "y", count: 1100))\n"), "The AOF manifest file contains too long line")
        // Names that would reach outside the directory.
        XCTAssertEqual(err("file ../etc/passwd seq 1 type b\n"), "File can't be a path, just a filename")
        XCTAssertEqual(err("file /etc/passwd seq 1 type b\n"), "File can't be a path, just a filename")
        XCTAssertEqual(err("file a\\\\b seq 1 type b\n"), "File can't be a path, just a filename")
        XCTAssertNotNil(err("file .. seq 1 type b\n"))
        XCTAssertNotNil(err("file \"a\\x00b\" seq 1 type b\n"))
        XCTAssertNotNil(err("file \"\" seq 1 type b\n"))
    }

    func testErrorsNameTheLine() {
        do {
            _ = try AOFManifest.parse(Array("file a seq 1 type b\nfile b seq 1 type q\n".utf8))
            XCTFail()
        } catch {
            XCTAssertEqual(error.line, 2)
            XCTAssertTrue(error.description.contains("line 2"))
        }
    }
}
