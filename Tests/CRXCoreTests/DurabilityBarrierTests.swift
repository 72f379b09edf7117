import Foundation
import Testing
@testable import CRXCore

/// Files written under a `DurabilityBarrier` skip their own fsync and wait for the barrier, which
/// the lock writer syncs before each write of the lock; a torn object (what a power loss can leave
/// of one written since the last barrier) is refused on read and replaced by the next insert.
@Suite struct DurabilityBarrierTests {
    @Test func atomicWritesAreDeferredUntilSync() throws {
        let dir = TempDir()
        let barrier = DurabilityBarrier()
        try LocalFileSystem().writeAtomically(Array("a".utf8), to: dir.path + "/x/a", barrier: barrier)
        try LocalFileSystem().writeAtomically(Array("b".utf8), to: dir.path + "/x/b", barrier: barrier)
        try LocalFileSystem().writeAtomically(Array("c".utf8), to: dir.path + "/x/c")   // fsynced itself
        #expect(barrier.pendingCount == 2)
        #expect(try String(contentsOfFile: dir.path + "/x/a", encoding: .utf8) == "a")   // published at once
        try FileManager.default.removeItem(atPath: dir.path + "/x/b")                     // gone since: skipped
        try barrier.sync()
        #expect(barrier.pendingCount == 0)
        try barrier.sync()                                                                // nothing to do
    }

    /// After a failed fsync, a second fsync may report success for bytes the kernel dropped: a
    /// barrier that failed once never vouches for anything again.
    @Test func aFailedSyncStaysFailed() throws {
        let dir = TempDir()
        let barrier = DurabilityBarrier()
        // A socket in the file system cannot be opened: the sync of it fails (ENXIO).
        let socketPath = dir.path + "/sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        barrier.deferred(socketPath)
        #expect(throws: IOError.self) { try barrier.sync() }

        try FileManager.default.removeItem(atPath: socketPath)      // the bad file is gone…
        try LocalFileSystem().writeAtomically(Array("a".utf8), to: dir.path + "/a", barrier: barrier)
        #expect(throws: IOError.self) { try barrier.sync() }         // …and still nothing is vouched for

        let writer = LockWriter(path: dir.path + "/pipeline.lock", order: ["a"], lock: Lockfile(), barrier: barrier)
        #expect(throws: IOError.self) {
            try writer.record("a", Lockfile.StageRecord(cmd: ["true"], deps: [], params: [:], outs: []))
            try writer.flush()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/pipeline.lock"), "no lock written after a failed barrier")
    }

    /// Objects a build restores but did not write (run-cache restores) go through its barrier too:
    /// a file's object, a directory's manifest and every file of it.
    @Test func restoredObjectsAreDeferred() throws {
        let dir = TempDir()
        var store = LocalObjectStore(directory: dir.path + "/cache")   // written earlier, outside a build
        let a = try store.insert(file: dir.write("a.txt", "a"))
        let b = try store.insert(file: dir.write("b.txt", "b"))
        let manifest = DirectoryManifest(entries: [.init(path: "a.txt", digest: a.digest, size: a.size),
                                                   .init(path: "b.txt", digest: b.digest, size: b.size)])
        let directory = try store.insert(bytes: manifest.bytes)
        let barrier = DurabilityBarrier()
        store.barrier = barrier
        store.deferObjects(of: [
            Lockfile.Entry(path: "out.txt", hash: PathDigest(digest: a.digest, size: a.size)),
            Lockfile.Entry(path: "outdir", hash: PathDigest(digest: directory, size: a.size + b.size, nfiles: 2)),
        ])
        #expect(barrier.pendingCount == 4, "the file's object, the manifest and its two files")
        try barrier.sync()
    }

    /// A downloaded object adopted into a build's store goes through its barrier (it skips its own
    /// fsync); without a barrier it is fsynced before it is published (not observable here: it
    /// is published, complete and read-only).
    @Test func adoptedObjectsAreDeferred() throws {
        let dir = TempDir()
        let remote = LocalObjectStore(directory: dir.path + "/remote")
        let digest = try remote.insert(bytes: Array("downloaded".utf8))
        var store = LocalObjectStore(directory: dir.path + "/cache")
        let barrier = DurabilityBarrier()
        store.barrier = barrier
        let temp = try store.temporaryPath()
        try FileManager.default.copyItem(atPath: remote.objectPath(digest), toPath: temp)
        #expect(try store.adopt(temp, as: digest) == nil)
        #expect(barrier.pendingCount == 1)
        try barrier.sync()
        #expect(store.verify(digest) == .ok)

        store.barrier = nil
        let other = try remote.insert(bytes: Array("downloaded outside a build".utf8))
        let temp2 = try store.temporaryPath()
        try FileManager.default.copyItem(atPath: remote.objectPath(other), toPath: temp2)
        #expect(try store.adopt(temp2, as: other) == nil)
        #expect(barrier.pendingCount == 0 && !FileManager.default.fileExists(atPath: temp2))
        #expect(store.verify(other) == .ok)
        #expect(LocalFileSystem().stat(store.objectPath(other))?.mode == 0o444)
    }

    @Test func storeDefersObjectsAndTheirReuse() throws {
        let dir = TempDir()
        let barrier = DurabilityBarrier()
        var store = LocalObjectStore(directory: dir.path + "/cache")
        store.barrier = barrier
        let stored = try store.insert(file: dir.write("a.txt", "content"))
        #expect(barrier.pendingCount == 1)
        try barrier.sync()
        // Stored before (possibly by a build killed before its barrier): synced with this build's.
        #expect(try store.insert(file: dir.write("b.txt", "content")).digest == stored.digest)
        #expect(barrier.pendingCount == 1)
        var runCache = RunCache(directory: dir.path + "/runcache")
        runCache.barrier = barrier
        try runCache.record(XXH3Hasher.digest("fp"), outs: [])
        #expect(barrier.pendingCount == 2)
        try barrier.sync()
        #expect(store.verify(stored.digest) == .ok)
    }

    @Test(arguments: ["truncate", "empty", "zeros"])
    func tornObjectIsRefusedAndReplacedByTheNextInsert(kind: String) throws {
        let dir = TempDir()
        var store = LocalObjectStore(directory: dir.path + "/cache")
        store.barrier = DurabilityBarrier()
        // Two frames (4 MiB each) of compressible text.
        let content = String(repeating: "id,amount,label\n1,1000,good\n", count: 200_000)
        let source = dir.write("data.csv", content)
        let digest = try store.insert(file: source).digest
        let object = store.objectPath(digest)
        let good = try LocalFileSystem().readFile(object)
        chmod(object, 0o644)
        let torn: [UInt8]
        switch kind {
        case "truncate": torn = Array(good.prefix(good.count / 2))
        case "empty": torn = []
        default: torn = Array(good.prefix(good.count / 2)) + [UInt8](repeating: 0, count: good.count - good.count / 2)
        }
        try Data(torn).write(to: URL(fileURLWithPath: object))
        guard case .corrupt = store.verify(digest) else { Issue.record("a torn object passed verification"); return }
        #expect(throws: StoreError.self) { try store.read(digest) }
        // The next build stores the content again: the torn object is replaced.
        #expect(try store.insert(file: source).digest == digest)
        #expect(store.verify(digest) == .ok)
        #expect(try LocalFileSystem().readFile(object) == good)
    }

    @Test func lockWriterSyncsTheBarrierBeforeEachWrite() throws {
        let dir = TempDir()
        let barrier = DurabilityBarrier()
        let writer = LockWriter(path: dir.path + "/pipeline.lock", order: ["a", "b"], lock: Lockfile(),
                                minimumInterval: .seconds(3600), costFactor: 1, barrier: barrier)
        try LocalFileSystem().writeAtomically(Array("run".utf8), to: dir.path + "/runs/1.json", barrier: barrier)
        try writer.record("a", LockWriterTests.record(1))     // written at once, after the sync
        #expect(writer.writes == 1 && barrier.pendingCount == 0)
        try LocalFileSystem().writeAtomically(Array("run".utf8), to: dir.path + "/runs/2.json", barrier: barrier)
        try writer.record("b", LockWriterTests.record(2))     // pending: nothing synced yet
        #expect(writer.hasPending && barrier.pendingCount == 1)
        try writer.flush()
        #expect(writer.writes == 2 && barrier.pendingCount == 0)
    }
}
