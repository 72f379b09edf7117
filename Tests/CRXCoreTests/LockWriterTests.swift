import Foundation
import Testing
@testable import CRXCore

@Suite struct LockWriterTests {
    static func record(_ n: Int, params: Bool = true) -> Lockfile.StageRecord {
        let d = XXH3Hasher.digest("content \(n)")
        return .init(cmd: n % 3 == 0 ? ["echo \(n)", "cat x: y"] : ["python run.py --n \(n)"],
                     deps: (0 ..< n % 4).map { .init(path: "in/f\($0) \(n).txt", hash: PathDigest(digest: d, size: Int64($0))) },
                     params: params ? ["params.yaml": ["s\(n).seed": .int(n), "s\(n).name": .string("yes")], "other.yaml": [:]] : [:],
                     outs: [.init(path: "out/\(n)", hash: PathDigest(digest: d, size: 7, nfiles: n % 2 == 0 ? 2 : nil))])
    }

    /// Whatever was recorded, in whatever order, the file is byte-identical to a full render.
    @Test func fileIsByteIdenticalToAFullRender() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let order = (0 ..< 40).map { "s\($0)" } + ["@odd name", "y"]
        // An existing lock with a stage no longer in the pipeline and one in it.
        let initial = Lockfile(stages: ["gone": Self.record(1), "s5": Self.record(5), "y": Self.record(99, params: false)])
        let writer = LockWriter(path: path, order: order, lock: initial, minimumInterval: .zero, costFactor: 0)
        var expected = initial
        expected.stages["gone"] = nil
        var rng = SystemRandomNumberGenerator()
        for step in 0 ..< 60 {
            let name = order.randomElement(using: &rng)!
            let record = Self.record(step)
            try writer.record(name, record)
            expected.stages[name] = record
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text == expected.render(order: order), "step \(step)")
            #expect(writer.render() == text)
            #expect(try Lockfile.parse(Data(text.utf8), file: "pipeline.lock") == expected)
        }
        #expect(writer.lock == expected)
        #expect(writer.writes == 60)
    }

    /// The file is written block by block through a small buffer, never joined in memory: a lock
    /// many times that buffer (and a block bigger than it) still comes out byte-identical.
    @Test func aLockLargerThanTheWriteBufferIsWrittenWhole() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let order = (0 ..< 400).map { "s\($0)" }
        let writer = LockWriter(path: path, order: order, lock: Lockfile(), minimumInterval: .zero, costFactor: 0)
        var expected = Lockfile()
        for (n, name) in order.enumerated() { expected.stages[name] = Self.record(n) }
        // One block of ~150 KB: more than the whole buffer.
        let d = XXH3Hasher.digest("big")
        expected.stages["s7"] = .init(cmd: ["cat"], deps: (0 ..< 2000).map { .init(path: "in/\($0).txt", hash: PathDigest(digest: d, size: 1)) },
                                      params: [:], outs: [])
        for name in order { try writer.record(name, expected.stages[name]!) }
        let bytes = try LocalFileSystem().readFile(path)
        #expect(bytes.count > 4 << 16)
        #expect(String(decoding: bytes, as: UTF8.self) == expected.render(order: order))
        #expect(writer.render() == expected.render(order: order))
    }

    /// Pieces written atomically come out joined, whatever their sizes (empty, tiny, over the buffer).
    @Test func piecesAreWrittenJoined() throws {
        let dir = TempDir()
        let path = dir.path + "/x/pieces"
        let pieces = ["", "a", String(repeating: "b", count: 70_000), "", "é\n", String(repeating: "c", count: 65_535), "d"]
        try LocalFileSystem().writeAtomically(pieces, to: path)
        #expect(try LocalFileSystem().readFile(path) == Array(pieces.joined().utf8))
        try LocalFileSystem().writeAtomically([String](), to: path)
        #expect(try LocalFileSystem().readFile(path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/x") == ["pieces"])
    }

    /// Blocks of stages the build does not record are taken from the file when their digest is
    /// the one the run log names; a block crx did not render that way (hand-edited) is rendered.
    @Test func untouchedBlocksAreTakenFromTheFileOnlyWhenCrxRenderedThem() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let order = (0 ..< 10).map { "s\($0)" } + ["hand", "unknown"]
        var lock = Lockfile()
        for (n, name) in order.enumerated() { lock.stages[name] = Self.record(n) }
        lock.stages["hand"] = .init(cmd: ["echo"], deps: [], params: [:], outs: [])
        // `hand` as a person might write it: the same record, a different text.
        let text = lock.render(order: order).replacingOccurrences(of: "    cmd: echo\n", with: "    cmd: \"echo\"\n")
        try LocalFileSystem().writeAtomically(Array(text.utf8), to: path)
        let loaded = try Lockfile.loadWithIdentity(absolutePath: path, displayPath: "pipeline.lock")
        #expect(loaded.lock == lock)
        let asked = Protected<Set<String>>([])
        let original = lock
        let writer = LockWriter(path: path, order: order, lock: loaded.lock, identity: loaded.identity, renderedEntry: { name in
            asked.withLock { _ = $0.insert(name) }
            return name == "unknown" ? nil : RunLog.lockEntryDigest(stage: name, record: original.stages[name]!)
        })
        lock.stages["s3"] = Self.record(33)
        try writer.record("s3", lock.stages["s3"]!)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == lock.render(order: order))
        #expect(asked.snapshot == Set(order).subtracting(["s3"]))
        let digests = writer.entryDigests()
        for name in order { #expect(digests[name] == RunLog.lockEntryDigest(stage: name, record: lock.stages[name]!), "\(name)") }
    }

    /// The file's blocks are taken only when it is the file the lock was read from: one replaced
    /// since (`git checkout` between the read and the writer) is not spliced in, even when it is
    /// the same size and the run log names its blocks (crx rendered them, on the other branch).
    @Test func blocksOfALockReplacedSinceItWasReadAreNotTaken() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let order = (0 ..< 6).map { "s\($0)" }
        var read = Lockfile()
        for (n, name) in order.enumerated() { read.stages[name] = Self.record(n) }
        var replacement = read
        for name in order { replacement.stages[name]!.outs[0].hash.digest = XXH3Hasher.digest("other \(name)") }
        let other = replacement
        #expect(other.render(order: order).utf8.count == read.render(order: order).utf8.count)
        let fs = LocalFileSystem()
        try fs.writeAtomically(Array(read.render(order: order).utf8), to: path)
        let readIdentity = try #require(fs.stat(path))
        let loaded = try Lockfile.loadWithIdentity(absolutePath: path, displayPath: "pipeline.lock")
        #expect(loaded.lock == read)
        try fs.writeAtomically(Array(other.render(order: order).utf8), to: path)   // replaced (rename)
        // The identity is that of the file the bytes came from, not of what the path names now.
        #expect(loaded.identity == readIdentity)
        #expect(loaded.identity != fs.stat(path))
        let writer = LockWriter(path: path, order: order, lock: loaded.lock, identity: loaded.identity,
                                renderedEntry: { RunLog.lockEntryDigest(stage: $0, record: other.stages[$0]!) })
        var expected = read
        expected.stages["s3"] = Self.record(33)
        try writer.record("s3", expected.stages["s3"]!)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected.render(order: order))
        let digests = writer.entryDigests()
        for name in order { #expect(digests[name] == RunLog.lockEntryDigest(stage: name, record: expected.stages[name]!), "\(name)") }
    }

    /// A hand-edited lock whose last line has no newline (YAML still reads it) is rendered, not cut.
    @Test func aLockWithoutItsLastNewlineIsRendered() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let order = ["a", "b"]
        let lock = Lockfile(stages: ["a": Self.record(1), "b": Self.record(2)])
        var text = lock.render(order: order)
        text.removeLast()
        try LocalFileSystem().writeAtomically(Array(text.utf8), to: path)
        let loaded = try Lockfile.loadWithIdentity(absolutePath: path, displayPath: "pipeline.lock")
        #expect(loaded.lock == lock && loaded.identity != nil)
        let writer = LockWriter(path: path, order: order, lock: loaded.lock, identity: loaded.identity,
                                renderedEntry: { RunLog.lockEntryDigest(stage: $0, record: lock.stages[$0]!) })
        #expect(writer.entryDigests()["b"] == RunLog.lockEntryDigest(stage: "b", record: lock.stages["b"]!))
        try writer.record("a", Self.record(3))
        #expect(try String(contentsOfFile: path, encoding: .utf8)
            == Lockfile(stages: ["a": Self.record(3), "b": Self.record(2)]).render(order: order))
    }

    /// Records closer together than the interval are pending until due, then written together.
    @Test func writesAreCoalescedAndFlushed() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let order = ["a", "b", "c"]
        let writer = LockWriter(path: path, order: order, lock: Lockfile(), minimumInterval: .seconds(3600), costFactor: 1)
        #expect(writer.secondsUntilDue == nil)
        try writer.record("a", Self.record(1))            // the first record is written at once
        #expect(writer.writes == 1 && !writer.hasPending)
        try writer.record("b", Self.record(2))            // within the interval: pending
        try writer.record("c", Self.record(3))
        #expect(writer.writes == 1 && writer.hasPending)
        #expect(try Lockfile.parse(Data(contentsOf: URL(fileURLWithPath: path)), file: "l").stages.keys.sorted() == ["a"])
        let due = try #require(writer.secondsUntilDue)
        #expect(due > 3000)
        writer.flushIfDue()                               // not due yet
        #expect(writer.writes == 1)
        try writer.flush()                                // the end of the build
        #expect(writer.writes == 2 && !writer.hasPending && writer.secondsUntilDue == nil)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == writer.lock.render(order: order))
        try writer.flush()                                // nothing pending: no write
        #expect(writer.writes == 2)
    }

    @Test func pendingRecordsAreWrittenOnceDue() throws {
        let dir = TempDir()
        let path = dir.path + "/pipeline.lock"
        let writer = LockWriter(path: path, order: ["a", "b"], lock: Lockfile(), minimumInterval: .milliseconds(30), costFactor: 1)
        try writer.record("a", Self.record(1))
        try writer.record("b", Self.record(2))
        #expect(writer.hasPending)
        usleep(60_000)
        #expect((writer.secondsUntilDue ?? 1) <= 0)
        writer.flushIfDue()
        #expect(!writer.hasPending && writer.writes == 2)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == writer.lock.render(order: ["a", "b"]))
    }

    /// A write that fails keeps the records pending; `flush` reports the error.
    @Test func failedWriteKeepsRecordsPending() throws {
        let dir = TempDir()
        let blocker = dir.write("file", "not a directory")
        let writer = LockWriter(path: blocker + "/pipeline.lock", order: ["a"], lock: Lockfile(), minimumInterval: .zero, costFactor: 0)
        #expect(throws: (any Error).self) { try writer.record("a", Self.record(1)) }
        #expect(writer.hasPending)
        writer.flushIfDue()
        #expect(writer.hasPending)
        #expect(throws: (any Error).self) { try writer.flush() }
        #expect(writer.lock.stages["a"] == Self.record(1))
    }
}
