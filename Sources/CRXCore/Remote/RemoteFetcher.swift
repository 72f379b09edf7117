#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What `crx repro --pull` gives the reproducer: a remote to consult when an output or a run-cache
/// entry is not in the local cache. Up-to-date stages' missing outputs and run-cache hits are then
/// downloaded (verified) and restored instead of rebuilt.
public protocol OutputFetcher: Sendable {
    /// True when the remote holds everything needed to restore `hash` (may download its manifest).
    func available(_ hash: PathDigest) -> Bool
    /// Downloads into the local cache what restoring `entries` needs; throws when something is missing or corrupt.
    func fetch(_ entries: [Lockfile.Entry]) throws
    /// Downloads the run-cache entry of `fingerprint` into the local run-cache, when the remote has one.
    func fetchRunCacheEntry(_ fingerprint: Digest)
    /// This fetcher with its downloads deferred to a build's barrier (`DurabilityBarrier`) instead of
    /// fsynced one by one: the reproducer hands it its own before the build starts.
    func deferring(to barrier: DurabilityBarrier) -> any OutputFetcher
}

/// An `OutputFetcher` over a `RemoteStore`. Answers are remembered for the life of the repro.
public final class RemoteFetcher: OutputFetcher, @unchecked Sendable {
    let sync: RemoteSync
    private let known = Protected<[Digest: Bool]>([:])

    public init(sync: RemoteSync) { self.sync = sync }

    public func deferring(to barrier: DurabilityBarrier) -> any OutputFetcher { RemoteFetcher(sync: sync.deferring(to: barrier)) }

    public func available(_ hash: PathDigest) -> Bool {
        if let answer = known.withLock({ $0[hash.digest] }) { return answer }
        let store = sync.store
        var keys: [String] = []
        if hash.isDirectory {
            if !store.contains(hash.digest) {
                _ = try? sync.downloadObject(RemoteLayout.object(hash.digest), as: hash.digest)
            }
            guard let m = try? DirectoryManifest(bytes: store.read(hash.digest)) else {
                known.withLock { $0[hash.digest] = false }
                return false
            }
            keys = m.entries.filter { !store.contains($0.digest) }.map { RemoteLayout.object($0.digest) }
        } else if !store.contains(hash.digest) {
            keys = [RemoteLayout.object(hash.digest)]
        }
        let present = (try? sync.remote.existing(keys)) ?? []
        let answer = keys.allSatisfy(present.contains)
        known.withLock { $0[hash.digest] = answer }
        return answer
    }

    public func fetch(_ entries: [Lockfile.Entry]) throws {
        let report = sync.fetch(entries.map { RemoteSync.Output(stage: "", entry: $0) })
        if let failure = report.transferred.failures.first { throw failure.error }
        if let missing = report.missing.first {
            throw RemoteError.notFound(remote: sync.remote.displayName, key: "the objects of '\(missing.path)'")
        }
    }

    public func fetchRunCacheEntry(_ fingerprint: Digest) {
        guard sync.runCache.lookup(fingerprint) == nil else { return }
        let final = sync.runCache.path(fingerprint)
        let temp = final + ".crx-tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try? LocalFileSystem().createDirectory((final as NSString).deletingLastPathComponent)
        do {
            try Retry.run { try sync.remote.download(RemoteLayout.runCacheEntry(fingerprint), to: temp) }
            // Only a well-formed entry is kept.
            guard let text = try? String(contentsOfFile: temp, encoding: .utf8), RunCache.parse(text) != nil else {
                unlink(temp)
                return
            }
            // Durable as `RunCache.record` makes its entries: through the barrier, else fsynced.
            if sync.runCache.barrier == nil { try DurabilityBarrier.fsync(temp) }
            guard rename(temp, final) == 0 else {
                unlink(temp)
                return
            }
            if sync.runCache.lookup(fingerprint) == nil {
                unlink(final)
                return
            }
            sync.runCache.barrier?.deferred(final)
        } catch {
            unlink(temp)
        }
    }
}
