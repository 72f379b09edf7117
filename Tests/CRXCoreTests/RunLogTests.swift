import Foundation
import Testing
@testable import CRXCore

/// The run log: records appended to one journal, found again through the index by offset; older
/// layouts (a file per record, fingerprints beside them) still read.
@Suite struct RunLogTests {
    static func record(_ stage: String, entry: String = "e1", produced: RunLog.Record.Production = .ran,
                       original: String? = nil, cmd: [String] = ["echo hi > out.txt"]) -> RunLog.Record {
        let started = Date(timeIntervalSince1970: 1_795_000_000)
        return .init(runID: RunLog.newRunID(), stage: stage, cmd: cmd, wdir: "", started: started,
                     finished: started.addingTimeInterval(2), exitCode: produced == .ran ? 0 : nil,
                     producedBy: produced, originalRunID: original, lockEntry: entry)
    }

    @Test func recordsAreAppendedToOneJournalAndReadBackByANewLog() throws {
        let dir = TempDir()
        let runs = dir.path + "/runs"
        let log = RunLog(directory: runs)
        let a = Self.record("a", cmd: ["printf 'x\\ny' > \"out put.txt\"", "two"])
        let b = Self.record("b", entry: "e2", produced: .runCache, original: "first-run")
        try log.save(a)
        try log.save(b)
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).sorted() == ["index.json", "journal.v1"])
        let lines = try String(contentsOfFile: runs + "/journal.v1", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        // Another process (a later `crx lineage`) finds each run through the index.
        let again = RunLog(directory: runs)
        let readA = try #require(again.current(stage: "a", lockEntry: "e1"))
        #expect(readA.runID == a.runID && readA.cmd == a.cmd && readA.exitCode == 0 && readA.producedBy == .ran)
        #expect(readA.started == a.started && readA.finished == a.finished)
        let readB = try #require(again.current(stage: "b", lockEntry: "e2"))
        #expect(readB.runID == b.runID && readB.originalRunID == "first-run" && readB.producedBy == .runCache)
        // A lock entry that changed since (the lock came from git) has no run.
        #expect(again.current(stage: "a", lockEntry: "other") == nil)
        // A later run of a stage replaces it in the index; the journal keeps both.
        let a2 = Self.record("a", entry: "e3")
        try again.save(a2)
        #expect(RunLog(directory: runs).current(stage: "a", lockEntry: "e3")?.runID == a2.runID)
        #expect(try String(contentsOfFile: runs + "/journal.v1", encoding: .utf8).split(separator: "\n").count == 3)
    }

    @Test func aTornLastLineReadsAsNoRecordAndTheNextRecordStartsItsOwnLine() throws {
        let dir = TempDir()
        let runs = dir.path + "/runs"
        let a = Self.record("a")
        try RunLog(directory: runs).save(a)
        // A crash in the middle of the next append.
        let handle = try #require(FileHandle(forWritingAtPath: runs + "/journal.v1"))
        handle.seekToEndOfFile()
        handle.write(Data("{\"run_id\":\"torn".utf8))
        try handle.close()
        let journal = Journal(path: runs + "/journal.v1")
        let size = Int64(try #require(LocalFileSystem().stat(runs + "/journal.v1")).size)
        #expect(journal.line(at: size - 15) == nil, "a line without its newline is not a record")
        let b = Self.record("b", entry: "e2")
        let log = RunLog(directory: runs)
        try log.save(b)
        let again = RunLog(directory: runs)
        #expect(again.current(stage: "a", lockEntry: "e1")?.runID == a.runID)
        #expect(again.current(stage: "b", lockEntry: "e2")?.runID == b.runID)
        let text = try String(contentsOfFile: runs + "/journal.v1", encoding: .utf8)
        #expect(text.split(separator: "\n").count == 3 && text.hasSuffix("\n"))
        // An offset that is not the start of the stage's record reads as no record.
        #expect(journal.line(at: size + 1_000) == nil)
        #expect(again.record(id: b.runID, at: 0) == nil)
    }

    @Test func indexEntriesFromBeforeTheJournalReadTheirRecordFiles() throws {
        let dir = TempDir()
        let runs = dir.path + "/runs"
        let old = Self.record("a")
        var json = old.json
        json["cmd"] = ["old layout"]
        try JSONReport.write(json, to: "\(runs)/\(old.runID).json")
        try JSONReport.write(["a": ["run_id": old.runID, "lock_entry": "e1"]], to: runs + "/index.json")
        try LocalFileSystem().writeAtomically(Array("first-run".utf8), to: runs + "/fingerprints/" + XXH3Hasher.digest("fp").hex)
        let log = RunLog(directory: runs)
        #expect(log.current(stage: "a", lockEntry: "e1")?.cmd == ["old layout"])
        #expect(log.legacyOriginalRun(fingerprint: XXH3Hasher.digest("fp")) == "first-run")
    }

    @Test func aBuildDefersTheJournalToItsBarrierAndSyncsItOnce() throws {
        let dir = TempDir()
        let barrier = DurabilityBarrier()
        let log = RunLog(directory: dir.path + "/runs", barrier: barrier)
        for n in 0 ..< 3 { try log.save(Self.record("s\(n)"), writeIndex: false) }
        #expect(barrier.pendingCount == 3)
        try log.saveIndex()
        #expect(barrier.pendingCount == 4)
        try barrier.sync()
        #expect(barrier.pendingCount == 0)
        #expect(RunLog(directory: dir.path + "/runs").current(stage: "s2", lockEntry: "e1") != nil)
    }

    @Test func runCacheEntriesAreJournalLinesNamingTheRunThatBuiltThem() throws {
        let dir = TempDir()
        let cache = RunCache(directory: dir.path + "/runcache")
        let outs = [Lockfile.Entry(path: "model dir/m\tweird\nname.json", hash: PathDigest(digest: XXH3Hasher.digest("m"), size: 7, nfiles: 2)),
                    Lockfile.Entry(path: "b.txt", hash: PathDigest(digest: XXH3Hasher.digest("b"), size: 1))]
        let key = XXH3Hasher.digest("fingerprint")
        try cache.record(key, outs: outs, run: "run-1")
        #expect(cache.entry(key) == RunCache.Entry(outs: outs, originalRun: "run-1"))
        #expect(cache.lookup(key) == outs)
        // One journal, no file per entry.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/runcache") == ["journal.v1"])
        // Another instance (another process) reads it; one made earlier catches up on later lines.
        let other = RunCache(directory: dir.path + "/runcache")
        #expect(other.entry(key)?.originalRun == "run-1")
        let later = XXH3Hasher.digest("later")
        try cache.record(later, outs: [outs[1]])
        #expect(other.entry(later)?.outs == [outs[1]] && other.entry(later)?.originalRun == nil)
        // A fingerprint built again: the later line wins.
        try cache.record(key, outs: [outs[1]], run: "run-2")
        #expect(other.entry(key) == RunCache.Entry(outs: [outs[1]], originalRun: "run-2"))
        #expect(Set(other.allKeys()) == [key, later])

        // push uploads the entry as `entry` reads it, in the file form remotes hold — even where an
        // older file of the same key (pulled, or from before the journal) says something else.
        try LocalFileSystem().writeAtomically(Array(RunCache.render(.init(outs: outs, originalRun: "stale")).utf8), to: cache.path(key))
        let upload = try #require(try cache.uploadFile(key))
        #expect(RunCache.parse(try String(contentsOfFile: upload, encoding: .utf8)) == RunCache.Entry(outs: [outs[1]], originalRun: "run-2"))
        unlink(upload)
        // gc: the entry goes from the journal and its file, superseded lines go, the rest stays.
        #expect(try String(contentsOfFile: cache.journal.path, encoding: .utf8).split(separator: "\n").count == 3)
        try cache.compact(removing: [key])
        #expect(cache.entry(key) == nil && other.entry(key) == nil && LocalFileSystem().stat(cache.path(key)) == nil)
        #expect(RunCache(directory: dir.path + "/runcache").entry(later)?.outs == [outs[1]])
        #expect(Set(cache.allKeys()) == [later])
        #expect(try String(contentsOfFile: cache.journal.path, encoding: .utf8) == RunCache.journalLine(later, .init(outs: [outs[1]], originalRun: nil)) + "\n")
        // The same instance appends to the rewritten file, not the replaced one.
        try cache.record(key, outs: outs, run: "run-3")
        #expect(RunCache(directory: dir.path + "/runcache").entry(key)?.originalRun == "run-3")
        #expect(other.entry(key)?.originalRun == "run-3")
    }

    @Test func runCacheFilesOfVersionOneAndTwoStillReadAndATornLineIsNoEntry() throws {
        let dir = TempDir()
        let cache = RunCache(directory: dir.path + "/runcache")
        let outs = [Lockfile.Entry(path: "model dir/m.json", hash: PathDigest(digest: XXH3Hasher.digest("m"), size: 7, nfiles: 2))]
        // Written by a crx before version 2 (no run line), or downloaded from a remote (version 2).
        let v1 = XXH3Hasher.digest("older")
        try LocalFileSystem().writeAtomically(Array("crx-run 1\n\(XXH3Hasher.digest("m").hex)\t7\t2\tmodel dir/m.json\n".utf8),
                                              to: cache.path(v1))
        #expect(cache.entry(v1) == RunCache.Entry(outs: outs, originalRun: nil))
        let v2 = XXH3Hasher.digest("pulled")
        try LocalFileSystem().writeAtomically(Array(RunCache.render(.init(outs: outs, originalRun: "r")).utf8), to: cache.path(v2))
        #expect(cache.entry(v2) == RunCache.Entry(outs: outs, originalRun: "r"))
        #expect(Set(cache.allKeys()) == [v1, v2])
        // An unknown version is no entry (the stage runs).
        let v9 = XXH3Hasher.digest("future")
        try LocalFileSystem().writeAtomically(Array("crx-run 9\n".utf8), to: cache.path(v9))
        #expect(cache.entry(v9) == nil)
        // A torn journal line (a crash mid-append) is no entry; the next entry reads.
        let torn = XXH3Hasher.digest("torn")
        try LocalFileSystem().writeAtomically(Array("\(torn.hex)\t\t\(XXH3Hasher.digest("m").hex)\t7".utf8), to: cache.journal.path)
        #expect(cache.entry(torn) == nil)
        // Torn at a field boundary: the output count tells it from a shorter entry.
        let cut = XXH3Hasher.digest("cut")
        let twoOuts = RunCache.journalLine(cut, .init(outs: outs + outs, originalRun: nil))
        try LocalFileSystem().writeAtomically(Array((twoOuts.split(separator: "\t").dropLast(4).joined(separator: "\t") + "\n").utf8),
                                              to: cache.journal.path)
        #expect(cache.entry(cut) == nil)
        let next = XXH3Hasher.digest("next")
        try cache.record(next, outs: outs)
        #expect(cache.entry(torn) == nil)
        #expect(RunCache(directory: dir.path + "/runcache").entry(next)?.outs == outs)
    }

    @Test func pathsWithCRLFAreEscapedAndAJournalLineWithANewlineIsRefused() throws {
        let escaped = Escaping.escape("a\r\nb\\c\td")
        let expected = "a" + "\\r\\n" + "b" + "\\\\" + "c" + "\\t" + "d"
        #expect(escaped == expected)
        let combining = "x\r\n\u{301}\\\u{301}y"      // a backslash carrying a combining accent
        let roundTrip = Escaping.unescape(Escaping.escape(combining)[...])
        #expect(roundTrip == combining)
        let dir = TempDir()
        let cache = RunCache(directory: dir.path + "/runcache")
        let outs = [Lockfile.Entry(path: "out\r\nput.txt", hash: PathDigest(digest: XXH3Hasher.digest("o"), size: 1))]
        try cache.record(XXH3Hasher.digest("crlf"), outs: outs)
        #expect(RunCache(directory: dir.path + "/runcache").lookup(XXH3Hasher.digest("crlf")) == outs)
        #expect(throws: IOError.self) { _ = try Journal(path: dir.path + "/j").append(Array("a\nb".utf8), barrier: nil) }
    }

    @Test func journalLinesAreOneLineJSONThatParsesToTheRecord() throws {
        let value: [String: Any] = ["s": "a\nb \"q\" / \\", "n": 3, "d": 1.5, "z": NSNull(), "b": true,
                                    "list": ["x", ["k": "v"], [Any]()], "empty": [String: Any]()]
        let line = try JSONReport.encodeLine(value)
        #expect(!line.contains(10))
        let text = String(decoding: line, as: UTF8.self)
        #expect(text == #"{"b":true,"d":1.5,"empty":{},"list":["x",{"k":"v"},[]],"n":3,"s":"a\nb \"q\" / \\","z":null}"#)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? NSDictionary)
        #expect(parsed == (try JSONSerialization.jsonObject(with: Data(try JSONReport.encode(value))) as? NSDictionary))
    }
}
