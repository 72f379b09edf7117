import Foundation
import Testing
@testable import CRXCore

/// Temp files of killed writers are removed; those of live writers and every other file are kept.
@Suite struct StaleTemporariesTests {
    /// A pid no process has: past the largest pid the kernel hands out.
    static let deadPid: pid_t = {
        let max = (try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 4_194_304
        return max + 1
    }()

    @Test func sweepRemovesOnlyDeadWritersTemporaries() throws {
        let dir = TempDir()
        let dead = dir.write("out.csv.crx-tmp-\(Self.deadPid)-123", "half")
        let live = dir.write("out.csv.crx-tmp-\(getpid())-456", "being written")
        let kept = dir.write("out.csv", "done")
        let lookalike = dir.write("crx-tmp-notes.txt", "no marker with a leading dot")
        for i in 0..<50 { dir.write("run-\(i).json", "{}") }

        let removed = StaleTemporaries.sweep([dir.path, dir.path, dir.path + "/missing"])

        #expect(removed == [dead])
        #expect(!FileManager.default.fileExists(atPath: dead))
        for path in [live, kept, lookalike] { #expect(FileManager.default.fileExists(atPath: path), "\(path) kept") }
    }

    @Test func entryNamesFiltersOnRawNamesAndTypes() throws {
        let dir = TempDir()
        dir.write("a.txt", "a")
        dir.write("b.log", "b")
        dir.write("sub/c.txt", "c")
        let fs = LocalFileSystem()
        let texts = fs.entryNames(in: dir.path) { name, _ in strstr(name, ".txt") != nil }
        #expect(texts == ["a.txt"])
        let directories = fs.entryNames(in: dir.path) { _, type in type == UInt8(DT_DIR) }
        #expect(directories == ["sub"], "no . or ..")
        #expect(fs.entryNames(in: dir.path + "/missing") { _, _ in true } == nil)
        #expect(Set(fs.entryNames(in: dir.path) { _, _ in true } ?? []) == ["a.txt", "b.log", "sub"])
    }
}
