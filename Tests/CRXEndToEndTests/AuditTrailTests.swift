// The audit trail through the built binary: pinned sources verified before anything runs,
// `sources pin` keeping the file's formatting, freshness with a controlled clock, lineage after full,
// partial, restored and failed runs, `lineage --verify`, OpenLineage, and every report validated
// against its shipped JSON Schema.
import Foundation
import Testing
@testable import CRXCore

@Suite struct AuditTrailTests {
    static let rawData = "id,amount,label\n1,100,good\n2,250,bad\n3,80,good\n"
    static var rawSHA256: String { CryptoHasher.hex(.sha256, of: Array(rawData.utf8)) }

    func pipeline(checksum: String? = nil, freshness: String = "") -> String {
        """
        # the raw feed and two stages
        sources:
          feed:   # pinned by the provider
            path: data/raw.csv
            checksum: \(checksum ?? "sha256:" + Self.rawSHA256)   # keep this comment
            origin: "test provider"
        \(freshness)
        stages:
          prepare:
            cmd: mkdir -p data && cp data/raw.csv data/clean.csv && echo prepare >> runs.log
            deps: [data/raw.csv]
            outs: [data/clean.csv]
          train:
            cmd: wc -l data/clean.csv > model.txt && echo train >> runs.log
            deps: [data/clean.csv]
            params: [lr]
            outs: [model.txt]
        """
    }

    func project(checksum: String? = nil, freshness: String = "") throws -> Project {
        try Project(["pipeline.yaml": pipeline(checksum: checksum, freshness: freshness), "data/raw.csv": Self.rawData,
                     "params.yaml": "lr: 0.1\n"])
    }

    func json(_ p: Project, _ path: String) throws -> [String: Any] {
        let data = try #require(p.bytes(path), "\(path) missing")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func mismatchingSourceStopsEverythingAndLeavesTheLockAlone() throws {
        let p = try project()
        #expect(try p.repro().exitCode == 0)
        let lock = p.lockText
        p.write("data/raw.csv", Self.rawData + "4,999,bad\n")
        let r = p.crx("repro")
        #expect(r.exitCode == 1, "\(r)")
        #expect(r.stderr.contains("source 'feed'") && r.stderr.contains("expected sha256:\(Self.rawSHA256)"), "\(r)")
        #expect(r.stderr.contains("actual   sha256:") && r.stderr.contains("size"), "\(r)")
        #expect(p.runs == ["prepare", "train"], "nothing may run")
        #expect(p.lockText == lock)
        let ingestion = try json(p, "reports/ingestion.json")
        let feed = try #require((ingestion["sources"] as? [String: Any])?["feed"] as? [String: Any])
        #expect(feed["status"] as? String == "mismatch")
        #expect(ingestion["status"] as? String == "failed")
        // status and dry-run say so too
        let status = try p.status()
        #expect(status.reasonKinds("prepare").contains("source_invalid"))
        #expect(try p.dryRun().reasonKinds("prepare").contains("source_invalid"))
    }

    @Test func missingSourceIsReported() throws {
        let p = try project()
        p.remove("data/raw.csv")
        let r = p.crx("repro")
        #expect(r.exitCode == 1)
        #expect(r.stderr.contains("data/raw.csv is missing"), "\(r)")
        #expect(p.runs.isEmpty)
        #expect(p.lockText == nil)
        let verify = p.crx("sources", "verify")
        #expect(verify.exitCode == 1)
        #expect(verify.stdout.contains("MISSING"))
    }

    @Test func pinRewritesOnlyTheChecksumAndRecordsThePreviousPin() throws {
        let wrong = "sha256:" + String(repeating: "ab", count: 32)
        let p = try project(checksum: wrong)
        #expect(p.crx("repro").exitCode == 1)
        let before = try #require(p.read("pipeline.yaml"))
        let pin = p.crx("sources", "pin", "feed")
        #expect(pin.exitCode == 0, "\(pin)")
        let after = try #require(p.read("pipeline.yaml"))
        #expect(after == before.replacingOccurrences(of: wrong, with: "sha256:" + Self.rawSHA256))
        #expect(after.contains("# keep this comment") && after.contains("# pinned by the provider"))
        let ingestion = try json(p, "reports/ingestion.json")
        let feed = try #require((ingestion["sources"] as? [String: Any])?["feed"] as? [String: Any])
        let pins = try #require(feed["previous_pins"] as? [[String: Any]])
        #expect(pins.first?["checksum"] as? String == wrong)
        #expect(try p.repro().exitCode == 0)
        // the history survives the next report
        let again = try json(p, "reports/ingestion.json")
        #expect((((again["sources"] as? [String: Any])?["feed"] as? [String: Any])?["previous_pins"] as? [Any])?.count == 1)
        #expect(p.crx("sources", "pin", "nosuch").exitCode == 2)
    }

    @Test func freshnessPassWarnErrorWithAControlledClock() throws {
        let p = try project(freshness: "    freshness: {warn_after: 24h, error_after: 7d}")
        #expect(p.crx("sources", "verify").exitCode == 0) // first sighting: load time = now
        let ingestion = try json(p, "reports/ingestion.json")
        let seen = try #require(((ingestion["sources"] as? [String: Any])?["feed"] as? [String: Any])?["first_seen_at"] as? String)
        let loaded = try #require(AuditClock.parse(seen))
        func freshness(hoursLater: Double, _ extra: String...) -> (RunResult, [String: Any]?) {
            let now = String(loaded.timeIntervalSince1970 + hoursLater * 3600)
            let r = p.crx(["freshness", "--json"] + extra, environment: ["CRX_NOW": now])
            return (r, try? json(p, "reports/freshness.json"))
        }
        let (r1, pass) = freshness(hoursLater: 1)
        #expect(r1.exitCode == 0 && pass?["status"] as? String == "pass", "\(r1)")
        let result = try #require((pass?["results"] as? [[String: Any]])?.first)
        #expect((result["max_loaded_at_time_ago_in_s"] as? Double).map { abs($0 - 3600) < 1 } == true)
        #expect((result["criteria"] as? [String: Any]).map { ($0["warn_after"] as? [String: Any])?["count"] as? Int } == 24)
        let (_, warn) = freshness(hoursLater: 30)
        #expect(warn?["status"] as? String == "warn")
        let (r3, error) = freshness(hoursLater: 24 * 8)
        #expect(error?["status"] as? String == "error")
        #expect(r3.exitCode == 0, "without --fail-on-stale the report is informational")
        let (r4, _) = freshness(hoursLater: 24 * 8, "--fail-on-stale")
        #expect(r4.exitCode == 1)
        let (r5, overridden) = freshness(hoursLater: 3, "--max-age-hours", "2", "--fail-on-stale")
        #expect(r5.exitCode == 1 && overridden?["status"] as? String == "error")
    }

    @Test func lineageAfterFullPartialRestoredAndFailedRuns() throws {
        let p = try project()
        #expect(try p.repro().exitCode == 0)
        var lineage = try json(p, "reports/lineage.json")
        var artefacts = try #require(lineage["artefacts"] as? [String: [String: Any]])
        let model = try #require(artefacts["model.txt"])
        #expect(model["stage"] as? String == "train")
        #expect((model["sha256"] as? String) == "sha256:" + CryptoHasher.hex(.sha256, of: Array(try #require(p.bytes("model.txt")))))
        let inputs = try #require(model["inputs"] as? [[String: Any]])
        #expect(inputs.first?["kind"] as? String == "artefact" && inputs.first?["stage"] as? String == "prepare")
        #expect((model["params"] as? [String: [String: Any]])?["params.yaml"]?["lr"] as? Double == 0.1)
        let clean = try #require(artefacts["data/clean.csv"])
        let cleanInput = try #require((clean["inputs"] as? [[String: Any]])?.first)
        #expect(cleanInput["kind"] as? String == "source" && cleanInput["checksum"] as? String == "sha256:" + Self.rawSHA256)
        let runs = try #require(lineage["runs"] as? [[String: Any]])
        #expect(runs.map { $0["produced_by"] as? String } == ["ran", "ran"])
        let firstTrainRun = try #require(runs.last?["run_id"] as? String)

        // a no-op repro rewrites it identically apart from the generation time
        let before = try #require(p.read("reports/lineage.json"))
        #expect(try p.repro().ran.isEmpty)
        let strip = { (t: String) in t.split(separator: "\n").filter { !$0.contains("generated_at") }.joined(separator: "\n") }
        #expect(strip(try #require(p.read("reports/lineage.json"))) == strip(before))
        // …and once it is stamped, a no-op repro leaves the file alone (nothing it is built from changed)
        let inode = { try FileManager.default.attributesOfItem(atPath: p.root.path + "/reports/lineage.json")[.systemFileNumber] as? Int }
        let stamped = try inode()
        #expect(try p.repro().ran.isEmpty)
        #expect(try inode() == stamped, "a no-op repro must not rewrite lineage.json")
        try FileManager.default.removeItem(atPath: p.root.path + "/reports/lineage.json")
        #expect(try p.repro().ran.isEmpty)
        #expect(p.read("reports/lineage.json") != nil, "a deleted lineage.json is rebuilt by the next repro")

        // partial: a param change re-runs train only
        p.write("params.yaml", "lr: 0.2\n")
        #expect(try p.repro().ran == ["train"])
        lineage = try json(p, "reports/lineage.json")
        let runs2 = try #require(lineage["runs"] as? [[String: Any]])
        #expect(runs2.first?["run_id"] as? String == runs.first?["run_id"] as? String, "prepare's run is unchanged")
        #expect(runs2.last?["run_id"] as? String != firstTrainRun)

        // restored from the run-cache: produced_by run_cache, pointing at the original run
        p.write("params.yaml", "lr: 0.1\n")
        let back = try p.repro()
        #expect(back.restored == ["train"], "\(back)")
        lineage = try json(p, "reports/lineage.json")
        let trainRun = try #require((lineage["runs"] as? [[String: Any]])?.last)
        #expect(trainRun["produced_by"] as? String == "run_cache")
        #expect(trainRun["original_run_id"] as? String == firstTrainRun)

        // a failed stage: its last successful record stays the lineage of the outputs
        p.write("pipeline.yaml", pipeline().replacingOccurrences(of: "wc -l data/clean.csv > model.txt", with: "exit 3"))
        #expect(p.crx("repro").exitCode == 1)
        lineage = try json(p, "reports/lineage.json")
        artefacts = try #require(lineage["artefacts"] as? [String: [String: Any]])
        #expect(artefacts["model.txt"]?["run_id"] as? String == trainRun["run_id"] as? String)
    }

    @Test func lineageVerifyCatchesAHandEditedArtefactAndPrintsTheTree() throws {
        let p = try project()
        #expect(try p.repro().exitCode == 0)
        #expect(p.crx("lineage", "--verify").exitCode == 0)
        let tree = p.crx("lineage", "model.txt")
        #expect(tree.exitCode == 0)
        #expect(tree.stdout.contains("data/clean.csv") && tree.stdout.contains("source 'feed'"), "\(tree)")
        let jsonTree = p.crx("lineage", "model.txt", "--json")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(jsonTree.stdout.utf8)) as? [String: Any])
        let input = try #require((parsed["inputs"] as? [[String: Any]])?.first)
        #expect((input["produced_by"] as? [String: Any])?["stage"] as? String == "prepare")
        p.write("model.txt", "tampered\n")
        let verify = p.crx("lineage", "--verify")
        #expect(verify.exitCode == 1)
        #expect(verify.stderr.contains("model.txt: modified"), "\(verify)")
        #expect(p.crx("lineage", "nosuch.txt").exitCode == 2)
    }

    @Test func openLineageEventsAreJSONLinesWithTheRequiredFields() throws {
        let p = try project()
        #expect(try p.repro().exitCode == 0)
        let r = p.crx("lineage", "--format", "openlineage")
        #expect(r.exitCode == 0, "\(r)")
        let text = try #require(p.read("reports/openlineage.jsonl"))
        let events = try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(events.count == 2)
        for e in events {
            #expect(e["eventType"] as? String == "COMPLETE")
            #expect(e["eventTime"] is String && e["producer"] is String && e["schemaURL"] is String)
            let run = try #require(e["run"] as? [String: Any])
            #expect(UUID(uuidString: run["runId"] as? String ?? "") != nil)
            let job = try #require(e["job"] as? [String: Any])
            #expect(job["namespace"] as? String == "project" && job["name"] is String)
            #expect(e["inputs"] is [Any] && e["outputs"] is [Any])
        }
        let train = try #require(events.first { ($0["job"] as? [String: Any])?["name"] as? String == "train" })
        let output = try #require((train["outputs"] as? [[String: Any]])?.first)
        #expect(output["name"] as? String == "model.txt")
        #expect(((output["facets"] as? [String: Any])?["crx_hash"] as? [String: Any])?["xxh128"] as? String != nil)
    }

    /// Every report validates against its JSON Schema (Python's jsonschema; skipped visibly when absent).
    @Test func reportsMatchTheirSchemas() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import jsonschema"]
        check.standardError = FileHandle.nullDevice
        try? check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else {
            print("SKIPPED reportsMatchTheirSchemas: python3 with the jsonschema package is not available")
            return
        }
        let p = try project(freshness: "    freshness: {warn_after: 24h, error_after: 7d}")
        #expect(try p.repro().exitCode == 0)
        #expect(p.crx("freshness").exitCode == 0)
        let schemas = ExamplePipelineTests.packageRoot.appendingPathComponent("schemas").path
        for report in ["lineage", "ingestion", "freshness"] {
            let validate = Process()
            validate.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            validate.arguments = ["python3", "-c", """
                import json, sys, jsonschema
                schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
                jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
                """, "\(schemas)/\(report).schema.json", p.absolute("reports/\(report).json")]
            let err = Pipe()
            validate.standardError = err
            try validate.run()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            validate.waitUntilExit()
            #expect(validate.terminationStatus == 0, "reports/\(report).json does not match its schema: \(message)")
        }
    }
}
