/// `crx verify`: decompresses and re-hashes cache objects, reporting every corrupt or missing one.
public struct Verifier: Sendable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var digest: Digest
        /// The workspace path the object stands for, when known from the lock.
        public var path: String?
        public var stage: String?
        public var health: ObjectHealth

        public var description: String {
            let what: String
            switch health {
            case .ok: what = "ok"
            case .missing: what = "missing"
            case let .corrupt(reason): what = "corrupt (\(reason))"
            }
            let owner = [stage.map { "stage '\($0)'" }, path.map { "'\($0)'" }].compactMap { $0 }.joined(separator: " ")
            return "\(digest): \(what)" + (owner.isEmpty ? "" : " — \(owner)")
        }
    }

    public struct Result: Sendable {
        public var checked = 0
        public var problems: [Problem] = []
    }

    let store: any ObjectStore

    public init(store: any ObjectStore) { self.store = store }

    /// Verifies every object in the store.
    public func verifyAll() throws -> Result {
        var result = Result()
        for d in try store.allDigests() {
            result.checked += 1
            let health = store.verify(d)
            if health != .ok { result.problems.append(Problem(digest: d, path: nil, stage: nil, health: health)) }
        }
        return result
    }

    /// Verifies the objects the lock records for the given stages (directory manifests and their files).
    /// Outputs the pipeline declares `cache: false` have no object and are skipped.
    public func verify(lock: Lockfile, stages: [String], pipeline: Pipeline? = nil) -> Result {
        var result = Result()
        var seen: Set<Digest> = []
        func check(_ d: Digest, path: String, stage: String) -> ObjectHealth {
            guard seen.insert(d).inserted else { return .ok }
            result.checked += 1
            let health = store.verify(d)
            if health != .ok { result.problems.append(Problem(digest: d, path: path, stage: stage, health: health)) }
            return health
        }
        for name in stages {
            guard let record = lock.stages[name] else { continue }
            for out in record.outs {
                if let declared = pipeline?[name]?.outs.first(where: { $0.path == out.path }), !declared.cache { continue }
                guard check(out.hash.digest, path: out.path, stage: name) == .ok, out.hash.isDirectory,
                      let manifest = try? DirectoryManifest(bytes: store.read(out.hash.digest)) else { continue }
                for e in manifest.entries { _ = check(e.digest, path: out.path + "/" + e.path, stage: name) }
            }
        }
        return result
    }
}
