import Foundation

/// The audit verbs: verify sources, write `reports/ingestion.json`, `reports/lineage.json` and
/// `reports/freshness.json`. Used after every repro and by `crx sources`, `crx lineage`,
/// `crx freshness`.
public struct AuditTrail: Sendable {
    public let workspace: Workspace
    public let pipeline: Pipeline
    public let state: StateCache
    public let ledger: SourceLedger
    public let runLog: RunLog

    /// `runLog`: the log the runs being reported were recorded in (default: read from disk now).
    public init(workspace: Workspace, pipeline: Pipeline, state: StateCache, runLog: RunLog? = nil) {
        self.workspace = workspace
        self.pipeline = pipeline
        self.state = state
        ledger = SourceLedger(file: workspace.crxDirectory + "/state/sources.v1.json")
        self.runLog = runLog ?? workspace.runLog()
    }

    public var reportsDirectory: String { workspace.root + "/reports" }
    public var ingestionPath: String { reportsDirectory + "/ingestion.json" }
    public var lineagePath: String { reportsDirectory + "/lineage.json" }
    public var freshnessPath: String { reportsDirectory + "/freshness.json" }

    var auditor: FileAuditor { FileAuditor(root: workspace.root, state: state) }

    /// Checks `sources` (default: all) against their pins.
    public func verify(_ sources: [Source]? = nil, now: Date = AuditClock.now()) throws -> [SourceCheck] {
        let checks = try SourceVerifier(auditor: auditor, ledger: ledger).check(sources ?? pipeline.sources, now: now)
        try? ledger.save()
        return checks
    }

    /// Writes `reports/ingestion.json` for every source (no-op when the pipeline has none).
    @discardableResult
    public func writeIngestion(_ checks: [SourceCheck], now: Date = AuditClock.now()) throws -> [String: Any]? {
        guard !pipeline.sources.isEmpty else { return nil }
        let report = IngestionReport.build(checks: checks, pipelineFile: pipeline.file, previous: JSONReport.read(ingestionPath), now: now)
        try JSONReport.write(report, to: ingestionPath)
        return report
    }

    /// Builds and writes `reports/lineage.json` (the previous one is read only if a run must be
    /// carried over from it). `lockEntries`: see `Lineage.lockEntries`.
    @discardableResult
    public func writeLineage(lock: Lockfile, checks: [SourceCheck], now: Date = AuditClock.now(),
                             lockEntries: [String: String] = [:]) throws -> [String: Any] {
        let lineage = try Lineage(workspace: workspace, pipeline: pipeline, lock: lock, auditor: auditor, runLog: runLog,
                                  sourceChecks: checks, lockEntries: lockEntries).build(now: now, previous: JSONReport.read(lineagePath))
        try JSONReport.write(lineage, to: lineagePath)
        try? state.save()
        return lineage
    }

    /// After a repro: verify every source, write ingestion and lineage. `stagesChanged`: false when
    /// no stage ran, was restored or failed; then the lineage is rewritten only if its inputs
    /// changed since it was written (`LineageStamp`). `lockEntries`: see `Lineage.lockEntries`.
    public func afterRepro(lock: Lockfile, stagesChanged: Bool = true, lockEntries: [String: String] = [:]) throws {
        // The lineage is rewritten for certain: git (two processes) runs while the rest is done.
        let git = stagesChanged ? Git(root: workspace.root).stateInBackground() : nil
        let now = AuditClock.now()
        let checks = try verify(now: now)
        try writeIngestion(checks, now: now)
        let stamp = LineageStamp(workspace: workspace, pipeline: pipeline, checks: checks, reportPath: lineagePath)
        if !stagesChanged && stamp.matchesStored() { return }
        try writeLineageReusingFragments(lock: lock, checks: checks, now: now, lockEntries: lockEntries, gitState: git)
        stamp.store()
    }

    var lineageFragmentsPath: String { workspace.crxDirectory + "/state/lineage-fragments.v1" }

    /// Writes `reports/lineage.json` as `writeLineage` does, encoding again only the stages whose
    /// share of it changed since the report on disk (see `LineageFragments`). Returns the stages
    /// encoded again, and how many stages the report has.
    @discardableResult
    public func writeLineageReusingFragments(lock: Lockfile, checks: [SourceCheck], now: Date = AuditClock.now(),
                                             lockEntries: [String: String] = [:],
                                             gitState: (@Sendable () -> (commit: String, dirty: Bool)?)? = nil) throws
        -> (encodedStages: [String], total: Int) {
        let fs = LocalFileSystem()
        var lineage = Lineage(workspace: workspace, pipeline: pipeline, lock: lock, auditor: auditor, runLog: runLog,
                              sourceChecks: checks, lockEntries: lockEntries)
        lineage.gitState = gitState
        var reusable: (bytes: [UInt8], fragments: LineageFragments)?
        if let fragments = LineageFragments.load(file: lineageFragmentsPath), let bytes = try? fs.readFile(lineagePath),
           fragments.describes(bytes) {
            reusable = (bytes, fragments)
        }
        let previous = { () -> [String: Any]? in
            guard let bytes = reusable?.bytes else { return JSONReport.read(lineagePath) }
            return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        }
        guard let (bytes, fragments, encoded) = try lineage.encode(now: now, previous: previous(), reusing: reusable) else {
            try? fs.remove(lineageFragmentsPath)
            try writeLineage(lock: lock, checks: checks, now: now, lockEntries: lockEntries)
            return (pipeline.stages.map(\.name), pipeline.stages.count)
        }
        // The report first: fragments that do not describe it are never used.
        try fs.writeAtomically(bytes, to: lineagePath)
        try? fs.writeAtomically(fragments.rendered(), to: lineageFragmentsPath)
        try? state.save()
        return (encoded, fragments.parts.count)
    }

    /// Evaluates freshness and writes `reports/freshness.json`.
    public func freshness(maxAgeHours: Double?) throws -> (results: [FreshnessReport.Result], report: [String: Any]) {
        let now = AuditClock.now()
        let checks = try verify(now: now)
        let results = FreshnessReport.evaluate(checks, now: now, maxAgeHours: maxAgeHours)
        let report = FreshnessReport.build(results, project: (workspace.root as NSString).lastPathComponent, now: now)
        try JSONReport.write(report, to: freshnessPath)
        return (results, report)
    }

    /// `crx sources pin NAME…`: rewrites each source's checksum in the pipeline file to the file's
    /// current content, keeping every other byte (formatting, comments), and records the previous
    /// pin in `reports/ingestion.json`.
    public func pin(_ names: [String]) throws -> [(name: String, old: Checksum, new: Checksum)] {
        let fs = LocalFileSystem()
        let file = ProjectPath.join(workspace.root, pipeline.file)
        var text = String(decoding: try fs.readFile(file), as: UTF8.self)
        var changes: [(String, Checksum, Checksum)] = []
        let now = AuditClock.now()
        // Edit from the bottom of the file up so earlier positions stay valid.
        let chosen = try names.map { name -> Source in
            guard let s = pipeline.sources.first(where: { $0.name == name }) else {
                throw DefinitionError("unknown source '\(name)'; sources: \(pipeline.sources.map(\.name).joined(separator: ", "))")
            }
            return s
        }.sorted { ($0.checksumLocation.line, $0.checksumLocation.column) > ($1.checksumLocation.line, $1.checksumLocation.column) }
        for source in chosen {
            guard let facts = try auditor.facts(source.path, md5: source.checksum.algorithm == .md5), facts.nfiles == nil else {
                throw IOError("read source '\(source.name)'", path: source.path, errno: ENOENT)
            }
            let hex = switch source.checksum.algorithm {
            case .sha256: facts.sha256
            case .md5: facts.md5 ?? ""
            case .xxh128: facts.xxh128.hex
            }
            let new = Checksum(algorithm: source.checksum.algorithm, hex: hex)
            text = try Self.replaceScalar(in: text, at: source.checksumLocation, old: source.checksum, new: new)
            changes.append((source.name, source.checksum, new))
        }
        try fs.writeAtomically(Array(text.utf8), to: file)
        var report = JSONReport.read(ingestionPath) ?? [:]
        for (name, old, new) in changes where old != new {
            IngestionReport.recordPin(in: &report, source: name, old: old.description, new: new.description, at: now)
        }
        try JSONReport.write(report, to: ingestionPath)
        return changes.reversed()
    }

    /// Replaces the checksum scalar that starts at `location` (1-based line/column), quoted or not.
    static func replaceScalar(in text: String, at location: SourceLocation, old: Checksum, new: Checksum) throws -> String {
        var lines = text.components(separatedBy: "\n")
        guard location.line - 1 < lines.count else { throw DefinitionError("checksum position out of range", at: location) }
        var line = lines[location.line - 1]
        guard let range = line.range(of: old.description, options: .caseInsensitive) else {
            throw DefinitionError("cannot find the checksum '\(old)' to replace on this line", at: location)
        }
        line.replaceSubrange(range, with: new.description)
        lines[location.line - 1] = line
        return lines.joined(separator: "\n")
    }
}
