import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import StrataBackup

/// Retention over a synthetic calendar, against expectations worked out by hand from the
/// calendar (not from the implementation): restic's rule, UTC buckets unless said otherwise.
final class RetentionTests: XCTestCase {
    static func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int = 0) -> Int64 {
        var t = tm()
        t.tm_year = Int32(y - 1900); t.tm_mon = Int32(mo - 1); t.tm_mday = Int32(d); t.tm_hour = Int32(h); t.tm_min = Int32(mi)
        return Int64(timegm(&t))
    }

    /// 2024: two; 2025: the 1st of each month 06:00; 2026-01-01..07-31 daily 12:00 except all
    /// of May; 2026-08-01..09-30 hourly at :00 except ISO week 33 (Aug 10-16), all of Sep 20,
    /// and Sep 28 10:00-15:00.
    static let calendar: [Int64] = {
        var out = [utc(2024, 3, 15, 12), utc(2024, 11, 2, 8)]
        for m in 1...12 { out.append(utc(2025, m, 1, 6)) }
        var t = utc(2026, 1, 1, 12)
        while t <= utc(2026, 7, 31, 12) {
            var tt = time_t(t); var x = tm(); gmtime_r(&tt, &x)
            if x.tm_mon != 4 { out.append(t) }
            t += 86400
        }
        t = utc(2026, 8, 1, 0)
        while t <= utc(2026, 9, 30, 23) {
            let skip = (t >= utc(2026, 8, 10, 0) && t < utc(2026, 8, 17, 0)) || (t >= utc(2026, 9, 20, 0) && t < utc(2026, 9, 21, 0))
                || (t >= utc(2026, 9, 28, 10) && t <= utc(2026, 9, 28, 15))
            if !skip { out.append(t) }
            t += 3600
        }
        return out
    }()

    func kept(_ p: RetentionPolicy, _ times: [Int64] = calendar) -> [Int64] {
        let items = times.map { RetentionPolicy.Item(id: String($0), time: $0, coversThrough: $0) }
        return p.apply(items).filter { !$0.reasons.isEmpty }.map(\.item.time)
    }

    func policy(_ f: (inout RetentionPolicy) -> Void) -> RetentionPolicy {
        var p = RetentionPolicy(); p.utc = true; f(&p); return p
    }

    func testCalendarSize() {
        XCTAssertGreaterThan(Self.calendar.count, 500)
    }

    func testKeepLast() {
        XCTAssertEqual(kept(policy { $0.last = 5 }), (19...23).reversed().map { Self.utc(2026, 9, 30, $0) })
    }

    func testKeepHourly() {
        let want = (0...23).reversed().map { Self.utc(2026, 9, 30, $0) } + (18...23).reversed().map { Self.utc(2026, 9, 29, $0) }
        XCTAssertEqual(kept(policy { $0.hourly = 30 }), want)
    }

    func testKeepDailySkipsTheMissingDay() {
        let days = [30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 19, 18]
        XCTAssertEqual(kept(policy { $0.daily = 12 }), days.map { Self.utc(2026, 9, $0, 23) })
    }

    func testKeepWeeklyUsesISOWeeksAndSkipsTheEmptyWeek() {
        let want = [Self.utc(2026, 9, 30, 23), Self.utc(2026, 9, 27, 23), Self.utc(2026, 9, 19, 23), Self.utc(2026, 9, 13, 23),
                    Self.utc(2026, 9, 6, 23), Self.utc(2026, 8, 30, 23), Self.utc(2026, 8, 23, 23), Self.utc(2026, 8, 9, 23)]
        XCTAssertEqual(kept(policy { $0.weekly = 8 }), want)
    }

    func testKeepMonthlySkipsTheEmptyMonth() {
        let want = [Self.utc(2026, 9, 30, 23), Self.utc(2026, 8, 31, 23), Self.utc(2026, 7, 31, 12), Self.utc(2026, 6, 30, 12),
                    Self.utc(2026, 4, 30, 12), Self.utc(2026, 3, 31, 12)]
        XCTAssertEqual(kept(policy { $0.monthly = 6 }), want)
    }

    func testKeepYearlyKeepsTheOldestWhenTheRuleCannotBeFilled() {
        let want = [Self.utc(2026, 9, 30, 23), Self.utc(2025, 12, 1, 6), Self.utc(2024, 11, 2, 8), Self.utc(2024, 3, 15, 12)]
        XCTAssertEqual(kept(policy { $0.yearly = 5 }), want)
        let items = Self.calendar.map { RetentionPolicy.Item(id: String($0), time: $0, coversThrough: $0) }
        let oldest = policy { $0.yearly = 5 }.apply(items).first { $0.item.time == Self.utc(2024, 3, 15, 12) }!
        XCTAssertEqual(oldest.reasons, ["yearly #4"])
    }

    func testCombinationIsTheUnionAndEveryRuleSeesEverySnapshot() {
        let p = policy { $0.last = 2; $0.daily = 3; $0.monthly = 3; $0.yearly = 2 }
        let want = [Self.utc(2026, 9, 30, 23), Self.utc(2026, 9, 30, 22), Self.utc(2026, 9, 29, 23), Self.utc(2026, 9, 28, 23),
                    Self.utc(2026, 8, 31, 23), Self.utc(2026, 7, 31, 12), Self.utc(2025, 12, 1, 6)]
        XCTAssertEqual(kept(p), want)
        let items = Self.calendar.map { RetentionPolicy.Item(id: String($0), time: $0, coversThrough: $0) }
        let newest = p.apply(items).first!
        XCTAssertEqual(newest.reasons, ["last #1", "daily #1", "monthly #1", "yearly #1"])
    }

    /// The worked example of the research note: 6-hourly snapshots over Nov 20-23.
    func testResticWorkedExample() {
        var times = [Int64]()
        for d in 20...23 { for h in [0, 6, 12, 18] { times.append(Self.utc(2026, 11, d, h, 30)) } }
        XCTAssertEqual(kept(policy { $0.last = 3; $0.daily = 3 }, times),
                       [Self.utc(2026, 11, 23, 18, 30), Self.utc(2026, 11, 23, 12, 30), Self.utc(2026, 11, 23, 6, 30),
                        Self.utc(2026, 11, 22, 18, 30), Self.utc(2026, 11, 21, 18, 30)])
        XCTAssertEqual(kept(policy { $0.daily = 10 }, times),
                       [23, 22, 21, 20].map { Self.utc(2026, 11, $0, 18, 30) } + [Self.utc(2026, 11, 20, 0, 30)])
    }

    func testUnlimited() {
        XCTAssertEqual(kept(policy { $0.monthly = -1 }).count, 2 + 12 + 6 + 2)   // 2024: 2 months, 2025: 12, 2026: 6 + 2
    }

    func testLocalTimeBuckets() {
        setenv("TZ", "Asia/Tokyo", 1); tzset()
        defer { unsetenv("TZ"); tzset() }
        let times = [Self.utc(2026, 11, 23, 15, 30), Self.utc(2026, 11, 23, 14, 30), Self.utc(2026, 11, 23, 13, 30)]
        var p = RetentionPolicy(); p.daily = 2
        XCTAssertEqual(kept(p, times), [times[0], times[1]])        // Tokyo: 00:30 on the 24th, 23:30 on the 23rd
        p.utc = true
        XCTAssertEqual(kept(p, times), [times[0], times[2]])        // UTC: one day; the oldest fills the rule
    }

    func testWithinPITRKeepsTheChainThatReachesIntoTheWindow() {
        // Chains: A starts 00:00 and covers through 10:00; B starts 10:00 through 20:00; C 20:00 through 23:00.
        let a = RetentionPolicy.Item(id: "a", time: Self.utc(2026, 11, 1, 0), coversThrough: Self.utc(2026, 11, 1, 10))
        let b = RetentionPolicy.Item(id: "b", time: Self.utc(2026, 11, 1, 10), coversThrough: Self.utc(2026, 11, 1, 20))
        let c = RetentionPolicy.Item(id: "c", time: Self.utc(2026, 11, 1, 20), coversThrough: Self.utc(2026, 11, 1, 23))
        var p = RetentionPolicy(); p.utc = true
        p.withinPITR = 2 * 3600          // 21:00..23:00: C alone
        XCTAssertEqual(p.apply([a, b, c]).filter { !$0.reasons.isEmpty }.map(\.item.id), ["c"])
        p.withinPITR = 5 * 3600          // 18:00..23:00: B (reaches 18:00) and C
        XCTAssertEqual(p.apply([a, b, c]).filter { !$0.reasons.isEmpty }.map(\.item.id), ["c", "b"])
        p.withinPITR = 24 * 3600         // the whole day: all three
        XCTAssertEqual(p.apply([a, b, c]).filter { !$0.reasons.isEmpty }.map(\.item.id), ["c", "b", "a"])
    }
}
