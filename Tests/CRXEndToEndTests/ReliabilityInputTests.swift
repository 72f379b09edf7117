// Hostile or broken input: malformed YAML, wrong types, huge and deeply nested documents, alias bombs,
// non-UTF-8 bytes, tabs → exit 2 with file:line:col, no crash, in bounded time and memory. Paths that
// escape the project (`..`, absolute, through a symlink) or point into `.crx/` / `.git/` are refused;
// names with spaces, newlines and unicode work end to end.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

/// A "billion laughs" document: ten levels of ten aliases each (10^10 leaves when expanded).
func aliasBomb(levels: Int = 10, indent: String = "  ") -> String {
    var text = "\(indent)l0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in 1 ..< levels {
        text += "\(indent)l\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
    }
    return text
}

let bombTop = "artifacts:\n" + aliasBomb()

/// Hostile pipeline files, each rejected with exit 2 and a location (or, where the hostile part is
/// in ignored data, accepted) — never a crash, a hang or a memory blow-up.
let hostilePipelines: [(name: String, bytes: [UInt8], mayPass: Bool)] = {
    func t(_ name: String, _ text: String, mayPass: Bool = false) -> (String, [UInt8], Bool) { (name, Array(text.utf8), mayPass) }
    var cases: [(String, [UInt8], Bool)] = [
        t("unterminated quote", "stages:\n  a:\n    cmd: \"echo\n    outs: [x]\n"),
        t("bad indentation", "stages:\n  a:\n    cmd: echo\n   outs: [x]\n"),
        t("unclosed flow", "stages:\n  a: {cmd: echo, outs: [x\n"),
        t("tab indentation", "stages:\n\ta:\n\t\tcmd: echo\n"),
        t("tab after key", "stages:\n  a:\n    cmd: echo\n\t outs: [x]\n"),
        t("cmd is a mapping", "stages:\n  a:\n    cmd: {x: 1}\n"),
        t("deps is a number", "stages:\n  a:\n    cmd: echo\n    deps: 5\n"),
        t("out is a two-key mapping", "stages:\n  a:\n    cmd: echo\n    outs:\n      - {a: 1, b: 2}\n"),
        t("frozen is text", "stages:\n  a:\n    cmd: echo\n    frozen: maybe\n"),
        t("stages is a list", "stages:\n  - a\n  - b\n"),
        t("stage is a scalar", "stages:\n  a: echo\n"),
        t("document is a scalar", "just text\n"),
        t("two documents", "stages:\n  a:\n    cmd: echo\n---\nstages: {}\n"),
        t("duplicate stage", "stages:\n  a:\n    cmd: echo\n  a:\n    cmd: echo\n"),
        t("unknown tag", "stages:\n  a:\n    cmd: !!python/object:os.system echo\n", mayPass: true),
        t("undefined alias", "stages:\n  a:\n    cmd: *nothing\n"),
        t("NUL byte", "stages:\n  a:\n    cmd: echo \u{0}\n"),
        t("bomb as deps", bombTop + "stages:\n  a:\n    cmd: echo\n    deps: *a9\n"),
        t("bomb as a key", bombTop + "stages:\n  a:\n    cmd: echo\n    meta:\n      ? *a9\n      : x\n", mayPass: true),
        t("bomb in meta", bombTop + "stages:\n  a:\n    cmd: echo\n    meta: *a9\n", mayPass: true),
        t("bomb in cmd list", bombTop + "stages:\n  a:\n    cmd: *a9\n"),
        t("deep flow nesting", "stages:\n  a:\n    cmd: echo\n    meta: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n", mayPass: true),
        t("deep block nesting", "stages:\n  a:\n    cmd: echo\n    meta:\n" + (0 ..< 3000).map { String(repeating: " ", count: 6 + $0) + "k:\n" }.joined() + String(repeating: " ", count: 3006) + "v\n", mayPass: true),
        t("deep sequence nesting", "stages:\n  a:\n    cmd: echo\n    meta: " + String(repeating: "- ", count: 20_000) + "x\n", mayPass: true),
        t("huge key", "stages:\n  a:\n    cmd: echo\n    " + String(repeating: "k", count: 2_000_000) + ": 1\n"),
        t("huge invalid file", "stages:\n" + (0 ..< 8_000).map { "  s\($0):\n    cmd: echo \($0)\n    outs: [o\($0).txt]\n" }.joined() + "  broken: [\n"),
    ]
    cases.append(("non-UTF-8", Array("stages:\n  a:\n    cmd: echo ".utf8) + [0xFF, 0xFE, 0xC3] + Array("\n".utf8), false))
    cases.append(("UTF-16", [0xFF, 0xFE] + Array("stages:".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }), false))
    return cases
}()

extension CRXReliabilityTests {
    @Suite("Input") struct ReliabilityInputTests {
        @Test(arguments: 0 ..< hostilePipelines.count)
        func hostilePipelineFileIsRefusedQuicklyWithALocation(_ index: Int) throws {
            let (name, bytes, mayPass) = hostilePipelines[index]
            let p = try Project()
            p.writeBytes("pipeline.yaml", bytes)
            for verb in [["status"], ["repro"], ["dag"]] {
                let r = p.measured(verb, timeout: 20)
                #expect(r.signal == nil, "\(name): crx \(verb[0]) crashed: \(r)")
                #expect(r.seconds < 5, "\(name): crx \(verb[0]) took \(r.seconds) s: \(r)")
                #expect(r.maxRSSKiB < 400 * 1024, "\(name): crx \(verb[0]) used \(r.maxRSSKiB / 1024) MiB")
                if mayPass && r.status == 0 { continue }
                #expect(r.status == 2, "\(name): crx \(verb[0]): \(r)")
                let located = r.stderr.range(of: #"pipeline\.yaml:\d+:\d+: "#, options: .regularExpression) != nil
                #expect(located, "\(name): no file:line:col: \(r)")
                #expect(r.stderr.hasPrefix("crx: error:"), "\(name): \(r)")
            }
            #expect(mayPass || !p.exists("pipeline.lock"), "\(name)")
        }

        @Test func locationOfANonUTF8ByteIsItsLine() throws {
            let p = try Project()
            p.writeBytes("pipeline.yaml", Array("stages:\n  a:\n    cmd: echo ".utf8) + [0xFF] + Array("\n".utf8))
            let r = p.crx("status")
            #expect(r.exitCode == 2, "\(r)")
            #expect(r.stderr.contains("pipeline.yaml:3:15"), "\(r)")
        }

        @Test func hugeValidPipelineIsHandledInBoundedTimeAndMemory() throws {
            // 5,000 stages in a chain (about 400 KB of YAML).
            let count = Reliability.iterations("CRX_HUGE_STAGES", light: 5000, full: 20_000)
            var text = "stages:\n"
            for i in 0 ..< count {
                text += "  s\(i):\n    cmd: echo \(i) > o\(i).txt\n"
                if i > 0 { text += "    deps: [o\(i - 1).txt]\n" }
                text += "    outs: [o\(i).txt]\n"
            }
            let p = try Project(["pipeline.yaml": text])
            let status = p.measured(["status", "--json"], timeout: 120)
            #expect(status.status == 0, "\(status)")
            #expect(status.seconds < Double(count) / 250, "\(status)")
            #expect(status.maxRSSKiB < 400 * 1024, "\(status)")
            let dag = p.measured(["dag", "--json"], timeout: 120)
            #expect(dag.status == 0 && dag.seconds < Double(count) / 250, "\(dag)")
            print("reliability: \(count) stages: status \(String(format: "%.1f", status.seconds)) s, dag \(String(format: "%.1f", dag.seconds)) s, max RSS \(status.maxRSSKiB / 1024) MiB")
        }

        @Test func aliasBombInParamsAndLockIsBounded() throws {
            let p = try Project(["pipeline.yaml": """
            stages:
              a:
                cmd: echo a > a.txt
                params: [l9]
                outs: [a.txt]

            """, "params.yaml": aliasBomb(indent: "")])
            let r = p.measured(["status"], timeout: 20)
            #expect(r.signal == nil && r.seconds < 5 && r.maxRSSKiB < 400 * 1024, "\(r)")
            #expect(r.status == 2, "\(r)")
            #expect(r.stderr.range(of: #"params\.yaml:\d+:\d+: "#, options: .regularExpression) != nil, "\(r)")

            let q = try Project(["pipeline.yaml": "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"])
            expectSuccess(try q.repro())
            q.write("pipeline.lock", "x:\n" + aliasBomb() + (q.lockText ?? "") + "    params:\n      params.yaml:\n        bomb: *a9\n")
            let s = q.measured(["status"], timeout: 20)
            #expect(s.signal == nil && s.seconds < 5 && s.maxRSSKiB < 400 * 1024, "\(s)")
            #expect(s.status == 1, "\(s)")
            #expect(s.stderr.range(of: #"pipeline\.lock:\d+:\d+: "#, options: .regularExpression) != nil, "\(s)")
        }

        // MARK: paths

        static let escapingPaths: [(name: String, yaml: String)] = [
            ("out ../", "outs: [../outside.txt]"),
            ("dep ../", "deps: [../../etc/passwd]"),
            ("out absolute", "outs: [/tmp/crx-outside.txt]"),
            ("dep absolute", "deps: [/etc/hostname]"),
            ("out in .crx", "outs: [.crx/cache/v1/objects/evil]"),
            ("out is .crx", "outs: [.crx]"),
            ("out in .git", "outs: [.git/hooks/pre-commit]"),
            ("dep in .git", "deps: [.git/config]"),
            ("out normalised into .crx", "outs: [data/../.crx/lock]"),
            ("out through a symlink", "outs: [link/out.txt]"),
            ("dep through a symlink", "deps: [link/secret.txt]"),
            ("out below a symlinked dir", "outs: [link/deeper/out.txt]"),
            ("wdir through a symlink", "wdir: link\n    outs: [out.txt]"),
        ]

        @Test(arguments: 0 ..< escapingPaths.count)
        func pathsEscapingTheProjectAreRefused(_ index: Int) throws {
            let (name, yaml) = Self.escapingPaths[index]
            let p = try Project()
            let outside = p.base.appendingPathComponent("outside")
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: outside.path + "/secret.txt", contents: Data("secret\n".utf8))
            FileManager.default.createFile(atPath: outside.path + "/out.txt", contents: Data("outside, do not touch\n".utf8))
            try FileManager.default.createSymbolicLink(atPath: p.absolute("link"), withDestinationPath: outside.path)
            p.mkdir(".git")
            p.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo x > out.txt && echo hi > link/out.txt\n    \(yaml)\n")
            for verb in [["repro"], ["status"], ["checkout"]] {
                let r = p.crx(verb)
                #expect(r.exitCode == 2, "\(name): crx \(verb[0]): \(r)")
                #expect(r.stderr.range(of: #"pipeline\.yaml:\d+:\d+: "#, options: .regularExpression) != nil, "\(name): \(r)")
                #expect(r.stderr.contains("outside the project") || r.stderr.contains("crx's or git's own directory"), "\(name): \(r)")
            }
            // Nothing outside was touched.
            #expect(FileManager.default.contents(atPath: outside.path + "/out.txt") == Data("outside, do not touch\n".utf8), "\(name)")
            #expect(!p.exists("pipeline.lock"))
        }

        @Test func checkoutNeverWritesThroughASymlinkOutOfTheProject() throws {
            let p = try Project(["pipeline.yaml": "stages:\n  a:\n    cmd: mkdir -p out && echo built > out/result.txt\n    outs: [out/result.txt]\n"])
            expectSuccess(try p.repro())
            // Someone replaces the output's directory with a symlink to a directory outside.
            let outside = p.base.appendingPathComponent("elsewhere")
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
            p.remove("out")
            try FileManager.default.createSymbolicLink(atPath: p.absolute("out"), withDestinationPath: outside.path)
            for verb in [["checkout"], ["repro"]] {
                let r = p.crx(verb)
                #expect(r.exitCode != 0, "crx \(verb[0]) went through the symlink: \(r)")
                #expect(r.stderr.contains("out/result.txt"), "\(r)")
            }
            #expect((try? FileManager.default.contentsOfDirectory(atPath: outside.path)) == [], "crx wrote outside the project")
        }

        @Test func symlinkedOutputsAndDepsInsideTheProjectWork() throws {
            let p = try Project(["pipeline.yaml": """
            stages:
              a:
                cmd: echo data > real.txt && ln -sf real.txt out-link.txt
                outs: [out-link.txt]
              b:
                cmd: cat dep-link.txt > b.txt
                deps: [dep-link.txt]
                outs: [b.txt]

            """, "real-in.txt": "in\n"])
            try FileManager.default.createSymbolicLink(atPath: p.absolute("dep-link.txt"), withDestinationPath: "real-in.txt")
            expectSuccess(try p.repro())
            #expect(p.read("b.txt") == "in\n")
            p.remove("out-link.txt")
            expectSuccess(try p.repro())
            #expect(p.read("out-link.txt") == "data\n")
            #expect(p.consistencyIssues().isEmpty)
        }

        @Test func namesStartingWithAnAtSignAreWrittenReadably() throws {
            // `@` may not start a plain YAML scalar: the lock must quote it, or crx cannot read its own lock.
            let p = try Project(["pipeline.yaml": """
            stages:
              "@weekly":
                cmd: echo hi > "@out.txt"
                outs: ["@out.txt"]

            """])
            expectSuccess(try p.repro())
            let status = p.crx("status")
            #expect(status.exitCode == 0, "\(status)\n\(p.lockText ?? "")")
            #expect(try p.lockfile().stages["@weekly"]?.outs.first?.path == "@out.txt")
            p.remove("@out.txt")
            #expect(try p.repro().ran.isEmpty)
            #expect(p.read("@out.txt") == "hi\n")
        }

        @Test func namesWithSpacesNewlinesAndUnicodeWork() throws {
            let p = try Project(["pipeline.yaml": #"""
            stages:
              "stage.with-odd_name@1":
                cmd:
                  - mkdir -p "dir with space/ünïcødé"
                  - printf 'spaces\n' > "my file.txt"
                  - printf 'unicode\n' > "dir with space/ünïcødé/日本語 データ.csv"
                  - printf 'newline\n' > "$(printf 'new\nline.txt')"
                  - printf 'tab\n' > "$(printf 'tab\tname.txt')"
                  - printf 'quote\n' > "it's \"quoted\".txt"
                deps: ["in put.txt"]
                outs:
                  - "my file.txt"
                  - "dir with space"
                  - "new\nline.txt"
                  - "tab\tname.txt"
                  - "it's \"quoted\".txt"
              "after":
                cmd: cat "my file.txt" "dir with space/ünïcødé/日本語 データ.csv" > "résumé.txt"
                deps: ["my file.txt", "dir with space"]
                outs: ["résumé.txt"]

            """#, "in put.txt": "x\n"])
            let first = expectSuccess(try p.repro())
            #expect(first.ran.count == 2, "\(first)")
            #expect(p.read("new\nline.txt") == "newline\n")
            #expect(p.read("résumé.txt") == "spaces\nunicode\n")
            let lock = try p.lockfile()
            #expect(lock.stages["stage.with-odd_name@1"]?.outs.map(\.path).contains("new\nline.txt") == true, "\(p.lockText ?? "")")
            #expect(try p.status().staleStages.isEmpty)
            // Restore everything from the cache, then check and verify.
            for path in ["my file.txt", "dir with space", "new\nline.txt", "tab\tname.txt", "it's \"quoted\".txt", "résumé.txt"] { p.remove(path) }
            let restored = expectSuccess(try p.repro())
            #expect(restored.ran.isEmpty, "\(restored)")
            #expect(p.read("dir with space/ünïcødé/日本語 データ.csv") == "unicode\n")
            #expect(p.read("tab\tname.txt") == "tab\n")
            #expect(p.read("it's \"quoted\".txt") == "quote\n")
            #expect(p.crx("verify").exitCode == 0)
            #expect(p.consistencyIssues().isEmpty)
            p.remove("new\nline.txt")
            #expect(p.crx("checkout").exitCode == 0)
            #expect(p.read("new\nline.txt") == "newline\n")
            #expect(try p.status().staleStages.isEmpty)
        }
    }
}
