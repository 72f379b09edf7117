#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Files written without an fsync of their own, made durable together before anything that
/// refers to them is published.
///
/// A build writes a handful of small files per stage (cache objects, the run-cache entry, a line of
/// the run journal) and the lock that refers to them. An fsync per file cost ≈10 ms each (a journal commit
/// apiece): ~28 ms of waiting per stage. Instead, writers publish their files (temp → rename, so a
/// reader never sees half a file; or one append, for the run journal) and `deferred(_:)` them here; the lock writer calls `sync()`
/// before each atomic write of `pipeline.lock`:
/// ```
///   object / run-cache entry ──▶ temp file ──▶ rename ──▶ deferred(path)
///   run record ──▶ one append to the run journal ───────▶ deferred(path)
///                                                                │
///   LockWriter.write ──▶ sync(): fsync each deferred file ──▶ lock temp, fsync, rename
/// ```
/// One journal commit then covers most of the batch (the later fsyncs find their data and metadata
/// already committed): 100 small files cost ≈0.1 s one by one, ≈20 ms batched (ext4, this machine).
/// The fsync comes after the rename, so on a journaling file system (ext4, xfs) it commits the
/// rename with the data; directories are not synced (they were not before either: the journal
/// commits metadata in order, so the lock's rename is never durable before an earlier one).
///
/// Why a crash cannot leave the lock pointing at something missing or undetectably damaged:
/// - SIGKILL: the kernel keeps every written page; renames are atomic. Nothing changes.
/// - Power loss: a lock on disk was written after `sync()` returned for every file it refers to
///   (a stage is recorded only after its files were deferred), so its objects, run records and
///   index are durable. Files written after the last lock write (the next stage's objects, the
///   run-cache entry written after its lock record) may be lost or torn: no durable lock refers to
///   them; an object is named by the XXH3 of its content and re-hashed on every read, so a torn one
///   is refused, quarantined and re-created by the next build (`LocalObjectStore.writeObject`
///   replaces a damaged object); a torn run-cache entry or run record is unreadable, which means
///   "no entry" (the stage runs).
///
/// Concurrency: the list of deferred paths is behind a mutex; `sync()` takes the batch and works
/// outside it, so stages keep deferring files meanwhile (those go to the next barrier).
public final class DurabilityBarrier: @unchecked Sendable {
    private let pending = Protected<[String]>([])
    /// The first failed sync, thrown by every later one.
    private let failure = Protected<(any Error)?>(nil)

    public init() {}

    /// How many files wait for the next `sync()` (for tests).
    public var pendingCount: Int { pending.withLock { $0.count } }

    /// Notes a published file (by its final path) to be made durable by the next `sync()`.
    public func deferred(_ path: String) {
        pending.withLock { $0.append(path) }
    }

    /// Makes every file deferred so far durable: fsyncs each (a file gone since — replaced or
    /// quarantined — is skipped). Throws the first failure; the files of a failed batch are kept.
    ///
    /// A failure is final: every later `sync()` throws it too. After a failed fsync the kernel may
    /// have dropped the dirty pages and a second fsync of the same file can return 0 although its
    /// bytes never reached the disk, so nothing deferred to this barrier may ever be vouched for:
    /// the lock writer keeps those records pending and never writes them (they run again next time).
    public func sync() throws {
        if let failure = failure.withLock({ $0 }) { throw failure }
        let batch = pending.withLock { p -> [String] in
            defer { p.removeAll(keepingCapacity: true) }
            return p
        }
        guard !batch.isEmpty else { return }
        do {
            // A file appended to more than once (the run journal) is synced once.
            var seen = Set<String>()
            for path in batch where seen.insert(path).inserted { try Self.fsync(path) }
        } catch {
            pending.withLock { $0.insert(contentsOf: batch, at: 0) }
            failure.withLock { $0 = $0 ?? error }
            throw error
        }
    }

    /// fsyncs the file at `path`; a path that no longer exists is fine.
    static func fsync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw IOError("open to sync", path: path, errno: errno)
        }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw IOError("sync", path: path, errno: errno) }
    }
}
