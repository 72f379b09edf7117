// Wrong pipeline definitions: exit 2, `pipeline.yaml:LINE:COL`, and nothing changes.
import CRXCore
import Foundation
import Testing

struct BrokenPipeline: CustomTestStringConvertible, Sendable {
    var name: String
    var yaml: String
    /// Acceptable `LINE:COL` (or `LINE:`) prefixes of the location.
    var locations: [String]
    /// Substrings the message must contain.
    var message: [String]
    var testDescription: String { name }
}

let validPipeline = """
stages:
  a:
    cmd: cat in.txt > a.txt && echo a >> runs.log
    deps: [in.txt]
    outs: [a.txt]

"""

let brokenPipelines: [BrokenPipeline] = [
    .init(name: "unknown stage key", yaml: """
    stages:
      a:
        cmd: cat in.txt > a.txt
        depz: [in.txt]
        outs: [a.txt]

    """, locations: ["4:5"], message: ["depz", "deps"]),
    .init(name: "wrong type", yaml: """
    stages:
      a:
        cmd: cat in.txt > a.txt
        deps: 5
        outs: [a.txt]

    """, locations: ["4:11"], message: ["deps", "list"]),
    .init(name: "duplicate stage names", yaml: """
    stages:
      a:
        cmd: cat in.txt > a.txt
        outs: [a.txt]
      a:
        cmd: cat in.txt > b.txt
        outs: [b.txt]

    """, locations: ["5:3", "2:3"], message: ["duplicate", "'a'"]),
    .init(name: "two stages declare the same output", yaml: """
    stages:
      a:
        cmd: cat in.txt > a.txt
        outs: [a.txt]
      b:
        cmd: cat in.txt > a.txt
        outs: [a.txt]

    """, locations: ["7:12", "4:12"], message: ["a.txt", "'a'", "'b'"]),
    .init(name: "output inside another stage's output directory", yaml: """
    stages:
      a:
        cmd: mkdir -p out && echo 1 > out/b.txt
        outs: [out/]
      b:
        cmd: echo 2 > out/a.txt
        outs: [out/a.txt]

    """, locations: ["7:12", "4:12"], message: ["out/a.txt", "overlaps"]),
    .init(name: "output inside another stage's output directory, a sibling path sorting between them", yaml: """
    stages:
      a:
        cmd: mkdir -p out && echo 1 > out/b.txt
        outs: [out]
      b:
        cmd: echo 2 > out.txt
        outs: [out.txt]
      c:
        cmd: mkdir -p out && echo 3 > out/a.txt
        outs: [out/a.txt]

    """, locations: ["10:12", "4:12"], message: ["out/a.txt", "overlaps"]),
    .init(name: "cycle", yaml: """
    stages:
      a:
        cmd: cat b.txt > a.txt
        deps: [b.txt]
        outs: [a.txt]
      b:
        cmd: cat a.txt > b.txt
        deps: [a.txt]
        outs: [b.txt]

    """, locations: ["2:", "6:", "4:", "8:"], message: ["cycle"]),
    .init(name: "dep that nothing produces and does not exist", yaml: """
    stages:
      a:
        cmd: cat in.txt nothere.txt > a.txt
        deps: [in.txt, nothere.txt]
        outs: [a.txt]

    """, locations: ["4:20"], message: ["nothere.txt", "does not exist"]),
    .init(name: "relative path escaping the project", yaml: """
    stages:
      a:
        cmd: cat ../x > a.txt
        deps: [../x]
        outs: [a.txt]

    """, locations: ["4:12"], message: ["../x", "outside"]),
    .init(name: "absolute path outside the project", yaml: """
    stages:
      a:
        cmd: cat /etc/passwd > a.txt
        deps:
        - /etc/passwd
        outs: [a.txt]

    """, locations: ["5:7"], message: ["/etc/passwd", "outside"]),
    .init(name: "output escaping the project", yaml: """
    stages:
      a:
        cmd: cat in.txt > ../a.txt
        deps: [in.txt]
        outs: [../a.txt]

    """, locations: ["5:12"], message: ["../a.txt", "outside"]),
    .init(name: "malformed YAML", yaml: """
    stages:
      a:
        cmd: [cat in.txt
        outs: [a.txt]

    """, locations: ["3:", "4:"], message: ["YAML"]),
    .init(name: "stage depending on its own output", yaml: """
    stages:
      a:
        cmd: cat a.txt > a.txt
        deps: [a.txt]
        outs: [a.txt]

    """, locations: ["4:12"], message: ["own output"]),
]

@Suite struct DefinitionErrorTests {
    @Test(arguments: brokenPipelines)
    func definitionErrorExits2WithLocationAndLeavesTheLock(_ broken: BrokenPipeline) throws {
        let p = try Project(["pipeline.yaml": validPipeline, "in.txt": "x\n"])
        expectSuccess(try p.repro())
        let lockBefore = try #require(p.bytes("pipeline.lock"))
        let outBefore = p.bytes("a.txt")
        p.write("pipeline.yaml", broken.yaml)
        p.write("in.txt", "changed\n")

        for command in [["repro"], ["repro", "--force"], ["status"], ["repro", "--dry-run"]] {
            let r = p.crx(command)
            #expect(r.exitCode == 2, "\(broken.name): \(r)")
            let located = broken.locations.contains { r.stderr.contains("pipeline.yaml:\($0)") }
            #expect(located, "\(broken.name): expected pipeline.yaml:\(broken.locations.joined(separator: " or ")) in stderr: \(r)")
            #expect(r.stderr.range(of: #"pipeline\.yaml:\d+:\d+"#, options: .regularExpression) != nil, "\(r)")
            for m in broken.message { #expect(r.stderr.contains(m), "\(broken.name): '\(m)' in \(r)") }
        }
        #expect(p.bytes("pipeline.lock") == lockBefore, "\(broken.name): the lock changed")
        #expect(p.bytes("a.txt") == outBefore)
        #expect(p.runs == ["a"], "\(broken.name): something ran")
    }

    @Test func cycleMessageShowsTheCycle() throws {
        let cycle = try #require(brokenPipelines.first { $0.name == "cycle" })
        let p = try Project(["pipeline.yaml": cycle.yaml])
        let r = p.crx("repro")
        #expect(r.exitCode == 2, "\(r)")
        #expect(r.stderr.contains("a -> b -> a") || r.stderr.contains("b -> a -> b"), "\(r)")
        #expect(!p.exists("pipeline.lock"))
    }

    @Test func unknownTargetExits2() throws {
        let p = try Project(["pipeline.yaml": validPipeline, "in.txt": "x\n"])
        expectSuccess(try p.repro())
        let lockBefore = p.bytes("pipeline.lock")
        let r = p.crx("repro", "nosuch")
        #expect(r.exitCode == 2, "\(r)")
        #expect(r.stderr.contains("nosuch"), "\(r)")
        #expect(p.bytes("pipeline.lock") == lockBefore)
        let near = p.crx("repro", "--force", "b")
        #expect(near.exitCode == 2, "\(near)")
        #expect(p.crx("status", "nosuch").exitCode == 2)
        #expect(p.crx("dag", "nosuch").exitCode == 2)
        #expect(p.runs == ["a"])
    }

    @Test func missingPipelineFileExits2() throws {
        let p = try Project()
        let r = p.crx("repro")
        #expect(r.exitCode == 2, "\(r)")
        #expect(r.stderr.contains("pipeline.yaml"), "\(r)")
    }
}
