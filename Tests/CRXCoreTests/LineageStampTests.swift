import Foundation
import Testing
@testable import CRXCore

/// A no-op repro skips rebuilding reports/lineage.json only while everything it is built from is unchanged.
@Suite struct LineageStampTests {
    @Test func matchesOnlyWhileInputsAndReportAreUnchanged() throws {
        let dir = TempDir()
        dir.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n")
        dir.write("pipeline.lock", "schema: crx-lock/1\nstages: {}\n")
        dir.write("reports/lineage.json", "{}")
        let ws = Workspace(root: dir.path, pipelineFile: "pipeline.yaml")
        try ws.initialize()
        let pipeline = try ws.loadPipeline()
        func stamp() -> LineageStamp { LineageStamp(workspace: ws, pipeline: pipeline, checks: [], reportPath: dir.path + "/reports/lineage.json") }

        #expect(!stamp().matchesStored(), "nothing stored yet")
        stamp().store()
        #expect(stamp().matchesStored())

        dir.write("pipeline.lock", "schema: crx-lock/1\nstages: {}\n# edited\n")
        #expect(!stamp().matchesStored(), "the lock changed")
        stamp().store()
        #expect(stamp().matchesStored())

        dir.write(".crx/runs/index.json", "{\"a\": {}}")
        #expect(!stamp().matchesStored(), "the run index changed")
        stamp().store()

        dir.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n    desc: new\n")
        #expect(!stamp().matchesStored(), "the pipeline file changed")
        stamp().store()
        #expect(stamp().matchesStored())

        dir.write("reports/lineage.json", "{\"edited\": true}")
        #expect(!stamp().matchesStored(), "the report was rewritten or edited")
        stamp().store()
        try FileManager.default.removeItem(atPath: dir.path + "/reports/lineage.json")
        #expect(!stamp().matchesStored(), "the report is gone")
    }
}
