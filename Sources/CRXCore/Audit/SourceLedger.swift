import Foundation

/// When crx first saw each content of each source (the "load time" of that data), kept in
/// `.crx/state/sources.v1.json`: `{"<path>": {"<xxh128 hex>": "<ISO time>"}}`. Machine-local
/// memory, like the state cache: a missing or unreadable file means "never seen".
public final class SourceLedger: @unchecked Sendable {
    let file: String
    /// The table, and whether it differs from the file (a missing or unreadable file does).
    private let seen: Protected<(table: [String: [String: String]], dirty: Bool)>

    public init(file: String) {
        self.file = file
        var table: [String: [String: String]]?
        if let data = FileManager.default.contents(atPath: file) {
            table = (try? JSONSerialization.jsonObject(with: data)) as? [String: [String: String]]
        }
        seen = Protected((table ?? [:], table == nil))
    }

    /// The first time this content of `path` was seen; records `now` when it is new.
    public func firstSeen(path: String, digest: Digest, now: Date) -> Date {
        seen.withLock { state in
            if let text = state.table[path]?[digest.hex], let date = AuditClock.parse(text) { return date }
            state.table[path, default: [:]][digest.hex] = AuditClock.iso(now)
            state.dirty = true
            return now
        }
    }

    /// Writes the file when something was recorded since it was read (or it was missing).
    public func save() throws {
        let (table, dirty) = seen.withLock { state in (state.table, state.dirty) }
        guard dirty else { return }
        try JSONReport.write(table, to: file)
        seen.withLock { $0.dirty = false }
    }
}
