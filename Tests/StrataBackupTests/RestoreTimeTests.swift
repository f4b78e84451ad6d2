import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import StrataBackup

final class RestoreTimeTests: XCTestCase {
    func testFormats() {
        XCTAssertEqual(Restore.parseTime("latest"), .latest)
        XCTAssertEqual(Restore.parseTime("1795560000"), .at(1795560000))
        // 2026-11-24T10:42:17+08:00 = 02:42:17 UTC
        let utc = RetentionTests.utc(2026, 11, 24, 2, 42) + 17
        XCTAssertEqual(Restore.parseTime("2026-11-24T10:42:17+08:00"), .at(utc))
        XCTAssertEqual(Restore.parseTime("2026-11-24T10:42:17+0800"), .at(utc))
        XCTAssertEqual(Restore.parseTime("2026-11-24T02:42:17Z"), .at(utc))
        XCTAssertEqual(Restore.parseTime("2026-11-23T21:42:17-05:00"), .at(utc))
        XCTAssertEqual(Restore.parseTime("2026-11-24T02:42:17.750Z"), .at(utc), "a fraction stays in its second")
        setenv("TZ", "Asia/Tokyo", 1); tzset()
        defer { unsetenv("TZ"); tzset() }
        XCTAssertEqual(Restore.parseTime("2026-11-24 11:42:17"), .at(utc), "local time")
        XCTAssertEqual(Restore.parseTime("2026-11-24T11:42:17"), .at(utc))
        for bad in ["", "yesterday", "2026-11-24", "2026-13-01 00:00:00", "2026-11-24 25:00:00", "2026-11-24T10:42:17+8", "2026-11-24T10:42:17 UTC", "-5"] {
            XCTAssertNil(Restore.parseTime(bad), bad)
        }
    }

    func testChoosingAWindow() throws {
        func w(_ a: Int64, _ b: Int64, _ d: String) -> Restore.Window {
            Restore.Window(start: a, end: b, points: nil, description: d,
                           plan: Restore.Plan(base: nil, baseDescription: d, baseTime: a, parts: [], timestamps: true))
        }
        let ws = [w(100, 200, "A"), w(150, 260, "B"), w(300, 400, "C")]
        XCTAssertEqual(try Restore.choose(ws, .at(170), now: 1000).0.description, "B", "the newest start at or before t")
        XCTAssertEqual(try Restore.choose(ws, .at(120), now: 1000).0.description, "A")
        XCTAssertEqual(try Restore.choose(ws, .latest, now: 1000).1, 400)
        XCTAssertThrowsError(try Restore.choose(ws, .at(280), now: 1000)) { XCTAssertTrue("\($0)".contains("gap")) }
        XCTAssertThrowsError(try Restore.choose(ws, .at(50), now: 1000)) { XCTAssertTrue("\($0)".contains("before the oldest")) }
        XCTAssertThrowsError(try Restore.choose(ws, .at(500), now: 1000)) { XCTAssertTrue("\($0)".contains("after the newest")) }
        XCTAssertThrowsError(try Restore.choose(ws, .at(2000), now: 1000)) { XCTAssertTrue("\($0)".contains("future")) }
        var exact = w(100, 200, "T")
        exact.points = [100, 150, 200]
        XCTAssertEqual(try Restore.choose([exact], .at(150), now: 1000).1, 150)
        XCTAssertThrowsError(try Restore.choose([exact], .at(160), now: 1000)) { XCTAssertTrue("\($0)".contains("nearest")) }
    }
}
