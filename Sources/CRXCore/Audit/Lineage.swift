import Foundation

/// `reports/lineage.json`: for every artefact, exactly which data, params and code produced it,
/// when, with what command, and whether it was rebuilt or restored from the cache — readable
/// without running anything. Fields are documented in the README and `schemas/lineage.schema.json`.
///
/// Built from values: the pipeline, the lock, the run log, verified sources and the workspace's
/// files (through the state cache, so building it costs no extra read of unchanged files). The
/// same state gives the same bytes apart from `generated_at`.
public struct Lineage: Sendable {
    public static let schema = "crx-lineage/1"

    public let workspace: Workspace
    public let pipeline: Pipeline
    public let lock: Lockfile
    public let auditor: FileAuditor
    public let runLog: RunLog
    public let sourceChecks: [SourceCheck]
    /// Stage → `RunLog.lockEntryDigest` of its record in `lock`, when the caller has them already
    /// (`LockWriter.entryDigests()`); the others are computed here.
    public let lockEntries: [String: String]
    /// The project's git state when the caller started finding it already
    /// (`Git.stateInBackground`); else it is found when the report is built.
    public var gitState: (@Sendable () -> (commit: String, dirty: Bool)?)?

    public init(workspace: Workspace, pipeline: Pipeline, lock: Lockfile, auditor: FileAuditor, runLog: RunLog, sourceChecks: [SourceCheck],
                lockEntries: [String: String] = [:]) {
        self.workspace = workspace
        self.pipeline = pipeline
        self.lock = lock
        self.auditor = auditor
        self.runLog = runLog
        self.sourceChecks = sourceChecks
        self.lockEntries = lockEntries
    }

    public var projectName: String { (workspace.root as NSString).lastPathComponent }

    /// `previous`: the last lineage.json; a run this machine did not record is carried over from it
    /// when it describes the same lock entry (the lock and its lineage came from git together). It is
    /// only evaluated when some stage's run is not in the run log (after local builds, never: at
    /// 1,000 stages parsing the previous report cost more than building the new one).
    public func build(now: Date, previous: @autoclosure () -> [String: Any]? = nil) throws -> [String: Any] {
        var previousRunsRead: [String: [String: Any]]?
        func previousRuns() -> [String: [String: Any]] {
            if previousRunsRead == nil { previousRunsRead = Self.carriedRuns(previous()) }
            return previousRunsRead!
        }
        var runs: [Any] = []
        var artefacts: [String: Any] = [:]
        let sourcesByPath = self.sourcesByPath
        for stage in pipeline.stages {
            guard let record = lock.stages[stage.name] else { continue }
            let entry = entryDigest(stage.name, record)
            let run = runLog.current(stage: stage.name, lockEntry: entry)
            let part = try self.part(stage, record: record, entry: entry, run: run, carried: run == nil ? previousRuns()[entry] : nil,
                                     facts: record.outs.map { try auditor.facts($0.path) }, sourcesByPath: sourcesByPath)
            runs.append(part.run)
            for (path, artefact) in part.artefacts { artefacts[path] = artefact }
        }
        return header(now: now, runs: runs, artefacts: artefacts)
    }

    /// The runs of a `previous` report that can be carried over, by lock entry.
    static func carriedRuns(_ previous: [String: Any]?) -> [String: [String: Any]] {
        var found: [String: [String: Any]] = [:]
        for run in previous?["runs"] as? [[String: Any]] ?? [] {
            if let entry = run["lock_entry"] as? String, run["produced_by"] as? String != "unknown" { found[entry] = run }
        }
        return found
    }

    /// Source checks by the path they pin.
    var sourcesByPath: [String: SourceCheck] {
        Dictionary(sourceChecks.map { ($0.source.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// A stage's `RunLog.lockEntryDigest` (given or computed).
    func entryDigest(_ stage: String, _ record: Lockfile.StageRecord) -> String {
        lockEntries[stage] ?? RunLog.lockEntryDigest(stage: stage, record: record)
    }

    /// One stage's share of the lineage: its run and the artefacts it produced (path → object).
    struct StagePart {
        var run: [String: Any]
        var artefacts: [(path: String, value: [String: Any])]
    }

    /// The run and artefacts of `stage`, from its lock `record` (whose digest is `entry`), the run
    /// this machine recorded for it (or the one `carried` over from the previous report) and the
    /// workspace `facts` of each of `record.outs` (nil: missing).
    func part(_ stage: Stage, record: Lockfile.StageRecord, entry: String, run: RunLog.Record?, carried: [String: Any]?,
              facts outFacts: [FileFacts?], sourcesByPath: [String: SourceCheck]) throws -> StagePart {
        let runID = run?.runID ?? carried?["run_id"] as? String ?? Self.uuid(fromHex: entry)
        var runJSON: [String: Any] = run?.json ?? carried ?? [
            "run_id": runID, "stage": stage.name, "cmd": record.cmd, "wdir": stage.wdir.isEmpty ? "." : stage.wdir,
            "started_at": NSNull(), "finished_at": NSNull(), "duration_s": NSNull(), "exit_code": NSNull(),
            "produced_by": "unknown", "original_run_id": NSNull(), "lock_entry": entry, "executor": NSNull(),
        ]
        runJSON["note"] = run != nil ? NSNull()
            : carried != nil ? "recorded elsewhere; carried over from the previous lineage.json"
            : "no run record for the current lock entry (built elsewhere)"

        let inputs: [Any] = record.deps.map { dep in
            var input: [String: Any] = ["path": dep.path, "xxh128": dep.hash.digest.description, "size": dep.hash.size]
            if let check = sourcesByPath[dep.path] {
                input["kind"] = "source"
                input["source"] = check.source.name
                input["checksum"] = check.source.checksum.description
                input["verified"] = check.status.rawValue
            } else if let producer = pipeline.producer(of: dep.path) {
                input["kind"] = "artefact"
                input["stage"] = producer.stage.name
            } else {
                input["kind"] = "file"
            }
            return input
        }
        var params: [String: Any] = [:]
        for (file, values) in record.params {
            var kv: [String: Any] = [:]
            for (k, v) in values { kv[k] = v.jsonObject }
            params[file] = kv
        }
        var artefacts: [(path: String, value: [String: Any])] = []
        for (out, facts) in zip(record.outs, outFacts) {
            let declared = stage.outs.first { $0.path == out.path }
            let matches = facts?.xxh128 == out.hash.digest
            artefacts.append((out.path, [
                "path": out.path, "kind": declared.map { $0.kind == .out ? "out" : $0.kind == .metric ? "metric" : "plot" } ?? "out",
                "xxh128": out.hash.digest.description, "size": out.hash.size,
                "nfiles": JSONReport.orNull(out.hash.nfiles),
                "sha256": JSONReport.orNull(matches ? facts.map { "sha256:\($0.sha256)" } : nil),
                "in_workspace": facts == nil ? "missing" : matches ? "matches" : "modified",
                "cached": declared?.cache ?? true,
                "stage": stage.name, "run_id": runID, "cmd": record.cmd,
                "inputs": inputs, "params": params,
            ] as [String: Any]))
        }
        return StagePart(run: runJSON, artefacts: artefacts)
    }

    /// The whole report around its `runs` and `artefacts` (whatever form their elements take).
    func header(now: Date, runs: [Any], artefacts: [String: Any]) -> [String: Any] {
        let sources: [String: Any] = Dictionary(uniqueKeysWithValues: sourceChecks.map { c in
            (c.source.name, [
                "path": c.source.path, "origin": JSONReport.orNull(c.source.origin), "checksum": c.source.checksum.description,
                "status": c.status.rawValue,
                "sha256": JSONReport.orNull(c.facts.map { "sha256:\($0.sha256)" }),
                "xxh128": JSONReport.orNull(c.facts.map { $0.xxh128.description }),
            ] as [String: Any])
        })
        let pipelineBytes = (try? LocalFileSystem().readFile(ProjectPath.join(workspace.root, pipeline.file))) ?? []
        let git = gitState.map { $0() } ?? Git(root: workspace.root).state
        return [
            "schema_version": Self.schema, "crx_version": CRXVersion.string, "generated_at": AuditClock.iso(now),
            "project": projectName,
            "git": git.map { ["commit": $0.commit, "dirty": $0.dirty] as [String: Any] } ?? NSNull(),
            "pipeline": ["path": pipeline.file, "sha256": "sha256:" + CryptoHasher.hex(.sha256, of: pipelineBytes),
                         "lock": workspace.lockFileName],
            "runs": runs, "artefacts": artefacts, "sources": sources,
        ]
    }

    /// A UUID-shaped id derived from a digest (for runs recorded elsewhere).
    static func uuid(fromHex hex: String) -> String {
        let h = Array(hex.prefix(32))
        return "\(String(h[0 ..< 8]))-\(String(h[8 ..< 12]))-\(String(h[12 ..< 16]))-\(String(h[16 ..< 20]))-\(String(h[20 ..< 32]))"
    }

    // MARK: reading a lineage

    /// The upstream tree of an artefact, back to sources and plain files.
    public static func upstreamTree(of path: String, in lineage: [String: Any]) -> [String: Any]? {
        let artefacts = lineage["artefacts"] as? [String: [String: Any]] ?? [:]
        func containing(_ p: String) -> [String: Any]? {
            if let a = artefacts[p] { return a }
            return artefacts.first { ProjectPath.isInside(p, $0.key) }?.value
        }
        func node(_ p: String, depth: Int) -> [String: Any]? {
            guard depth < 256, let a = containing(p) else { return nil }
            var result = a
            result["path"] = p
            result["inputs"] = (a["inputs"] as? [[String: Any]] ?? []).map { input -> [String: Any] in
                var i = input
                if input["kind"] as? String == "artefact", let p = input["path"] as? String, let up = node(p, depth: depth + 1) {
                    i["produced_by"] = up
                }
                return i
            }
            return result
        }
        return node(path, depth: 0)
    }

    /// Artefacts whose workspace content differs from what `lineage` records.
    public static func verify(_ lineage: [String: Any], hasher: PathHasher) throws -> [(path: String, problem: String)] {
        var problems: [(String, String)] = []
        let artefacts = lineage["artefacts"] as? [String: [String: Any]] ?? [:]
        for path in artefacts.keys.sorted() {
            guard let recorded = artefacts[path]?["xxh128"] as? String else { continue }
            guard let now = try hasher.digest(of: path) else {
                problems.append((path, "missing (lineage records \(recorded))"))
                continue
            }
            if now.digest.description != recorded {
                problems.append((path, "modified: lineage records \(recorded), the workspace has \(now.digest)"))
            }
        }
        return problems
    }

    /// OpenLineage RunEvents (one COMPLETE event per stage run), as JSON lines.
    public static func openLineageEvents(_ lineage: [String: Any]) throws -> [UInt8] {
        let namespace = lineage["project"] as? String ?? "crx"
        let producer = "https://github.com/crx-build/crx/tree/\(CRXVersion.string)"
        let artefacts = lineage["artefacts"] as? [String: [String: Any]] ?? [:]
        var out: [UInt8] = []
        for run in lineage["runs"] as? [[String: Any]] ?? [] {
            guard let stage = run["stage"] as? String, let runID = run["run_id"] as? String else { continue }
            let produced = artefacts.values.filter { $0["stage"] as? String == stage }.sorted { ($0["path"] as? String ?? "") < ($1["path"] as? String ?? "") }
            func dataset(_ path: String, _ facts: [String: Any]) -> [String: Any] {
                ["namespace": namespace, "name": path,
                 "facets": ["crx_hash": ["_producer": producer, "_schemaURL": "https://github.com/crx-build/crx/schemas/lineage.schema.json",
                                         "xxh128": facts["xxh128"] ?? NSNull(), "sha256": facts["sha256"] ?? NSNull(),
                                         "size": facts["size"] ?? NSNull()]]]
            }
            let inputs = (produced.first?["inputs"] as? [[String: Any]] ?? []).map { dataset($0["path"] as? String ?? "", $0) }
            let outputs = produced.map { dataset($0["path"] as? String ?? "", $0) }
            let event: [String: Any] = [
                "eventType": "COMPLETE",
                "eventTime": run["finished_at"] as? String ?? lineage["generated_at"] as? String ?? AuditClock.iso(AuditClock.now()),
                "producer": producer,
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": ["runId": runID, "facets": ["crx_run": [
                    "_producer": producer, "_schemaURL": "https://github.com/crx-build/crx/schemas/lineage.schema.json",
                    "produced_by": run["produced_by"] ?? NSNull(), "cmd": run["cmd"] ?? NSNull(),
                    "started_at": run["started_at"] ?? NSNull(), "exit_code": run["exit_code"] ?? NSNull(),
                    "original_run_id": run["original_run_id"] ?? NSNull()]]],
                "job": ["namespace": namespace, "name": stage],
                "inputs": inputs, "outputs": outputs,
            ]
            let data = try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])
            out += Array(data) + [10]
        }
        return out
    }
}
