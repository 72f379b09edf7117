#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The time audit reports are stamped with. `CRX_NOW` (ISO 8601 or epoch seconds) overrides the
/// clock, so freshness and report times can be tested — and reproduced — at a chosen instant.
public enum AuditClock {
    public static func now() -> Date {
        if let text = ProcessInfo.processInfo.environment["CRX_NOW"], !text.isEmpty {
            if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
            if let date = parse(text) { return date }
        }
        return Date()
    }

    /// `2026-11-22T09:30:00Z` (UTC, second precision), as
    /// `ISO8601DateFormatter` with `.withInternetDateTime` writes it — without building one (an ICU
    /// formatter per call was most of the cost of writing a run record).
    public static func iso(_ date: Date) -> String {
        // Like the formatter: the time is taken to the nearest millisecond, then to the second below.
        var seconds = time_t(floor((date.timeIntervalSince1970 * 1000).rounded() / 1000))
        var t = tm()
        guard gmtime_r(&seconds, &t) != nil, t.tm_year + 1900 >= 0, t.tm_year + 1900 <= 9999 else { return slowISO(date) }
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
            + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2))Z"
    }

    /// Reads what `iso` writes (directly), or any ISO 8601 internet date-time, with or without
    /// fractional seconds (through `ISO8601DateFormatter`).
    public static func parse(_ text: String) -> Date? {
        if let date = parseUTC(text) { return date }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }

    static func slowISO(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    /// Exactly `YYYY-MM-DDTHH:MM:SSZ`, fields in range; nil for anything else.
    static func parseUTC(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A, b[19] == 0x5A else { return nil }
        func number(_ from: Int, _ count: Int) -> Int32? {
            var v: Int32 = 0
            for i in from ..< from + count {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int32(b[i] - 0x30)
            }
            return v
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1 ... 12).contains(month), (1 ... 31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        var t = tm()
        t.tm_year = year - 1900
        t.tm_mon = month - 1
        t.tm_mday = day
        t.tm_hour = hour
        t.tm_min = minute
        t.tm_sec = second
        let seconds = timegm(&t)
        // timegm normalises out-of-range days (Feb 30 → Mar 2): such text is not a valid date.
        guard t.tm_mday == day, t.tm_mon == month - 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

/// crx's version, as reports record it.
public enum CRXVersion {
    public static let string = "0.1.0"
}
