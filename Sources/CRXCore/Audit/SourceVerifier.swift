import Foundation

/// The result of checking one source against its pinned checksum.
public struct SourceCheck: Sendable {
    public enum Status: String, Sendable { case ok, mismatch, missing }
    public var source: Source
    public var status: Status
    /// The digest of the file now, in the pinned checksum's algorithm.
    public var actual: String?
    public var facts: FileFacts?
    /// When crx first saw this content (nil when missing).
    public var firstSeen: Date?
    public var verifiedAt: Date

    /// The load time freshness is judged by: first sighting of the content, else the file's mtime.
    public var loadedAt: Date? { firstSeen ?? facts?.modified }
}

/// Sources failed verification: nothing runs. Exit 1.
public struct SourceError: CRXError {
    public var checks: [SourceCheck]
    public var exitCode: ExitStatus { .failure }

    public init(checks: [SourceCheck]) { self.checks = checks }

    public var message: String {
        var lines = ["\(checks.count) source(s) failed verification; no stage was run:"]
        for c in checks {
            switch c.status {
            case .missing:
                lines.append("  source '\(c.source.name)': \(c.source.path) is missing (expected \(c.source.checksum))")
            default:
                lines.append("  source '\(c.source.name)': \(c.source.path) does not match its pinned checksum")
                lines.append("      expected \(c.source.checksum)")
                lines.append("      actual   \(c.source.checksum.algorithm.rawValue):\(c.actual ?? "?")")
                if let f = c.facts {
                    lines.append("      size \(f.size) bytes, modified \(AuditClock.iso(f.modified))")
                }
            }
        }
        lines.append("If the new data is intended, pin it: crx sources pin \(checks.map(\.source.name).joined(separator: " "))")
        return lines.joined(separator: "\n")
    }
}

/// Verifies sources against their pinned checksums. Digests are remembered per file identity
/// (state cache), so an unchanged source is never re-read.
public struct SourceVerifier: Sendable {
    let auditor: FileAuditor
    let ledger: SourceLedger

    public init(auditor: FileAuditor, ledger: SourceLedger) {
        self.auditor = auditor
        self.ledger = ledger
    }

    public func check(_ source: Source, now: Date) throws -> SourceCheck {
        guard let facts = try auditor.facts(source.path, md5: source.checksum.algorithm == .md5, lines: true), facts.nfiles == nil else {
            return SourceCheck(source: source, status: .missing, actual: nil, facts: nil, firstSeen: nil, verifiedAt: now)
        }
        let actual: String = switch source.checksum.algorithm {
        case .sha256: facts.sha256
        case .md5: facts.md5 ?? ""
        case .xxh128: facts.xxh128.hex
        }
        let firstSeen = ledger.firstSeen(path: source.path, digest: facts.xxh128, now: now)
        return SourceCheck(source: source, status: actual == source.checksum.hex ? .ok : .mismatch, actual: actual,
                           facts: facts, firstSeen: firstSeen, verifiedAt: now)
    }

    public func check(_ sources: [Source], now: Date) throws -> [SourceCheck] {
        try sources.map { try check($0, now: now) }
    }
}
