import Foundation
import Testing
@testable import CRXCore

@Suite struct PipelineTests {
    @Test func parsesDVCStageSchema() throws {
        let stages = try parseStages("""
        stages:
          prepare:
            desc: clean the data
            cmd: python prepare.py
            wdir: src
            deps: [../data/raw.csv, prepare.py]
            params:
              - prepare.seed
              - a,b
              - ../other.yaml: [x.y]
              - ../whole.yaml:
            outs:
              - ../data/clean.csv
              - ../data/tmp: {cache: false, persist: true}
            metrics: [{../m.json: {cache: false}}]
            plots: [{../roc.json: {x: fpr, y: tpr}}]
            frozen: true
            always_changed: false
            meta: {owner: me}
          train:
            cmd: [echo one, echo two]
        """)
        #expect(stages.map(\.name) == ["prepare", "train"])
        let p = stages[0]
        #expect(p.wdir == "src")
        #expect(p.deps.map(\.path) == ["data/raw.csv", "src/prepare.py"])
        #expect(p.params.map { "\($0.file):\($0.key ?? "*")" } == ["src/params.yaml:prepare.seed", "src/params.yaml:a", "src/params.yaml:b", "other.yaml:x.y", "whole.yaml:*"])
        #expect(p.outs.map(\.path) == ["data/clean.csv", "data/tmp", "m.json", "roc.json"])
        #expect(p.outs[1].cache == false && p.outs[1].persist == true)
        #expect(p.outs[2].kind == .metric && p.outs[3].kind == .plot)
        #expect(p.frozen && !p.alwaysChanged)
        #expect(p.desc == "clean the data")
        #expect(stages[1].cmd == ["echo one", "echo two"])
    }

    @Test(arguments: [
        ("stages:\n  a:\n    cmd: x\n    depz: [y]\n", 4, 5, "unknown key 'depz'"),
        ("stages:\n  a:\n    cmd: x\n    deps: 5\n", 4, 11, "must be a list"),
        ("stages:\n  a:\n    deps: [x]\n", 2, 3, "has no 'cmd'"),
        ("stages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n", 2, 3, "duplicate key 'a'"),
        ("stages:\n  a:\n    cmd: x\n    outs: [../escape.txt]\n", 4, 12, "outside the project"),
        ("stages:\n  a:\n    cmd: x\n    deps: [/etc/passwd]\n", 4, 12, "outside the project"),
        ("stages:\n  a:\n    cmd: x\n    outs: [.crx/x]\n", 4, 12, "crx's or git's own directory"),
        ("stages:\n  a:\n    cmd: [x\n", 4, 1, "invalid YAML"),
        ("stagez:\n  a: {cmd: x}\n", 1, 1, "unknown top-level key 'stagez'"),
        ("stages:\n  a:\n    cmd: x\n    frozen: maybe\n", 4, 13, "must be true or false"),
    ] as [(String, Int, Int, String)])
    func definitionErrorsNameLineAndColumn(yaml: String, line: Int, column: Int, message: String) throws {
        let error = try #require(definitionError { _ = try parseStages(yaml) })
        #expect(error.message.contains(message), "\(error)")
        #expect(error.location?.file == "pipeline.yaml")
        #expect(error.location?.line == line, "\(error)")
        #expect(error.location?.column == column, "\(error)")
    }

    @Test func typoGetsASuggestion() throws {
        let error = try #require(definitionError { _ = try parseStages("stages:\n  a:\n    cmd: x\n    outz: [y]\n") })
        #expect(error.message.contains("did you mean 'outs'?"))
    }

    /// ```
    ///   a ──▶ b ──▶ d
    ///   └───▶ c ──▶┘
    /// ```
    @Test func graphEdgesAndOrder() throws {
        let stages = try parseStages("""
        stages:
          d: {cmd: x, deps: [b.txt, c/out.txt], outs: [d.txt]}
          b: {cmd: x, deps: [a.txt], outs: [b.txt]}
          c: {cmd: x, deps: [a.txt], outs: [c]}
          a: {cmd: x, outs: [a.txt]}
        """)
        let p = try Pipeline(file: "pipeline.yaml", stages: stages)
        let names = p.order.map { p.stages[$0].name }
        #expect(names == ["a", "b", "c", "d"])
        #expect(p.upstream[p.index["d"]!].map { p.stages[$0].name }.sorted() == ["b", "c"])
        #expect(try p.select(targets: ["b"]).map { p.stages[$0].name } == ["a", "b"])
        #expect(try p.select(targets: ["b"], .single).map { p.stages[$0].name } == ["b"])
        #expect(try p.select(targets: ["b"], .withDownstream).map { p.stages[$0].name } == ["b", "d"])
        #expect(try p.select(targets: ["dvc.yaml:c"], .single).map { p.stages[$0].name } == ["c"])
        let unknown = try #require(definitionError { _ = try p.select(targets: ["bb"]) })
        #expect(unknown.message.contains("unknown stage 'bb'") && unknown.message.contains("did you mean 'b'?"))
    }

    @Test func cycleIsPrinted() throws {
        let stages = try parseStages("""
        stages:
          a: {cmd: x, deps: [c.txt], outs: [a.txt]}
          b: {cmd: x, deps: [a.txt], outs: [b.txt]}
          c: {cmd: x, deps: [b.txt], outs: [c.txt]}
        """)
        let error = try #require(definitionError { _ = try Pipeline(file: "pipeline.yaml", stages: stages) })
        #expect(error.message.contains("dependency cycle: a -> b -> c -> a"), "\(error)")
    }

    @Test func overlappingAndDuplicateOutputsAreRefused() throws {
        let dup = try parseStages("stages:\n  a: {cmd: x, outs: [o.txt]}\n  b: {cmd: y, outs: [o.txt]}\n")
        let e1 = try #require(definitionError { _ = try Pipeline(file: "pipeline.yaml", stages: dup) })
        #expect(e1.message.contains("declared by two stages"))
        let overlap = try parseStages("stages:\n  a: {cmd: x, outs: [out]}\n  b: {cmd: y, outs: [out/a.txt]}\n")
        let e2 = try #require(definitionError { _ = try Pipeline(file: "pipeline.yaml", stages: overlap) })
        #expect(e2.message.contains("overlaps output 'out'"))
        #expect(e2.location?.line == 3)
        let selfDep = try parseStages("stages:\n  a: {cmd: x, deps: [o.txt], outs: [o.txt]}\n")
        #expect(definitionError { _ = try Pipeline(file: "pipeline.yaml", stages: selfDep) }?.message.contains("its own output") == true)
    }

    @Test func projectPaths() {
        #expect(ProjectPath.resolve("a/./b/../c", relativeTo: "", root: "/r") == "a/c")
        #expect(ProjectPath.resolve("../x", relativeTo: "sub", root: "/r") == "x")
        #expect(ProjectPath.resolve("../x", relativeTo: "", root: "/r") == nil)
        #expect(ProjectPath.resolve("/r/data/x", relativeTo: "", root: "/r") == "data/x")
        #expect(ProjectPath.resolve("/rx/data", relativeTo: "", root: "/r") == nil)
        #expect(ProjectPath.isInside("out/a", "out") && !ProjectPath.isInside("outer", "out"))
    }
}

@Suite struct WorkspaceTests {
    @Test func nearestProjectWinsLikeGit() throws {
        let dir = TempDir()
        dir.write("pipeline.yaml", "stages: {}\n")
        try FileManager.default.createDirectory(atPath: dir.path + "/.crx", withIntermediateDirectories: true)
        dir.write("inner/pipeline.yaml", "stages: {}\n")
        dir.write("inner/deep/x.txt", "x")
        #expect(try Workspace.discover(from: dir.path + "/inner/deep").root.hasSuffix("/inner"))
        dir.write("other/y.txt", "y")
        #expect(try Workspace.discover(from: dir.path + "/other").root == URL(fileURLWithPath: dir.path).standardizedFileURL.path)
    }
}
