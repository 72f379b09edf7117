import Foundation

/// When crx first saw each content of each source (the "load time" of that data), kept in
/// `.crx/state/sources.v1.json`: `{"<path>": {"<xxh128 hex>": "<ISO time>"}}`. Machine-local
/// memory, like the state cache: a missing or unreadable file means "never seen".
public final class SourceLedger: @unchecked Sendable {
    let file: String
    private let seen: Protected<[String: [String: String]]>

    public init(file: String) {
        self.file = file
        var table: [String: [String: String]] = [:]
        if let data = FileManager.default.contents(atPath: file),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: [String: String]] {
            table = json
        }
        seen = Protected(table)
    }

    /// The first time this content of `path` was seen; records `now` when it is new.
    public func firstSeen(path: String, digest: Digest, now: Date) -> Date {
        seen.withLock { table in
            if let text = table[path]?[digest.hex], let date = AuditClock.parse(text) { return date }
            table[path, default: [:]][digest.hex] = AuditClock.iso(now)
            return now
        }
    }

    public func save() throws { try JSONReport.write(seen.snapshot, to: file) }
}
