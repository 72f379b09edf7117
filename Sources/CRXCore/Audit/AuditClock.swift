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

    /// `2026-11-22T09:30:00Z` (UTC, second precision).
    public static func iso(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}

/// crx's version, as reports record it.
public enum CRXVersion {
    public static let string = "0.1.0"
}
