// Corrupt caches and corrupt crx files: every corrupt object is named, nothing corrupt is ever
// materialised (checkout, restore of missing outputs, run-cache restore), a corrupt or truncated lock
// is a clear error with file:line:col, and a corrupt state cache is silently rebuilt.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

let corruptionPipeline = """
stages:
  file:
    cmd: echo file >> runs.log && head -c 300000 /dev/urandom > file.bin && cat in.txt >> file.bin
    deps: [in.txt]
    outs: [file.bin]
  dir:
    cmd: echo dir >> runs.log && mkdir -p dir && head -c 200000 file.bin > dir/a.bin && tail -c 1000 file.bin > dir/b.bin
    deps: [file.bin]
    outs: [dir]

"""

enum Corruption: String, CaseIterable, CustomStringConvertible {
    case bitFlip, truncated, emptied, extraBytes, otherContent, deleted
    /// The same faults on a directory's manifest and on one file of the directory.
    case manifestBitFlip, dirFileTruncated
    var description: String { rawValue }

    /// The object it damages: the file output's, the dir manifest's, or a file of the dir.
    func target(_ lock: Lockfile, _ store: LocalObjectStore) throws -> (digest: Digest, stage: String, path: String) {
        let file = try #require(lock.stages["file"]?.outs.first)
        let dir = try #require(lock.stages["dir"]?.outs.first)
        switch self {
        case .manifestBitFlip: return (dir.hash.digest, "dir", "dir")
        case .dirFileTruncated:
            let manifest = try #require(DirectoryManifest(bytes: try store.read(dir.hash.digest)))
            let a = try #require(manifest.entries.first { $0.path == "a.bin" })
            return (a.digest, "dir", "dir/a.bin")
        default: return (file.hash.digest, "file", "file.bin")
        }
    }

    func apply(to path: String, other: String) throws {
        var bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
        switch self {
        case .bitFlip, .manifestBitFlip: bytes[bytes.count / 2] ^= 0x10
        case .truncated, .dirFileTruncated: bytes = Array(bytes.prefix(bytes.count / 2))
        case .emptied: bytes = []
        case .extraBytes: bytes += Array("trailing garbage".utf8)
        case .otherContent: bytes = [UInt8](FileManager.default.contents(atPath: other) ?? Data())
        case .deleted:
            chmod(path, 0o644)
            unlink(path)
            return
        }
        overwrite(path, with: bytes)
    }
}

extension CRXReliabilityTests {
    @Suite("Corruption") struct ReliabilityCorruptionTests {
        func builtProject() throws -> Project {
            let p = try Project(["pipeline.yaml": corruptionPipeline, "in.txt": "one\n"])
            expectSuccess(try p.repro())
            return p
        }

        @Test(arguments: Corruption.allCases)
        func corruptObjectIsNamedAndNeverMaterialised(_ corruption: Corruption) throws {
            let p = try builtProject()
            let lock = try p.lockfile()
            let (digest, stage, path) = try corruption.target(lock, p.store)
            let other = try #require(lock.stages["dir"]?.outs.first).hash.digest
            let expectedOutputs = p.contentDigests(["file.bin", "dir"])
            try corruption.apply(to: p.store.objectPath(digest), other: p.store.objectPath(other))
            let problem = corruption == .deleted ? "missing" : "corrupt"

            // verify (whole cache, and by stage) names the object, its stage and its path; exit 1.
            let all = p.crx("verify")
            #expect(all.exitCode == 1, "\(all)")
            #expect(all.stderr.contains(digest.hex) && all.stderr.contains(problem), "\(all)")
            #expect(all.stderr.contains("stage '\(stage)'") && all.stderr.contains("'\(path)'"), "the owner is named: \(all)")
            let byStage = p.crx("verify", stage)
            #expect(byStage.exitCode == 1, "\(byStage)")
            #expect(byStage.stderr.contains(digest.hex) && byStage.stderr.contains("stage '\(stage)'"), "\(byStage)")
            let json = try p.crx("verify", "--json").jsonObject()
            #expect((json["problems"] as? [[String: Any]])?.contains { ($0["digest"] as? String)?.contains(digest.hex) == true } == true, "\(json)")

            // checkout of a missing output: refused, nothing (not even a partial file) written.
            let output = stage == "file" ? "file.bin" : "dir"
            p.remove(output)
            let checkout = p.crx("checkout")
            #expect(checkout.exitCode == 1, "\(checkout)")
            #expect(checkout.stderr.contains(output), "\(checkout)")
            #expect(!p.exists(output), "checkout materialised \(output) from a \(problem) object")
            #expect(p.strayTemporaries().isEmpty, "\(p.strayTemporaries())")

            // checkout over a modified output: refused, the user's file kept.
            if stage == "file" {
                p.write("file.bin", "mine\n")
                #expect(p.crx("checkout").exitCode == 1)
                #expect(p.read("file.bin") == "mine\n")
                p.remove("file.bin")
            }

            // repro with the output missing: never restores corrupt bytes; it rebuilds the stage and repairs
            // the cache, so the next checkout works.
            let repro = try p.repro()
            #expect(repro.exitCode == 0, "\(repro)")
            #expect(repro.ran.contains(stage), "\(repro)")
            #expect(p.contentDigests([output]).keys.sorted() == expectedOutputs.filter { ProjectPath.isInside($0.key, output) }.keys.sorted())
            #expect(p.consistencyIssues().isEmpty, "\(p.consistencyIssues())")
            let healed = p.crx("verify")
            #expect(healed.exitCode == 0, "the cache was not repaired: \(healed)")
            p.remove(output)
            #expect(p.crx("checkout").exitCode == 0)
        }

        @Test(arguments: [Corruption.bitFlip, .truncated, .deleted])
        func runCacheNeverRestoresCorruptData(_ corruption: Corruption) throws {
            let p = try builtProject()
            let first = p.contentDigests(["file.bin", "dir"])
            let firstFile = try #require(p.lockfile().stages["file"]?.outs.first).hash.digest
            p.write("in.txt", "two\n")
            expectSuccess(try p.repro())
            // Back to the first input: the run-cache would restore the first outputs, but one is damaged.
            try corruption.apply(to: p.store.objectPath(firstFile), other: p.store.objectPath(try #require(p.lockfile().stages["dir"]?.outs.first).hash.digest))
            p.write("in.txt", "one\n")
            let r = try p.repro()
            #expect(r.exitCode == 0, "\(r)")
            // The stage ran instead of restoring (its output is fresh random bytes, not the first run's).
            #expect(r.ran.contains("file"), "\(r)")
            #expect(p.contentDigests(["file.bin"]) != first.filter { $0.key == "file.bin" }, "the first output came back")
            #expect(p.consistencyIssues().isEmpty, "\(p.consistencyIssues())")
            #expect(p.crx("verify").exitCode == 0, "the damaged object was not replaced")
        }

        @Test func forcedRebuildRepairsACorruptObject() throws {
            // The recovery the error messages give (`crx repro --force STAGE`) must leave a healthy cache,
            // also when the rebuilt output is byte-identical to the damaged object's content.
            let p = try Project(["pipeline.yaml": """
            stages:
              same:
                cmd: seq 1 200000 > same.txt
                outs: [same.txt]

            """])
            expectSuccess(try p.repro())
            let digest = try #require(p.lockfile().stages["same"]?.outs.first).hash.digest
            try Corruption.bitFlip.apply(to: p.store.objectPath(digest), other: "")
            #expect(p.crx("verify").exitCode == 1)
            expectSuccess(try p.repro("--force", "same"))
            #expect(try p.lockfile().stages["same"]?.outs.first?.hash.digest == digest)
            let after = p.crx("verify")
            #expect(after.exitCode == 0, "repro --force left the corrupt object in place: \(after)")
        }

        @Test func corruptFrameOfAMultiFrameObjectIsNamedQuarantinedAndNeverMaterialised() throws {
            // ≈ 15 MB of text and 6 MiB of random bytes: a framed object of 6 frames (4 MiB each),
            // compressed and raw ones, decompressed on several threads at checkout. One byte of the
            // middle of the object flipped (inside a compressed frame's payload).
            let p = try Project(["pipeline.yaml": """
            stages:
              big:
                cmd: echo big >> runs.log && seq 1 2000000 > big.bin && head -c 6291456 /dev/urandom >> big.bin
                outs: [big.bin]

            """])
            expectSuccess(try p.repro())
            let digest = try #require(p.lockfile().stages["big"]?.outs.first).hash.digest
            let expected = p.contentDigests(["big.bin"])
            let object = p.store.objectPath(digest)
            var bytes = [UInt8](FileManager.default.contents(atPath: object) ?? Data())
            #expect(bytes.count > 8 << 20, "random part stored raw: \(bytes.count)")
            bytes[bytes.count / 4] ^= 0x04
            overwrite(object, with: bytes)

            let verify = p.crx("verify")
            #expect(verify.exitCode == 1 && verify.stderr.contains(digest.hex) && verify.stderr.contains("corrupt"), "\(verify)")
            p.remove("big.bin")
            let checkout = p.crx("checkout")
            #expect(checkout.exitCode == 1, "\(checkout)")
            #expect(!p.exists("big.bin"), "checkout materialised big.bin from a corrupt object")
            #expect(p.strayTemporaries().isEmpty, "\(p.strayTemporaries())")
            // repro quarantines the object, rebuilds the stage, and the cache is whole again.
            let repro = try p.repro()
            #expect(repro.exitCode == 0 && repro.ran.contains("big"), "\(repro)")
            #expect(p.allFiles().contains { $0.hasPrefix(".crx/cache/v1/corrupt/\(digest.hex)") }, "not quarantined")
            #expect(p.consistencyIssues().isEmpty, "\(p.consistencyIssues())")
            #expect(p.contentDigests(["big.bin"]) != expected, "the stage ran (fresh random bytes)")
            p.remove("big.bin")
            #expect(p.crx("checkout").exitCode == 0)
            #expect(p.crx("verify").exitCode == 0)
        }

        @Test func verifyPassesWithOutputsThatAreNotCached() throws {
            // `cache: false` outputs (small metrics committed to git) have no object: not "missing".
            let p = try Project(["pipeline.yaml": """
            stages:
              m:
                cmd: echo '{"auc":1}' > m.json && echo data > d.txt
                outs: [d.txt]
                metrics:
                  - m.json:
                      cache: false

            """])
            expectSuccess(try p.repro())
            for args in [["verify"], ["verify", "m"]] {
                let r = p.crx(args)
                #expect(r.exitCode == 0, "\(r)")
            }
            #expect(p.consistencyIssues().isEmpty)
        }

        // MARK: the lock

        static let lockDamage: [(name: String, edit: @Sendable (String) -> [UInt8])] = [
            ("truncated in a hash", { text in
                let bytes = Array(text.utf8)
                let marker = Array("hash: xxh128:".utf8)
                let start = (0 ... bytes.count - marker.count).last { Array(bytes[$0 ..< $0 + marker.count]) == marker }!
                return Array(bytes.prefix(start + marker.count + 10))
            }),
            ("garbage line", { text in Array(text.replacingOccurrences(of: "  dir:", with: "  dir: [unclosed\n  oops: {").utf8) }),
            ("bad digest", { text in Array(text.replacingOccurrences(of: "hash: xxh128:", with: "hash: xxh128:zz").utf8) }),
            ("wrong type", { text in Array(text.replacingOccurrences(of: "    outs:\n", with: "    outs: 7\n    x:\n").utf8) }),
            ("non-UTF-8", { text in Array(text.utf8.prefix(40)) + [0xFF, 0xFE, 0x00] + Array(text.utf8.dropFirst(40)) }),
            ("tab indentation", { text in Array(text.replacingOccurrences(of: "\n    cmd:", with: "\n\tcmd:").utf8) }),
            ("other schema", { text in Array(text.replacingOccurrences(of: "crx-lock/1", with: "crx-lock/9").utf8) }),
        ]

        @Test(arguments: 0 ..< lockDamage.count)
        func corruptLockIsAClearErrorAndIsNotOverwritten(_ index: Int) throws {
            let (name, edit) = Self.lockDamage[index]
            let p = try builtProject()
            let damaged = edit(try #require(p.lockText))
            p.writeBytes("pipeline.lock", damaged)
            for args in [["status"], ["repro"], ["checkout"], ["repro", "--dry-run"]] {
                let r = p.crx(args)
                #expect(r.exitCode == 1, "\(name): crx \(args): \(r)")
                let located = r.stderr.range(of: #"pipeline\.lock:\d+:\d+: "#, options: .regularExpression) != nil
                #expect(located, "\(name): no file:line:col: \(r)")
                #expect(r.stderr.contains("git checkout -- pipeline.lock"), "\(name): no recovery hint: \(r)")
                #expect(!r.stderr.contains("Fatal error"), "\(name): \(r)")
            }
            // Nothing ran, and the damaged lock is left for the user to restore.
            #expect(p.runs == ["file", "dir"], "\(name): \(p.runs)")
            #expect(p.bytes("pipeline.lock").map { [UInt8]($0) } == damaged, "\(name): the lock was rewritten")
        }

        @Test func lockCutAtEveryLineEitherParsesOrFailsWithALocation() throws {
            let p = try builtProject()
            let text = try #require(p.lockText)
            let bytes = Array(text.utf8)
            var positions = Set<Int>()
            for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { positions.insert(i + 1); positions.insert(i - 3) }
            for cut in positions.sorted() where cut > 0 && cut < bytes.count {
                do {
                    let lock = try Lockfile.parse(Data(bytes.prefix(cut)), file: "pipeline.lock")
                    // A prefix that parses may describe fewer stages or fewer entries, never other digests.
                    let full = try Lockfile.parse(Data(bytes), file: "pipeline.lock")
                    for (stage, record) in lock.stages {
                        for out in record.outs {
                            let original = full.stages[stage]?.outs.first { $0.path == out.path }
                            #expect(original?.hash.digest == out.hash.digest, "cut at \(cut): \(stage) \(out.path)")
                        }
                    }
                } catch let error as LockfileError {
                    #expect(error.location != nil, "cut at \(cut): \(error)")
                }
            }
        }

        // MARK: the state cache

        @Test(arguments: ["garbage", "flipped digest", "truncated", "empty", "wrong header"])
        func corruptStateCacheIsRebuiltSilently(_ kind: String) throws {
            let p = try builtProject()
            // Make the recorded state depend on the state cache: the deps are judged through it.
            let statePath = ".crx/state/state.v1"
            let text = try #require(p.read(statePath))
            switch kind {
            case "garbage": p.writeBytes(statePath, Array(repeating: 0xA5, count: 5000))
            case "flipped digest":
                // Every remembered digest changed, identities (inode, size, mtime) kept: a disk fault.
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                    guard line.count > 32, let first = line.first, first.isHexDigit, line.dropFirst(32).first == "\t" else { return String(line) }
                    return (first == "0" ? "1" : "0") + line.dropFirst()
                }
                p.write(statePath, lines.joined(separator: "\n"))
            case "truncated": p.write(statePath, String(text.prefix(text.count / 2)))
            case "empty": p.write(statePath, "")
            default: p.write(statePath, "crx-state 99\n" + text.split(separator: "\n").dropFirst().joined(separator: "\n"))
            }
            let status = p.crx("status", "--json")
            #expect(status.exitCode == 0, "\(kind): \(status)")
            #expect(status.stderr.isEmpty, "\(kind): not silent: \(status)")
            #expect((try? status.jsonObject())?.isEmpty == true, "\(kind): wrongly stale: \(status)")
            let repro = try p.repro()
            #expect(repro.exitCode == 0 && repro.ran.isEmpty, "\(kind): \(repro)")
            #expect(p.runs == ["file", "dir"], "\(kind): \(p.runs)")
            // The lock still records the true digests of the deps.
            let lock = try p.lockfile()
            let recordedIn = try #require(lock.stages["file"]?.deps.first { $0.path == "in.txt" })
            #expect(recordedIn.hash.digest == (try FileHasher.hash(path: p.absolute("in.txt")).digest), "\(kind)")
            // And a real change is still seen.
            p.write("in.txt", "changed\n")
            #expect(try p.status().staleStages == ["file", "dir"], "\(kind)")
        }
    }
}
