import ArgumentParser
import CRXCore
import Foundation

struct Sources: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources",
        abstract: "List, verify and pin the pipeline's raw sources (the `sources:` section).",
        subcommands: [List.self, VerifySources.self, Pin.self], defaultSubcommand: List.self)

    static func render(_ checks: [SourceCheck], json: Bool) {
        if json {
            Printer.json(checks.map { c in
                ["name": c.source.name, "path": c.source.path, "status": c.status.rawValue, "expected": c.source.checksum.description,
                 "actual": c.actual.map { "\(c.source.checksum.algorithm.rawValue):\($0)" } as Any,
                 "size": c.facts?.size as Any, "lines": c.facts?.lines as Any,
                 "modified_at": c.facts.map { AuditClock.iso($0.modified) } as Any,
                 "first_seen_at": c.firstSeen.map(AuditClock.iso) as Any, "origin": c.source.origin as Any] as [String: Any]
            })
            return
        }
        if checks.isEmpty { Printer.out("No sources declared (add a `sources:` section to the pipeline file).") }
        for c in checks {
            let mark = c.status == .ok ? "ok" : c.status == .missing ? "MISSING" : "MISMATCH"
            var line = "\(c.source.name): \(c.source.path)  \(mark)  \(c.source.checksum)"
            if let f = c.facts { line += "  \(f.size) bytes" + (f.lines.map { ", \($0) lines" } ?? "") + ", modified \(AuditClock.iso(f.modified))" }
            Printer.out(line)
            if c.status == .mismatch, let actual = c.actual {
                Printer.out("    actual \(c.source.checksum.algorithm.rawValue):\(actual)")
            }
            if let origin = c.source.origin { Printer.out("    origin: \(origin)") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Show each source and its state.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            try runReportingErrors {
                let workspace = try global.workspace()
                let audit = AuditTrail(workspace: workspace, pipeline: try workspace.loadPipeline(), state: workspace.stateCache())
                let checks = try audit.verify()
                try? audit.state.save()
                Sources.render(checks, json: json)
            }
        }
    }

    struct VerifySources: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify",
            abstract: "Check every source against its pinned checksum; write reports/ingestion.json; exit 1 on any failure.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            try runReportingErrors {
                let workspace = try global.workspace()
                let audit = AuditTrail(workspace: workspace, pipeline: try workspace.loadPipeline(), state: workspace.stateCache())
                let checks = try audit.verify()
                try audit.writeIngestion(checks)
                try? audit.state.save()
                Sources.render(checks, json: json)
                let failed = checks.filter { $0.status != .ok }
                if !failed.isEmpty { throw SourceError(checks: failed) }
            }
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pin",
            abstract: "Rewrite sources' pinned checksums to their current content (after an intended data refresh).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Source names.") var names: [String]

        func run() throws {
            try runReportingErrors {
                let workspace = try global.workspace()
                try workspace.initialize()
                let audit = AuditTrail(workspace: workspace, pipeline: try workspace.loadPipeline(), state: workspace.stateCache())
                for change in try audit.pin(names) {
                    if change.old == change.new {
                        Printer.out("\(change.name): already pinned to \(change.new)")
                    } else {
                        Printer.out("\(change.name): \(change.old) → \(change.new)")
                    }
                }
                try? audit.state.save()
            }
        }
    }
}

struct Freshness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freshness",
        abstract: "Judge how old each source's data is against its SLA; write reports/freshness.json.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("max-age-hours"), help: "Override every SLA: error when older than this many hours.")
    var maxAgeHours: Double?
    @Flag(name: .customLong("fail-on-stale"), help: "Exit 1 when any source is in error.") var failOnStale = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try runReportingErrors {
            let workspace = try global.workspace()
            let audit = AuditTrail(workspace: workspace, pipeline: try workspace.loadPipeline(), state: workspace.stateCache())
            let (results, report) = try audit.freshness(maxAgeHours: maxAgeHours)
            try? audit.state.save()
            if json {
                Printer.json(report)
            } else {
                for r in results {
                    let age = r.age.map { String(format: "%.1f h", $0 / 3600) } ?? "unknown age"
                    Printer.out("\(r.check.source.name): \(r.status.rawValue)  (\(age) old; loaded \(r.check.loadedAt.map(AuditClock.iso) ?? "?"))")
                }
                Printer.out("overall: \(report["status"] as? String ?? "?") — \(audit.freshnessPath)")
            }
            if failOnStale && results.contains(where: { $0.status == .error }) { throw ExitCode(1) }
        }
    }
}
