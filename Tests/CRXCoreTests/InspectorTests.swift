import Foundation
import Testing
@testable import CRXCore

/// `Inspector.rememberedSnapshot`: the snapshot a no-op repro settles a stage with on the
/// scheduler's thread — taken with stats only, never when a file would have to be read.
@Suite struct InspectorTests {
    @Test func aRememberedSnapshotNeedsEveryFileVouchedFor() throws {
        let dir = TempDir()
        dir.write("in/a.txt", "a")
        dir.write("in/b.txt", "b")
        dir.write("out.txt", "o")
        let stage = Stage(name: "s", location: SourceLocation(file: "pipeline.yaml", line: 1, column: 1), cmd: ["true"], wdir: "",
                          deps: [.init(path: "in", location: SourceLocation(file: "pipeline.yaml", line: 2, column: 1))], params: [],
                          outs: [.init(path: "out.txt", kind: .out, cache: true, persist: false,
                                       location: SourceLocation(file: "pipeline.yaml", line: 3, column: 1))],
                          frozen: false, alwaysChanged: false, desc: nil)
        let state = StateCache(file: nil)
        let inspector = Inspector(hasher: PathHasher(root: dir.path, state: state), params: ParamsCache(root: dir.path))
        #expect(inspector.rememberedSnapshot(stage) == nil, "nothing is remembered yet")
        let full = try inspector.snapshot(stage)
        // Remembered only once the racy window has passed since the files' mtimes.
        for path in ["in/a.txt", "in/b.txt", "out.txt"] {
            let st = try #require(LocalFileSystem().stat(dir.path + "/" + path))
            let entry = try inspector.hasher.fileDigest(path, stat: st)
            state.record(path, stat: st, digest: entry.digest, trusted: true)
        }
        let remembered = try #require(inspector.rememberedSnapshot(stage))
        #expect(remembered.deps == full.deps)
        #expect(remembered.outs == full.outs)
        dir.write("in/b.txt", "changed")
        #expect(inspector.rememberedSnapshot(stage) == nil, "a changed file must be read")
    }
}
