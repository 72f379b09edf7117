import Foundation
import Testing
@testable import CRXCore

/// The lineage written after a repro from the previous report's fragments is byte for byte the
/// report a full encode gives, through runs, carried-over runs, removed stages and edited outputs.
///
/// ```
///   a ──▶ d          a: run recorded here      b: built elsewhere, run carried over
///   b                c: removed from the pipeline at step 3
///   c
/// ```
@Suite struct LineageFragmentsTests {
    struct Project {
        let dir = TempDir()
        var ws: Workspace
        var lock = Lockfile()
        let runLog: RunLog
        let state: StateCache

        init() throws {
            dir.write("pipeline.yaml", Self.pipeline(stages: ["a", "b", "c", "d"]))
            ws = Workspace(root: dir.path, pipelineFile: "pipeline.yaml")
            try ws.initialize()
            runLog = ws.runLog()
            state = ws.stateCache()
        }

        static func pipeline(stages: [String]) -> String {
            var text = "stages:\n"
            for name in stages {
                text += "  \(name):\n    cmd: echo \(name) > \(name).txt\n"
                if name == "d" { text += "    deps: [a.txt]\n" }
                text += "    outs: [\(name).txt]\n"
            }
            return text
        }

        /// Writes `name`'s output with `content` and records it in the lock (and, with `run`, a run).
        mutating func build(_ name: String, _ content: String, run: Bool) throws {
            dir.write("\(name).txt", content)
            var deps: [Lockfile.Entry] = []
            if name == "d", let a = lock.stages["a"]?.outs.first { deps = [.init(path: "a.txt", hash: a.hash)] }
            let record = Lockfile.StageRecord(cmd: ["echo \(name) > \(name).txt"], deps: deps, params: [:],
                                              outs: [.init(path: "\(name).txt", hash: PathDigest(digest: XXH3Hasher.digest(content),
                                                                                                 size: Int64(content.utf8.count)))])
            lock.stages[name] = record
            guard run else { return }
            let started = Date(timeIntervalSince1970: 1_700_000_000)
            try runLog.save(.init(runID: RunLog.newRunID(), stage: name, cmd: record.cmd, wdir: "", started: started,
                                  finished: started.addingTimeInterval(1.25), exitCode: 0, producedBy: .ran, originalRunID: nil,
                                  lockEntry: RunLog.lockEntryDigest(stage: name, record: record)))
        }

        var audit: AuditTrail { get throws { AuditTrail(workspace: ws, pipeline: try ws.loadPipeline(), state: state, runLog: runLog) } }

        /// Writes the report from fragments and checks it against a full encode from the same
        /// previous report; returns the stages encoded again.
        func writeAndCompare(_ now: Date, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [String] {
            let audit = try self.audit
            let previous = JSONReport.read(audit.lineagePath)
            let expected = try JSONReport.encode(Lineage(workspace: ws, pipeline: audit.pipeline, lock: lock,
                                                         auditor: FileAuditor(root: ws.root, state: state), runLog: runLog,
                                                         sourceChecks: []).build(now: now, previous: previous))
            let written = try audit.writeLineageReusingFragments(lock: lock, checks: [], now: now)
            let bytes = try LocalFileSystem().readFile(audit.lineagePath)
            #expect(bytes == expected, "incremental lineage differs from a full encode", sourceLocation: sourceLocation)
            if bytes != expected {
                try? Data(expected).write(to: URL(fileURLWithPath: audit.lineagePath + ".expected"))
            }
            return written.encodedStages
        }
    }

    @Test func incrementalReportEqualsAFullEncode() throws {
        var p = try Project()
        try p.build("a", "a1\n", run: true)
        try p.build("b", "b1\n", run: false)
        try p.build("c", "c1\n", run: true)
        try p.build("d", "d1\n", run: true)
        // b's run comes from a lineage.json that came with the lock (from git).
        let bEntry = RunLog.lockEntryDigest(stage: "b", record: p.lock.stages["b"]!)
        let fromGit: [String: Any] = ["schema_version": Lineage.schema, "runs": [[
            "run_id": "0f0e0d0c-0b0a-0908-0706-050403020100", "stage": "b", "cmd": ["echo b > b.txt"], "wdir": ".",
            "started_at": "2023-11-14T22:13:20Z", "finished_at": "2023-11-14T22:13:21Z", "duration_s": 1.5,
            "exit_code": 0, "produced_by": "ran", "original_run_id": NSNull(), "lock_entry": bEntry, "executor": "local",
            "note": NSNull(),
        ] as [String: Any]], "artefacts": [String: Any]()]
        try JSONReport.write(fromGit, to: try p.audit.lineagePath)
        var now = Date(timeIntervalSince1970: 1_700_000_100)

        // 1. No fragments yet: every stage encoded.
        #expect(try Set(p.writeAndCompare(now)) == ["a", "b", "c", "d"])
        let report = try #require(JSONReport.read(try p.audit.lineagePath))
        let runs = try #require(report["runs"] as? [[String: Any]])
        #expect(runs.first { $0["stage"] as? String == "b" }?["run_id"] as? String == "0f0e0d0c-0b0a-0908-0706-050403020100")

        // 2. Nothing changed: nothing encoded again, the same bytes.
        now += 60
        #expect(try p.writeAndCompare(now) == [])

        // 3. a ran again: only a (its run and output) and d (its input's producer is unchanged,
        //    but its own record is not) — d is rebuilt too.
        now += 60
        try p.build("a", "a2\n", run: true)
        try p.build("d", "d2\n", run: true)
        #expect(try p.writeAndCompare(now) == ["a", "d"])

        // 4. c removed from the pipeline (its record stays in the lock): gone from the report.
        now += 60
        p.dir.write("pipeline.yaml", Project.pipeline(stages: ["a", "b", "d"]))
        #expect(try p.writeAndCompare(now) == [])
        let afterRemoval = try #require(JSONReport.read(try p.audit.lineagePath))
        #expect((afterRemoval["artefacts"] as? [String: Any])?["c.txt"] == nil)

        // 5. d's output edited in the workspace: d's artefact says so.
        now += 60
        p.dir.write("d.txt", "edited\n")
        #expect(try p.writeAndCompare(now) == ["d"])

        // 6. A report edited by hand is not reused: every stage encoded again.
        now += 60
        let path = try p.audit.lineagePath
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"matches\"", with: "\"MATCHES\"")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try Set(p.writeAndCompare(now)) == ["a", "b", "d"])
    }

    @Test func fragmentsRoundTripThroughTheirFile() throws {
        let fragments = LineageFragments(report: XXH3Hasher.digest("report"), parts: [
            "train": .init(key: XXH3Hasher.digest("k1"), run: 10 ..< 20, artefacts: [.init(path: "models/a\tb.bin", range: 30 ..< 40)]),
            "odd\nname": .init(key: XXH3Hasher.digest("k2"), run: 50 ..< 60, artefacts: []),
        ])
        #expect(LineageFragments.parse(String(decoding: fragments.rendered(), as: UTF8.self)) == fragments)
        #expect(LineageFragments.parse("crx-lineage-fragments 1\nnot a digest\n") == nil)
        #expect(LineageFragments.parse("crx-lineage-fragments 1\n\(XXH3Hasher.digest("r").hex)\n\t1\t2\tp\n") == nil)
    }
}
