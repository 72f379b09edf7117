import Foundation

/// `reports/freshness.json`, shaped like dbt's `sources.json`: per source the load time
/// (`max_loaded_at`: when crx first saw the current content, else the file's mtime), the snapshot
/// time, the age in seconds, the SLA (`criteria`) and a status pass / warn / error; plus an
/// overall status (the worst).
public enum FreshnessReport {
    public static let schema = "crx-freshness/1"

    public enum Status: String, Sendable, Comparable {
        case pass, warn, error
        public static func < (a: Status, b: Status) -> Bool {
            let order: [Status] = [.pass, .warn, .error]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    public struct Result: Sendable {
        public var check: SourceCheck
        public var age: Double?
        public var sla: FreshnessSLA?
        public var status: Status
    }

    /// Judges each source; `maxAgeHours` overrides every SLA (as the error threshold).
    public static func evaluate(_ checks: [SourceCheck], now: Date, maxAgeHours: Double?) -> [Result] {
        checks.map { c in
            var sla = c.source.freshness
            if let h = maxAgeHours {
                sla = FreshnessSLA(warnAfter: nil, errorAfter: FreshnessSLA.Duration(count: Int(h.rounded(.up)), period: .hour))
            }
            guard let loaded = c.loadedAt else { return Result(check: c, age: nil, sla: sla, status: .error) }
            let age = now.timeIntervalSince(loaded)
            var status = Status.pass
            let errorLimit = maxAgeHours.map { $0 * 3600 } ?? sla?.errorAfter?.seconds
            if let w = sla?.warnAfter, age > w.seconds { status = .warn }
            if let e = errorLimit, age > e { status = .error }
            if c.status != .ok { status = .error }
            return Result(check: c, age: age, sla: sla, status: status)
        }
    }

    public static func build(_ results: [Result], project: String, now: Date) -> [String: Any] {
        func criterion(_ d: FreshnessSLA.Duration?) -> Any {
            guard let d else { return ["count": NSNull(), "period": NSNull()] }
            return ["count": d.count, "period": d.period.rawValue]
        }
        let entries: [Any] = results.map { r in
            [
                "unique_id": "source.\(project).\(r.check.source.name)",
                "source": r.check.source.name, "path": r.check.source.path,
                "max_loaded_at": JSONReport.orNull(r.check.loadedAt.map(AuditClock.iso)),
                "snapshotted_at": AuditClock.iso(now),
                "max_loaded_at_time_ago_in_s": JSONReport.orNull(r.age.map { ($0 * 1000).rounded() / 1000 }),
                "criteria": ["warn_after": criterion(r.sla?.warnAfter), "error_after": criterion(r.sla?.errorAfter)],
                "checksum_status": r.check.status.rawValue,
                "status": r.status.rawValue,
            ] as [String: Any]
        }
        let overall = results.map(\.status).max() ?? .pass
        return ["schema_version": schema, "metadata": ["generated_at": AuditClock.iso(now), "crx_version": CRXVersion.string],
                "status": overall.rawValue, "results": entries]
    }
}
