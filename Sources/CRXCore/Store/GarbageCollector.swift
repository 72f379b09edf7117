import Foundation

/// `crx gc`: removes cache objects and run-cache entries that no kept lock references.
///
/// Kept: everything the workspace's lock references (file objects, directory manifests and the
/// files they list), plus — with `revisions` — what those git revisions' locks reference. A
/// run-cache entry is kept when every output it would restore is kept. The caller holds the project
/// lock, so no running crx is writing objects while they are judged.
public struct GarbageCollector: Sendable {
    public struct Plan: Sendable {
        public var objects: [(digest: Digest, bytes: Int64)] = []
        public var runCacheEntries: [Digest] = []
        public var keptObjects = 0
        public var bytes: Int64 { objects.reduce(0) { $0 + $1.bytes } }
    }

    let store: LocalObjectStore
    let runCache: RunCache

    public init(store: LocalObjectStore, runCache: RunCache) {
        self.store = store
        self.runCache = runCache
    }

    /// Every object the locks reference (manifests read from the store to include their files).
    public func referenced(by locks: [Lockfile]) -> Set<Digest> {
        var kept: Set<Digest> = []
        for lock in locks {
            for record in lock.stages.values {
                for out in record.outs {
                    kept.insert(out.hash.digest)
                    if out.hash.isDirectory, let manifest = try? DirectoryManifest(bytes: store.read(out.hash.digest)) {
                        for e in manifest.entries { kept.insert(e.digest) }
                    }
                }
            }
        }
        return kept
    }

    public func plan(keeping locks: [Lockfile]) throws -> Plan {
        let kept = referenced(by: locks)
        var plan = Plan()
        let fs = LocalFileSystem()
        for digest in try store.allDigests() {
            if kept.contains(digest) {
                plan.keptObjects += 1
            } else {
                plan.objects.append((digest, fs.stat(store.objectPath(digest))?.size ?? 0))
            }
        }
        for key in runCache.allKeys() {
            guard let outs = runCache.lookup(key) else {
                plan.runCacheEntries.append(key)
                continue
            }
            if !outs.allSatisfy({ kept.contains($0.hash.digest) }) { plan.runCacheEntries.append(key) }
        }
        return plan
    }

    /// Deletes what the plan lists; returns the bytes freed.
    @discardableResult
    public func execute(_ plan: Plan) throws -> Int64 {
        var freed: Int64 = 0
        for (digest, bytes) in plan.objects {
            let path = store.objectPath(digest)
            if unlink(path) == 0 { freed += bytes } else if errno != ENOENT { throw IOError("remove cache object", path: path, errno: errno) }
        }
        try runCache.compact(removing: Set(plan.runCacheEntries))
        store.removeStaleTemporaries()
        return freed
    }
}
