import Foundation
import Testing
@testable import CRXCore

/// A dep nobody produces and that does not exist is refused with its location, by `status`/dry
/// runs (checked from the snapshots) as by `repro` (checked before anything runs).
@Suite struct MissingDepTests {
    /// Keeps the project directories alive for the test's duration.
    static let dirs = Protected<[TempDir]>([])

    func reproducer(_ yaml: String) throws -> Reproducer {
        let dir = TempDir()
        Self.dirs.withLock { $0.append(dir) }
        dir.write("pipeline.yaml", yaml)
        dir.write("in.txt", "x")
        let ws = Workspace(root: dir.path, pipelineFile: "pipeline.yaml")
        try ws.initialize()
        return try Reproducer(workspace: ws, pipeline: try ws.loadPipeline())
    }

    static let yaml = """
        stages:
          a:
            cmd: cp in.txt a.txt
            deps: [in.txt]
            outs: [a.txt, dir]
          b:
            cmd: cat a.txt dir/x missing.txt > b.txt
            deps: [a.txt, dir/x, missing.txt]
            outs: [b.txt]

        """

    @Test func planAndRunRefuseTheSameDepAtTheSamePlace() throws {
        for check in [{ (r: Reproducer) in _ = try r.plan(.init()) }, { (r: Reproducer) in try r.checkDepsExist(r.pipeline.order) }] {
            let r = try reproducer(Self.yaml)
            let error = definitionError { try check(r) }
            #expect(error?.message.contains("dependency 'missing.txt' does not exist and no stage produces it") == true, "\(String(describing: error))")
            #expect(error?.location?.line == 8)
        }
        // Produced (even inside an output directory) or present: no error.
        let ok = try reproducer(Self.yaml.replacingOccurrences(of: ", missing.txt]", with: "]"))
        #expect(try ok.plan(.init()).outcomes.count == 2)
    }

    @Test func aFrozenStagesMissingDepIsRefusedToo() throws {
        let r = try reproducer(Self.yaml.replacingOccurrences(of: "    outs: [b.txt]", with: "    outs: [b.txt]\n    frozen: true"))
        #expect(definitionError { _ = try r.plan(.init()) }?.location?.line == 8)
    }

    @Test func outputIndexFindsContainingAndContainedOutputs() throws {
        let stages = try parseStages("""
            stages:
              a: {cmd: x, outs: [d/out, top.txt]}
              b: {cmd: y, outs: [d/sub/deep/f.txt]}
            """)
        let index = OutputIndex(stages: stages)
        #expect(index.containing("d/out/inner/file")?.path == "d/out")
        #expect(index.containing("d/out")?.owner.stage == 0)
        #expect(index.containing("d/other") == nil && index.containing("top") == nil)
        #expect(index.below("d").map(\.path).sorted() == ["d/out", "d/sub/deep/f.txt"])
        #expect(index.below("d/sub").map(\.path) == ["d/sub/deep/f.txt"])
        #expect(index.below("d/su").isEmpty && index.below("top.txt").isEmpty)
        #expect(index.overlapping("d/sub/deep").map(\.path) == ["d/sub/deep/f.txt"])
        #expect(index.overlapping("d/out/x").map(\.path) == ["d/out"])
    }
}
