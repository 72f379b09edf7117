import Foundation
import Testing
@testable import CRXCore

/// `.crx/state/pipeline.v1`: used while every input of the parse is unchanged, never after.
@Suite struct PipelineCacheTests {
    static let pipeline = """
        vars:
          - conf.yaml
        sources:
          raw:
            path: data/raw.csv
            checksum: sha256:\(String(repeating: "ab", count: 32))
            origin: somewhere
            freshness: {warn_after: 24h, error_after: 7d}
        stages:
          prepare:
            cmd: ./prep --lr ${lr} --name ${name}
            deps: [data/raw.csv]
            params: [lr]
            outs:
              - data/clean.csv:
                  cache: false
                  persist: true
            metrics: [m.json]
            desc: the first
            timeout: 2.5
          train:
            cmd: [./train, ./check]
            wdir: sub
            deps: [../data/clean.csv]
            params: [{../other.yaml: }]
            plots: [p.csv]
            frozen: true
            always_changed: true
            resources: {cpus: 2, mem: 1G, gpus: "a100:1", time: 90m, partition: gpu}

        """

    func project() -> TempDir {
        let dir = TempDir()
        dir.write("pipeline.yaml", Self.pipeline)
        dir.write("params.yaml", "lr: 0.1\n")
        dir.write("conf.yaml", "name: first\n")
        dir.write("other.yaml", "x: 1\n")
        try! FileManager.default.createDirectory(atPath: dir.path + "/.crx", withIntermediateDirectories: true)
        return dir
    }

    func load(_ dir: TempDir) throws -> Pipeline { try Workspace(root: dir.path, pipelineFile: "pipeline.yaml").loadPipeline() }

    /// Replaces the cached definition (same key) with one whose first command is `marker`: if a
    /// load returns `marker`, it came from the cache.
    func tamper(_ dir: TempDir, marker: String) throws {
        let ws = Workspace(root: dir.path, pipelineFile: "pipeline.yaml")
        let bytes = try LocalFileSystem().readFile(dir.path + "/pipeline.yaml")
        let state = { (p: String) in PipelineCache.state(ofAbsolutePath: ProjectPath.join(dir.path, p)) }
        var definition = try #require(ws.pipelineCache().lookup(root: dir.path, pipelineFile: "pipeline.yaml", pipelineText: bytes, state: state))
        definition.stages[0].cmd = [marker]
        ws.pipelineCache().store(definition, root: dir.path, pipelineFile: "pipeline.yaml", pipelineText: bytes,
                                 inputs: ["params.yaml", "conf.yaml", "absent.yaml"], state: state)
    }

    @Test func theCachedDefinitionIsTheParsedOne() throws {
        let dir = project()
        let parsed = try PipelineParser(file: "pipeline.yaml", root: dir.path).parseDefinition(Self.pipeline)
        #expect(parsed.inputs.contains("params.yaml") && parsed.inputs.contains("conf.yaml"))
        let first = try load(dir)
        #expect(first.stages == parsed.stages)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/.crx/state/pipeline.v1"))
        let bytes = Array(Self.pipeline.utf8)
        let state = { (p: String) in PipelineCache.state(ofAbsolutePath: ProjectPath.join(dir.path, p)) }
        let cached = try #require(PipelineCache(file: dir.path + "/.crx/state/pipeline.v1")
            .lookup(root: dir.path, pipelineFile: "pipeline.yaml", pipelineText: bytes, state: state))
        #expect(cached.stages == parsed.stages)
        #expect(cached.sources == parsed.sources)
        #expect(cached.sources.first?.freshness?.errorAfter?.description == "7d")
        #expect(cached.stages[0].timeout == 2.5 && cached.stages[0].desc == "the first")
        #expect(cached.stages[1].resources == StageResources(cpus: 2, memoryMiB: 1024, gpus: "a100:1", time: 5400, partition: "gpu",
                                                              location: cached.stages[1].resources.location))
        #expect(cached.stages[1].resources.location != nil)
        #expect(try load(dir).stages == parsed.stages)
    }

    @Test func reusedWhileNothingChangesAndNotAfter() throws {
        let dir = project()
        _ = try load(dir)
        try tamper(dir, marker: "from-cache")
        #expect(try load(dir).stages[0].cmd == ["from-cache"], "an unchanged project reuses the cache")

        // the templating params file changes
        dir.write("params.yaml", "lr: 0.2\n")
        #expect(try load(dir).stages[0].cmd == ["./prep --lr 0.2 --name first"])

        // a vars file changes
        try tamper(dir, marker: "from-cache")
        dir.write("conf.yaml", "name: second\n")
        #expect(try load(dir).stages[0].cmd == ["./prep --lr 0.2 --name second"])

        // a file the parse looked for appears
        try tamper(dir, marker: "from-cache")
        dir.write("absent.yaml", "z: 1\n")
        #expect(try load(dir).stages[0].cmd != ["from-cache"])

        // the pipeline file changes (same length)
        try tamper(dir, marker: "from-cache")
        dir.write("pipeline.yaml", Self.pipeline.replacingOccurrences(of: "./prep", with: "./PREP"))
        #expect(try load(dir).stages[0].cmd == ["./PREP --lr 0.2 --name second"])
    }

    @Test func aDamagedCacheIsIgnoredAndRebuilt() throws {
        let dir = project()
        let expected = try load(dir).stages
        let file = dir.path + "/.crx/state/pipeline.v1"
        var bytes = try LocalFileSystem().readFile(file)
        for cut in [0, 10, bytes.count / 2, bytes.count - 1] {
            try LocalFileSystem().writeAtomically(Array(bytes[..<cut]), to: file)
            #expect(try load(dir).stages == expected)
        }
        bytes[bytes.count - 3] ^= 0x40
        try LocalFileSystem().writeAtomically(bytes, to: file)
        #expect(try load(dir).stages == expected)
        dir.write(".crx/state/pipeline.v1", "garbage")
        #expect(try load(dir).stages == expected)
        // rebuilt: the next load finds a valid cache again
        let state = { (p: String) in PipelineCache.state(ofAbsolutePath: ProjectPath.join(dir.path, p)) }
        #expect(PipelineCache(file: file).lookup(root: dir.path, pipelineFile: "pipeline.yaml",
                                                 pipelineText: Array(Self.pipeline.utf8), state: state) != nil)
    }

    @Test func errorsStillComeFromAParseWithTheirLocation() throws {
        let dir = project()
        _ = try load(dir)
        dir.write("pipeline.yaml", Self.pipeline.replacingOccurrences(of: "    desc: the first\n", with: "    dsc: the first\n"))
        let error = definitionError { _ = try load(dir) }
        #expect(error?.location?.file == "pipeline.yaml")
        #expect(error?.location?.line == 19)
    }

    @Test func noCacheIsWrittenOutsideAnInitialisedProject() throws {
        let dir = project()
        try FileManager.default.removeItem(atPath: dir.path + "/.crx")
        _ = try load(dir)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/.crx"))
    }

    @Test func linkProbeFindsLinksOnlyWhereTheyAre() throws {
        let dir = TempDir()
        dir.write("real/a.txt", "a")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/link", withDestinationPath: dir.path + "/real")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/real/b.txt", withDestinationPath: "/etc/hostname")
        let probe = LinkProbe(root: dir.path)
        #expect(!probe.mayHaveLink("real/a.txt", includingLast: true))
        #expect(probe.mayHaveLink("real/b.txt", includingLast: true))
        #expect(!probe.mayHaveLink("real/b.txt", includingLast: false))
        #expect(probe.mayHaveLink("link/a.txt", includingLast: false))
        #expect(probe.mayHaveLink("link/x/y/z", includingLast: false))
        #expect(!probe.mayHaveLink("missing/dir/f", includingLast: true))
        // The exact check agrees where the probe says "maybe".
        #expect(ProjectPath.symlinkEscape("real/b.txt", root: dir.path, resolveLast: true) != nil)
    }
}
