import Foundation
import Testing
@testable import CRXCore

@Suite struct AuditClockTests {
    /// The hand-written formatting and parsing agree with `ISO8601DateFormatter` to the byte.
    @Test func matchesISO8601DateFormatter() throws {
        var rng = SystemRandomNumberGenerator()
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_795_000_000.999_9),
                     Date(timeIntervalSince1970: 951_782_400.5),   // 2000-02-29T00:00:00.5Z
                     Date(timeIntervalSince1970: 4_102_444_799.75), // 2099-12-31T23:59:59.75Z
                     Date(timeIntervalSince1970: 1_795_000_000.999_4), Date(timeIntervalSince1970: 1_795_000_000.999_6),
                     Date(timeIntervalSince1970: 1_795_000_000.000_4)]
        for _ in 0 ..< 300 { dates.append(Date(timeIntervalSince1970: Double.random(in: 0 ... 4_000_000_000, using: &rng))) }
        for date in dates {
            let fast = AuditClock.iso(date)
            #expect(fast == AuditClock.slowISO(date), "\(date.timeIntervalSince1970)")
            let parsed = try #require(AuditClock.parseUTC(fast))
            #expect(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) < 1)
            #expect(AuditClock.parse(fast) == parsed)
        }
    }

    @Test func otherFormsGoThroughTheFormatter() {
        #expect(AuditClock.parseUTC("2026-11-22T09:30:00.250Z") == nil)
        #expect(AuditClock.parseUTC("2026-11-22T09:30:00+01:00") == nil)
        #expect(AuditClock.parseUTC("2026-02-30T09:30:00Z") == nil)
        #expect(AuditClock.parse("2026-11-22T09:30:00.250Z")?.timeIntervalSince1970 == 1_795_339_800.25)
        #expect(AuditClock.parse("2026-11-22T10:30:00+01:00") == AuditClock.parse("2026-11-22T09:30:00Z"))
        #expect(AuditClock.parse("not a date") == nil)
    }
}
