import Foundation

/// `reports/ingestion.json`: the verified checksums of the raw feeds, written by every repro and
/// every `crx sources verify`. Fields are documented in the README and in
/// `schemas/ingestion.schema.json`.
public enum IngestionReport {
    public static let schema = "crx-ingestion/1"

    public static func build(checks: [SourceCheck], pipelineFile: String, previous: [String: Any]?, now: Date) -> [String: Any] {
        let oldSources = (previous?["sources"] as? [String: [String: Any]]) ?? [:]
        var sources: [String: Any] = [:]
        for c in checks {
            let s = c.source
            var entry: [String: Any] = [
                "name": s.name, "path": s.path, "origin": JSONReport.orNull(s.origin),
                "algorithm": s.checksum.algorithm.rawValue, "expected": s.checksum.description,
                "actual": JSONReport.orNull(c.actual.map { "\(s.checksum.algorithm.rawValue):\($0)" }),
                "status": c.status.rawValue,
                "size": JSONReport.orNull(c.facts?.size), "lines": JSONReport.orNull(c.facts?.lines),
                "modified_at": JSONReport.orNull(c.facts.map { AuditClock.iso($0.modified) }),
                "first_seen_at": JSONReport.orNull(c.firstSeen.map(AuditClock.iso)),
                "verified_at": AuditClock.iso(c.verifiedAt),
                "xxh128": JSONReport.orNull(c.facts.map { $0.xxh128.description }),
                "sha256": JSONReport.orNull(c.facts.map { "sha256:\($0.sha256)" }),
            ]
            entry["previous_pins"] = oldSources[s.name]?["previous_pins"] as? [Any] ?? []
            sources[s.name] = entry
        }
        let failed = checks.filter { $0.status != .ok }.count
        return ["schema_version": schema, "crx_version": CRXVersion.string, "generated_at": AuditClock.iso(now),
                "pipeline": pipelineFile, "status": failed == 0 ? "ok" : "failed", "sources": sources]
    }

    /// Adds a pin change to a source's history in an existing report value.
    public static func recordPin(in report: inout [String: Any], source: String, old: String, new: String, at: Date) {
        var sources = report["sources"] as? [String: [String: Any]] ?? [:]
        var entry = sources[source] ?? ["name": source]
        var pins = entry["previous_pins"] as? [Any] ?? []
        pins.append(["checksum": old, "replaced_by": new, "replaced_at": AuditClock.iso(at)])
        entry["previous_pins"] = pins
        sources[source] = entry
        report["sources"] = sources
    }
}
