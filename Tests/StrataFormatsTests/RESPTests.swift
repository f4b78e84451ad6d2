import XCTest
import StrataTestSupport
@testable import StrataFormats

final class RESPCommandReaderTests: XCTestCase {
    static func resp(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
        return out
    }

    static let commands: [[[UInt8]]] = [
        [Array("SET".utf8), Array("k".utf8), [0, 13, 10, 0xFF]],
        [Array("DEL".utf8), []],
        [Array("MSET".utf8)] + (0..<50).map { Array("x\($0)".utf8) },
    ]

    static var stream: [UInt8] {
        var s = Array("#TS:1700000000\r\n".utf8)
        s += resp(commands[0])
        s += Array("*0\r\n".utf8)
        s += resp(commands[1])
        s += Array("#TS:1700000001\r\n".utf8)
        s += resp(commands[2])
        return s
    }

    static let expected: [RESPCommandReader.Item] = [
        .annotation(Array("TS:1700000000".utf8)), .command(commands[0]), .command(commands[1]),
        .annotation(Array("TS:1700000001".utf8)), .command(commands[2]),
    ]

    /// A consumer that keeps some arguments (as a store keeps values) and recycles each vector:
    /// every command reads back exactly as sent, split anywhere, and what it kept never changes
    /// when the reader refills the slots its arguments came from.
    func testRecycledArgumentsNeverAliasWhatWasKept() throws {
        var rng = SeededRNG(seed: 77)
        var sent = [[[UInt8]]]()
        for _ in 0..<400 {
            let n = Int.random(in: 1...8, using: &rng)
            sent.append((0..<n).map { _ in
                let len = [0, 1, 3, 8, 15, 16, 17, 40, 300, 5000].randomElement(using: &rng)!
                return (0..<len).map { _ in UInt8.random(in: 0...255, using: &rng) }
            })
        }
        let stream = sent.flatMap { Self.resp($0) }
        let r = RESPCommandReader()
        var kept = [([UInt8], [UInt8])]()
        var got = 0
        var at = 0
        while at < stream.count {
            let step = Int.random(in: 1...700, using: &rng)
            r.feed(Array(stream[at..<min(stream.count, at + step)]))
            at += step
            while let item = try r.next() {
                guard case .command(let args) = item else { XCTFail("not a command"); return }
                XCTAssertEqual(args, sent[got], "command \(got)")
                for a in args where Bool.random(using: &rng) { kept.append((a, a.map { $0 })) }
                got += 1
                r.recycle(args)
            }
        }
        XCTAssertEqual(got, sent.count)
        for (i, k) in kept.enumerated() { XCTAssertEqual(k.0, k.1, "kept argument \(i)") }
    }

    func readAll(_ chunks: [[UInt8]]) throws -> [RESPCommandReader.Item] {
        var limits = RESPCommandReader.Limits()
        limits.allowAnnotations = true
        limits.allowInline = false
        let r = RESPCommandReader(limits: limits)
        var out = [RESPCommandReader.Item]()
        for c in chunks {
            r.feed(c)
            while let item = try r.next() { out.append(item) }
        }
        XCTAssertTrue(r.atBoundary)
        return out
    }

    /// The same bytes, whole, one byte at a time, and split at every offset, give the same items.
    func testEveryWayOfFeedingGivesTheSameCommands() throws {
        let s = RESPCommandReaderTests.stream
        XCTAssertEqual(try readAll([s]), RESPCommandReaderTests.expected)
        XCTAssertEqual(try readAll(s.map { [$0] }), RESPCommandReaderTests.expected)
        for cut in 0...s.count {
            XCTAssertEqual(try readAll([Array(s[0..<cut]), Array(s[cut...])]), RESPCommandReaderTests.expected, "split at \(cut)")
        }
    }

    func testProtocolErrorsUseRedisTextsAndAllocateNothingHuge() {
        func error(_ s: String, inline: Bool = false) -> String? {
            var limits = RESPCommandReader.Limits()
            limits.allowInline = inline
            let r = RESPCommandReader(limits: limits)
            r.feed(Array(s.utf8))
            do { while try r.next() != nil {} ; return nil } catch let e as FormatError { return e.message } catch { return "\(error)" }
        }
        XCTAssertEqual(error("*2147483648\r\n"), "Protocol error: invalid multibulk length")
        XCTAssertEqual(error("*x\r\n"), "Protocol error: invalid multibulk length")
        XCTAssertEqual(error("*1\r\n$-1\r\n"), "Protocol error: invalid bulk length")
        XCTAssertEqual(error("*1\r\n$536870913\r\n"), "Protocol error: invalid bulk length")
        XCTAssertEqual(error("*1\r\nX\r\n"), "Protocol error: expected '$', got 'X'")
        XCTAssertEqual(error("*1\r\n$1\r\nab\r\n"), "Protocol error: bulk string of 1 bytes is not followed by CRLF")
        XCTAssertEqual(error("GET\r\n"), "Protocol error: expected '*', got 'G'")
        XCTAssertEqual(error("SET \"a b\r\n", inline: true), "Protocol error: unbalanced quotes in request")
        // A huge declared count with few bytes behind it just waits for more input.
        XCTAssertNil(error("*2147483647\r\n$3\r\nSET\r\n"))
    }

    func testInlineCommandsFollowSdssplitargs() throws {
        let r = RESPCommandReader()
        r.feed(Array("SET \"a b\" 'it\\'s' \"\\x41\\n\"\r\nPING\n\r\n".utf8))
        XCTAssertEqual(try r.next(), .command([Array("SET".utf8), Array("a b".utf8), Array("it's".utf8), [0x41, 10]]))
        XCTAssertEqual(try r.next(), .command([Array("PING".utf8)]))
        XCTAssertNil(try r.next())
        XCTAssertNil(RESPCommandReader.splitArgs(Array("\"a\"b".utf8)), "a closing quote must be followed by a space")
    }
}
