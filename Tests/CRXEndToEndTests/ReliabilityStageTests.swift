// Stage commands that misbehave, and what crx itself leaves on disk: read-only objects, nothing
// world-writable, no secret from the environment in anything crx writes.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

extension CRXReliabilityTests {
    @Suite("Stages") struct ReliabilityStageTests {
        static let misbehaving: [(name: String, cmd: String, message: String)] = [
            ("exits 255", "echo oops >&2; exit 255", "exited with code 255"),
            ("killed by a signal", "kill -9 $$", "was killed by signal 9"),
            ("segfaults", "kill -SEGV $$", "was killed by signal 11"),
            ("writes nothing", "true", "did not produce declared output 'out.txt'"),
            ("deletes its input", "rm in.txt && echo x > out.txt", "dependencies changed while the stage ran: in.txt"),
            ("rewrites its input", "echo other > in.txt && echo x > out.txt", "dependencies changed while the stage ran: in.txt"),
            ("command not found", "no-such-command-crx-test", "exited with code 127"),
        ]

        @Test(arguments: 0 ..< misbehaving.count)
        func misbehavingCommandFailsTheStageCleanly(_ index: Int) throws {
            let (name, cmd, message) = Self.misbehaving[index]
            let p = try Project(["pipeline.yaml": """
            stages:
              ok:
                cmd: echo ok > ok.txt
                outs: [ok.txt]
              bad:
                cmd: \(cmd)
                deps: [in.txt, ok.txt]
                outs: [out.txt]
              after:
                cmd: cat out.txt > after.txt
                deps: [out.txt]
                outs: [after.txt]

            """, "in.txt": "in\n"])
            let r = try p.repro("-j", "1")
            #expect(r.exitCode == 1, "\(name): \(r)")
            #expect(r.failed == ["bad"] && r.skipped == ["after"], "\(name): \(r)")
            let failure = r.failures["bad"]?["message"] as? String ?? ""
            #expect(failure.contains(message), "\(name): \(failure)")
            #expect(try p.lockedStages() == ["ok"], "\(name): \(p.lockText ?? "")")
            #expect(p.consistencyIssues().isEmpty)
            p.write("in.txt", "in\n")
            #expect(try p.status().staleStages == ["bad", "after"], "\(name)")
        }

        @Test func writingOutsideTheDeclaredOutputsRecordsOnlyTheDeclaredOnes() throws {
            let p = try Project(["pipeline.yaml": """
            stages:
              sloppy:
                cmd: echo out > out.txt && echo stray > stray.txt && mkdir -p side && echo s > side/file && echo up > ../sloppy-outside.txt
                outs: [out.txt]

            """])
            expectSuccess(try p.repro())
            let lock = try p.lockfile()
            #expect(lock.stages["sloppy"]?.outs.map(\.path) == ["out.txt"])
            #expect(lock.stages["sloppy"]?.outs.count == 1)
            #expect(p.exists("stray.txt"), "crx does not delete what it does not own")
            // Stable: nothing is stale, nothing re-runs.
            #expect(try p.status().staleStages.isEmpty)
            #expect(try p.repro().ran.isEmpty)
            try? FileManager.default.removeItem(at: p.base.appendingPathComponent("sloppy-outside.txt"))
        }

        @Test func emptyOutputsAreRecordedAndRestored() throws {
            let p = try Project(["pipeline.yaml": """
            stages:
              empty:
                cmd: ': > empty.txt && mkdir -p emptydir'
                outs: [empty.txt, emptydir]

            """])
            expectSuccess(try p.repro())
            p.remove("empty.txt")
            p.remove("emptydir")
            let again = expectSuccess(try p.repro())
            #expect(again.ran.isEmpty, "\(again)")
            #expect(p.read("empty.txt") == "")
            var isDir: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: p.absolute("emptydir"), isDirectory: &isDir) && isDir.boolValue)
        }

        @Test func megabytesOfOutputNeitherHangNorBalloon() throws {
            // 40 MB on stdout in short lines, 8 MB on stderr in one line without a newline.
            let p = try Project(["pipeline.yaml": """
            stages:
              loud:
                cmd: yes 'a line of output from a chatty stage command' | head -c 40000000 && head -c 8000000 /dev/zero | tr '\\0' e >&2 && echo done > loud.txt
                outs: [loud.txt]

            """])
            let r = p.measured(["repro", "-j", "1"], timeout: 120)
            #expect(r.status == 0, "\(r)")
            #expect(r.seconds < 30, "\(r)")
            #expect(r.maxRSSKiB < 200 * 1024, "crx used \(r.maxRSSKiB / 1024) MiB for a chatty command")
            #expect(r.stdout.utf8.count >= 40_000_000, "the output was not streamed")
            let log = try FileManager.default.attributesOfItem(atPath: p.absolute(".crx/logs/loud.log"))[.size] as? Int ?? 0
            #expect(log >= 48_000_000, "the log misses output: \(log) bytes")
        }

        @Test func chattyFailingCommandReportsABoundedTail() throws {
            let p = try Project(["pipeline.yaml": """
            stages:
              loud:
                cmd: head -c 5000000 /dev/zero | tr '\\0' x >&2; seq 1 100000 >&2; exit 3
                outs: [loud.txt]

            """])
            let r = p.measured(["repro"], timeout: 60)
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.contains("100000"), "the last lines are shown")
            // The summary shows the tail (20 lines, each at most 4 KiB), not megabytes.
            let summary = r.stderr.components(separatedBy: "last lines of stderr:").last ?? ""
            #expect(summary.utf8.count < 100_000, "\(summary.utf8.count) bytes of stderr tail")
        }

        @Test func hangingCommandIsStoppedByTerm() throws {
            // Without a `timeout:`, a hang is stopped by SIGTERM to crx.
            let p = try Project(["pipeline.yaml": "stages:\n  hang:\n    cmd: echo $$ > hang.pid; sleep 3600\n    outs: [never.txt]\n"])
            let running = try p.start(["repro"])
            #expect(p.waitFor { (p.read("hang.pid") ?? "").hasSuffix("\n") })
            running.signal(SIGTERM)
            let r = running.wait(timeout: 15)
            #expect(r.exitCode == 143, "\(r)")
            let pgid = pid_t((p.read("hang.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(p.waitFor(timeout: 3) { !processGroupAlive(pgid) })
        }

        @Test func hangingCommandIsStoppedByItsTimeout() throws {
            // A per-stage `timeout:` stops the whole process group (TERM, then KILL) and fails the stage.
            let p = try Project(["pipeline.yaml": """
            stages:
              hang:
                cmd: echo $$ > hang.pid; trap '' TERM; sleep 3600
                timeout: 1
                outs: [never.txt]
              other:
                cmd: echo ok > other.txt
                outs: [other.txt]

            """])
            let started = Date()
            let r = p.crx(["repro", "-k", "--json"], timeout: 60)
            #expect(r.exitCode == 1, "\(r)")
            #expect(Date().timeIntervalSince(started) < 15, "a 1 s timeout (TERM ignored: KILL 3 s later) must not wait for the hang")
            let summary = try ReproSummary(r)
            #expect(summary.failed == ["hang"] && summary.ran == ["other"], "\(r)")
            #expect((summary.failures["hang"]?["message"] as? String)?.contains("timed out after 1 s") == true, "\(r)")
            let pgid = pid_t((p.read("hang.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(pgid > 0 && p.waitFor(timeout: 3) { !processGroupAlive(pgid) })
            #expect(try p.lockedStages() == ["other"])
            // A malformed timeout is a definition error with its location.
            p.write("pipeline.yaml", "stages:\n  hang:\n    cmd: sleep 3600\n    timeout: soon\n    outs: [never.txt]\n")
            let refused = p.crx("status")
            #expect(refused.exitCode == 2 && refused.stderr.contains("pipeline.yaml:4:14"), "\(refused)")
        }
    }

}
extension CRXReliabilityTests {
    @Suite("Hygiene") struct ReliabilityHygieneTests {
        static let pipeline = """
        stages:
          a:
            cmd: echo a > a.txt && mkdir -p d && echo f > d/f.txt
            deps: [in.txt]
            outs: [a.txt, d]
          b:
            cmd: cat a.txt > b.txt
            deps: [a.txt]
            params: [lr]
            outs: [b.txt]
            metrics: [{m.json: {cache: false}}]
        """

        /// What crx writes under a permissive umask: objects read-only, nothing world-writable.
        @Test(arguments: ["022", "000"])
        func objectsAreReadOnlyAndNothingIsWorldWritable(_ umask: String) throws {
            let p = try Project(["pipeline.yaml": Self.pipeline.replacingOccurrences(of: "cat a.txt > b.txt", with: "cat a.txt > b.txt && echo '{}' > m.json"),
                                 "in.txt": "x\n", "params.yaml": "lr: 0.1\n"])
            let prefix = ["/bin/sh", "-c", "umask \(umask); exec \"$@\"", "sh"]
            for args in [["repro"], ["status"], ["lineage"]] {
                let r = p.measured(args, prefix: prefix)
                #expect(r.status == 0, "\(r)")
            }
            p.remove("d")
            #expect(p.measured(["checkout"], prefix: prefix).status == 0)
            #expect(!p.objectFiles.isEmpty)
            for object in p.objectFiles {
                let mode = try #require(LocalFileSystem().lstat(object)).mode
                #expect(mode & 0o222 == 0, "cache object \(object) is writable: \(String(mode, radix: 8))")
            }
            // Everything under .crx/ and every file crx wrote in the project (lock, reports, restored outputs).
            let mine = ["pipeline.lock", "reports", ".crx", "d"]
            var checked = 0
            for relative in [""] + allPaths(p.root.path) where mine.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) {
                guard let st = LocalFileSystem().lstat(p.absolute(relative)) else { continue }
                checked += 1
                #expect(st.mode & 0o002 == 0, "umask \(umask): \(relative) is world-writable (\(String(st.mode, radix: 8)))")
            }
            #expect(checked > 10)
        }

        func allPaths(_ root: String) -> [String] {
            var result: [String] = []
            if let e = FileManager.default.enumerator(atPath: root) { while let p = e.nextObject() as? String { result.append(p) } }
            return result
        }

        @Test func environmentSecretsAreNeverWrittenByCrx() throws {
            let secret = "supersecret-\(UUID().uuidString)"
            let p = try Project(["pipeline.yaml": Self.pipeline.replacingOccurrences(of: "cat a.txt > b.txt", with: "cat a.txt > b.txt && test -n \"$AWS_SECRET_ACCESS_KEY\" && echo 1 > m.json"),
                                 "in.txt": "x\n", "params.yaml": "lr: 0.1\n"])
            let env = ["AWS_SECRET_ACCESS_KEY": secret, "GITHUB_TOKEN": secret + "-gh", "CRX_NOW": "2024-01-01T00:00:00Z"]
            var outputs: [String] = []
            for args in [["repro", "--json"], ["repro", "-f"], ["status", "--json"], ["verify", "--json"], ["lineage"],
                         ["lineage", "--format", "openlineage", "-o", "reports/ol.jsonl"], ["dag", "--json"], ["sources", "--json"]] {
                let r = p.crx(args, environment: env)
                #expect(r.exitCode == 0, "\(r)")
                outputs.append(r.stdout + r.stderr)
            }
            // The stage command did see the variable (crx passes the environment on)…
            #expect(p.read("m.json") == "1\n")
            p.write("in.txt", "y\n")
            p.write("pipeline.yaml", Self.pipeline.replacingOccurrences(of: "cat a.txt > b.txt", with: "exit 9"))
            let failing = p.crx(["repro"], environment: env)
            #expect(failing.exitCode == 1)
            outputs.append(failing.stdout + failing.stderr)
            // …but nothing crx wrote or printed contains it.
            for (i, text) in outputs.enumerated() { #expect(!text.contains(secret), "output \(i) contains the secret") }
            for relative in p.allFiles() {
                let data = p.bytes(relative) ?? Data()
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(relative) contains the secret")
            }
            // A command that prints the secret itself: the user's business, and only in its own log.
            p.write("pipeline.yaml", "stages:\n  leak:\n    cmd: echo \"$AWS_SECRET_ACCESS_KEY\" > leak.txt\n    outs: [leak.txt]\n")
            #expect(p.crx(["repro"], environment: env).exitCode == 0)
            let leakers = p.allFiles().filter { (p.bytes($0) ?? Data()).range(of: Data(secret.utf8)) != nil }
            #expect(leakers.allSatisfy { $0 == "leak.txt" || $0.hasPrefix(".crx/cache/") }, "\(leakers)")
            #expect(!(p.read(".crx/logs/leak.log") ?? "").contains(secret), "crx expanded the command in its log header")
        }
    }
}
