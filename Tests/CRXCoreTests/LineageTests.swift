import Foundation
import Testing
@testable import CRXCore

/// The lineage after a repro reuses what the repro already has: the lock entries' digests from the
/// lock writer's blocks, and the previous report only when a run must be carried over from it.
@Suite struct LineageTests {
    /// Every digest the lock writer gives equals `RunLog.lockEntryDigest` of the same record, for
    /// records loaded from disk (not rendered yet) and records added by the build alike.
    @Test func lockWriterDigestsAreTheRunLogsLockEntries() throws {
        let dir = TempDir()
        let order = (0 ..< 12).map { "s\($0)" } + ["@odd name"]
        var initial = Lockfile()
        for (n, name) in order.enumerated() where n % 2 == 0 { initial.stages[name] = LockWriterTests.record(n) }
        let writer = LockWriter(path: dir.path + "/pipeline.lock", order: order, lock: initial)
        let loaded = writer.entryDigests()
        #expect(Set(loaded.keys) == Set(initial.stages.keys))
        for (name, record) in initial.stages {
            #expect(loaded[name] == RunLog.lockEntryDigest(stage: name, record: record), "\(name)")
        }
        try writer.record("s1", LockWriterTests.record(31, params: false))
        try writer.record("s2", LockWriterTests.record(32))
        let digests = writer.entryDigests()
        #expect(Set(digests.keys) == Set(writer.lock.stages.keys))
        for (name, record) in writer.lock.stages {
            #expect(digests[name] == RunLog.lockEntryDigest(stage: name, record: record), "\(name)")
        }
    }

    /// A project with stages `a` (run recorded locally) and `b` (built elsewhere: no run record).
    func project() throws -> (dir: TempDir, ws: Workspace, pipeline: Pipeline, lock: Lockfile, runLog: RunLog) {
        let dir = TempDir()
        dir.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n")
        dir.write("a.txt", "a\n")
        dir.write("b.txt", "b\n")
        let ws = Workspace(root: dir.path, pipelineFile: "pipeline.yaml")
        try ws.initialize()
        let pipeline = try ws.loadPipeline()
        func record(_ name: String) -> Lockfile.StageRecord {
            .init(cmd: ["echo \(name) > \(name).txt"], deps: [], params: [:],
                  outs: [.init(path: "\(name).txt", hash: PathDigest(digest: XXH3Hasher.digest("\(name)\n"), size: 2))])
        }
        let lock = Lockfile(stages: ["a": record("a"), "b": record("b")])
        let runLog = ws.runLog()
        let started = Date(timeIntervalSince1970: 1_700_000_000)
        try runLog.save(.init(runID: RunLog.newRunID(), stage: "a", cmd: lock.stages["a"]!.cmd, wdir: "", started: started,
                              finished: started.addingTimeInterval(1), exitCode: 0, producedBy: .ran, originalRunID: nil,
                              lockEntry: RunLog.lockEntryDigest(stage: "a", record: lock.stages["a"]!)))
        return (dir, ws, pipeline, lock, runLog)
    }

    @Test func thePreviousReportIsReadOnlyWhenARunIsCarriedOver() throws {
        let p = try project()
        let state = p.ws.stateCache()
        let auditor = FileAuditor(root: p.ws.root, state: state)
        let now = Date(timeIntervalSince1970: 1_700_000_100)
        let writer = LockWriter(path: p.ws.lockPath, order: ["a", "b"], lock: p.lock)
        let entries = writer.entryDigests()
        var reads = 0
        func previous(carrying stage: String? = nil) -> [String: Any]? {
            reads += 1
            guard let stage else { return nil }
            let entry = RunLog.lockEntryDigest(stage: stage, record: p.lock.stages[stage]!)
            return ["runs": [["run_id": "from-git", "stage": stage, "lock_entry": entry, "produced_by": "ran"]]]
        }

        // Only `a`: its run is in the run log, so the previous report is not needed.
        let onlyA = Lockfile(stages: ["a": p.lock.stages["a"]!])
        let lineageA = Lineage(workspace: p.ws, pipeline: p.pipeline, lock: onlyA, auditor: auditor, runLog: p.runLog, sourceChecks: [],
                               lockEntries: entries)
        _ = try lineageA.build(now: now, previous: previous())
        #expect(reads == 0)

        // With `b`: read once, and `b`'s run carried over from it — with or without given digests, the same report.
        let full = Lineage(workspace: p.ws, pipeline: p.pipeline, lock: p.lock, auditor: auditor, runLog: p.runLog, sourceChecks: [],
                           lockEntries: entries)
        let withDigests = try full.build(now: now, previous: previous(carrying: "b"))
        #expect(reads == 1)
        let plain = Lineage(workspace: p.ws, pipeline: p.pipeline, lock: p.lock, auditor: auditor, runLog: p.runLog, sourceChecks: [])
        let withoutDigests = try plain.build(now: now, previous: previous(carrying: "b"))
        #expect(reads == 2)
        #expect(try JSONReport.encode(withDigests) == JSONReport.encode(withoutDigests))
        let runs = try #require(withDigests["runs"] as? [[String: Any]])
        #expect(runs.map { $0["run_id"] as? String }.last == "from-git")
        #expect(runs.first?["produced_by"] as? String == "ran")
    }
}
