// Params: only the values a stage uses make it stale, whatever the file's layout.
import CRXCore
import Foundation
import Testing

let paramsPipeline = """
stages:
  train:
    cmd: cat in.txt > model.txt && echo train >> runs.log
    deps: [in.txt]
    params:
    - train.lr
    outs: [model.txt]

"""

let paramsFile = """
train:
  lr: 0.1
  epochs: 10
eval:
  split: 0.2

"""

@Suite struct ParamsTests {
    func project() throws -> Project {
        let p = try Project(["pipeline.yaml": paramsPipeline, "params.yaml": paramsFile, "in.txt": "x\n"])
        let first = expectSuccess(try p.repro())
        #expect(first.ran == ["train"], "\(first)")
        return p
    }

    @Test func lockRecordsTheUsedParamValue() throws {
        let p = try project()
        let record = try #require(try p.lockfile().stages["train"])
        #expect(record.params.keys.sorted() == ["params.yaml"])
        #expect(record.params["params.yaml"]?.keys.sorted() == ["train.lr"])
        #expect(p.lockText?.contains("train.lr: 0.1") == true, "\(p.lockText ?? "")")
    }

    @Test func changingAUsedKeyReruns() throws {
        let p = try project()
        p.write("params.yaml", paramsFile.replacingOccurrences(of: "lr: 0.1", with: "lr: 0.2"))
        let status = try p.status()
        #expect(status.reasonKinds("train") == ["param_changed"], "\(status)")
        let r = expectSuccess(try p.repro())
        #expect(r.ran == ["train"], "\(r)")
        #expect(r.reasonKinds("train") == ["param_changed"], "\(r)")
        #expect(p.lockText?.contains("train.lr: 0.2") == true)
        #expect(try p.repro().ran.isEmpty)
    }

    @Test func changingAnUnusedKeyRerunsNothing() throws {
        let p = try project()
        p.write("params.yaml", paramsFile.replacingOccurrences(of: "epochs: 10", with: "epochs: 99")
            .replacingOccurrences(of: "split: 0.2", with: "split: 0.5") + "new_section:\n  a: 1\n")
        #expect(try p.status().json.isEmpty)
        let r = expectSuccess(try p.repro())
        #expect(r.ran.isEmpty && r.restored.isEmpty, "\(r)")
        #expect(p.runs == ["train"])
    }

    @Test func reformattingParamsRerunsNothing() throws {
        let p = try project()
        // Same values: flow style, other key order, comments, quoting of keys, extra blank lines.
        p.write("params.yaml", """
        # reformatted
        eval: {split: 0.2}

        "train":
            epochs: 10   # unchanged
            lr: 0.1

        """)
        let status = try p.status()
        #expect(status.json.isEmpty, "\(status)")
        let r = expectSuccess(try p.repro())
        #expect(r.ran.isEmpty, "\(r)")
        #expect(p.runs == ["train"])
    }

    @Test func removingAUsedKeyMakesTheStageStale() throws {
        let p = try project()
        p.write("params.yaml", """
        train:
          epochs: 10
        eval:
          split: 0.2

        """)
        let status = p.crx("status", "--json", "--exit-code")
        #expect(status.exitCode == 1, "\(status)")
        let parsed = try StatusSummary(status)
        #expect(parsed.reasonKinds("train").contains("param_removed"), "\(parsed)")
        let human = p.crx("status")
        #expect(human.stdout.contains("param removed: params.yaml:train.lr"), "\(human)")
    }

    @Test func otherFileWithKeys() throws {
        let p = try Project([
            "pipeline.yaml": """
            stages:
              s:
                cmd: cat in.txt > out.txt && echo s >> runs.log
                deps: [in.txt]
                params:
                - other.yaml: [model.depth, seed]
                outs: [out.txt]

            """,
            "other.yaml": "model:\n  depth: 3\n  width: 8\nseed: 42\nunused: true\n",
            "in.txt": "x\n",
        ])
        #expect(try p.repro().ran == ["s"])
        let record = try #require(try p.lockfile().stages["s"])
        #expect(record.params["other.yaml"]?.keys.sorted() == ["model.depth", "seed"], "\(p.lockText ?? "")")
        // Unused keys: nothing.
        p.write("other.yaml", "model:\n  depth: 3\n  width: 16\nseed: 42\nunused: false\n")
        #expect(try p.repro().ran.isEmpty)
        // A used key: runs.
        p.write("other.yaml", "model:\n  depth: 3\n  width: 16\nseed: 7\nunused: false\n")
        let r = expectSuccess(try p.repro())
        #expect(r.ran == ["s"], "\(r)")
        #expect(r.reasonKinds("s") == ["param_changed"], "\(r)")
        #expect(p.runs == ["s", "s"])
    }

    @Test func otherFileWhole() throws {
        let p = try Project([
            "pipeline.yaml": """
            stages:
              s:
                cmd: cat in.txt > out.txt && echo s >> runs.log
                deps: [in.txt]
                params:
                - whole.yaml:
                outs: [out.txt]

            """,
            "whole.yaml": "a: 1\nb:\n  c: 2\n",
            "in.txt": "x\n",
        ])
        #expect(try p.repro().ran == ["s"])
        #expect(try p.lockfile().stages["s"]?.params["whole.yaml"]?.isEmpty == false, "\(p.lockText ?? "")")
        // Layout only: nothing.
        p.write("whole.yaml", "b: {c: 2}\na: 1\n")
        #expect(try p.repro().ran.isEmpty)
        // Any key of the file changes: runs.
        p.write("whole.yaml", "b: {c: 3}\na: 1\n")
        let changed = expectSuccess(try p.repro())
        #expect(changed.ran == ["s"], "\(changed)")
        #expect(changed.reasonKinds("s").contains("param_changed"), "\(changed)")
        // A new key: runs too.
        p.write("whole.yaml", "b: {c: 3}\na: 1\nz: new\n")
        let added = expectSuccess(try p.repro())
        #expect(added.ran == ["s"], "\(added)")
        #expect(p.runs == ["s", "s", "s"])
    }

    @Test func missingUsedKeyDoesNotRebuildForever() throws {
        // A declared key absent from the params file: either repro refuses the stage, or it builds
        // it once and then considers it up to date — never a stage that is stale after every build.
        let p = try project()
        p.write("params.yaml", "train:\n  epochs: 10\n")
        let first = try p.repro()
        if first.exitCode == 0 {
            let second = expectSuccess(try p.repro())
            #expect(second.ran.isEmpty && second.restored.isEmpty, "rebuilt again with nothing changed: \(second)")
            let status = p.crx("status", "--exit-code")
            #expect(status.exitCode == 0, "stale right after a successful build: \(status)")
        } else {
            #expect(first.exitCode == 1, "\(first)")
            #expect(first.failed == ["train"], "\(first)")
            #expect((first.failures["train"]?["message"] as? String)?.contains("train.lr") == true, "\(first)")
        }
    }

    @Test func yamlAliasesAndMergeKeysAreResolved() throws {
        // DVC reads params with PyYAML/ruamel, which resolve anchors, aliases and `<<` merge keys.
        let p = try Project([
            "pipeline.yaml": """
            stages:
              s:
                cmd: cat in.txt > out.txt && echo s >> runs.log
                deps: [in.txt]
                params: [train.lr, train.epochs]
                outs: [out.txt]

            """,
            "params.yaml": "base_lr: &lr 0.1\ndefaults: &defaults\n  epochs: 10\ntrain:\n  <<: *defaults\n  lr: *lr\n",
            "in.txt": "x\n",
        ])
        expectSuccess(try p.repro())
        let params = try p.lockfile().stages["s"]?.params["params.yaml"] ?? [:]
        #expect(params.keys.sorted() == ["train.epochs", "train.lr"], "\(p.lockText ?? "")")
        #expect(params["train.epochs"] == .int(10), "\(p.lockText ?? "")")
        #expect(params["train.lr"] == .double(0.1), "\(p.lockText ?? "")")
        let status = try p.status()
        #expect(status.json.isEmpty, "\(status)")
        // Changing the merged-in default re-runs.
        p.write("params.yaml", "base_lr: &lr 0.1\ndefaults: &defaults\n  epochs: 20\ntrain:\n  <<: *defaults\n  lr: *lr\n")
        let r = expectSuccess(try p.repro())
        #expect(r.ran == ["s"], "\(r)")
        #expect(r.reasonKinds("s") == ["param_changed"], "\(r)")
    }

    @Test func specialFloatParamsAreStable() throws {
        // .nan, .inf and friends: built once, then up to date.
        let p = try Project([
            "pipeline.yaml": """
            stages:
              s:
                cmd: cat in.txt > out.txt && echo s >> runs.log
                deps: [in.txt]
                params:
                - params.yaml:
                outs: [out.txt]

            """,
            "params.yaml": "nan: .nan\ninf: .inf\nninf: -.inf\nexp: 1e3\nlist: [.nan, 1]\n",
            "in.txt": "x\n",
        ])
        expectSuccess(try p.repro())
        let status = try p.status()
        #expect(status.json.isEmpty, "\(status)")
        let again = expectSuccess(try p.repro())
        #expect(again.ran.isEmpty && again.restored.isEmpty, "\(again)")
        #expect(p.runs == ["s"])
    }
}
