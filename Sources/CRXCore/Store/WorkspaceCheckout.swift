/// `crx checkout`: makes the workspace's outputs match the lock, restoring missing or modified
/// ones from the cache (verified on read; a corrupt object is refused, never written out).
public struct WorkspaceCheckout: Sendable {
    public struct Report: Sendable {
        public var restored: [String] = []
        public var unchanged: [String] = []
        /// Outputs that could not be restored, with why.
        public var failed: [(path: String, error: String)] = []
    }

    let checkout: Checkout
    let hasher: PathHasher

    public init(checkout: Checkout, hasher: PathHasher) {
        self.checkout = checkout
        self.hasher = hasher
    }

    public func run(lock: Lockfile, pipeline: Pipeline, stages: [String]) -> Report {
        var report = Report()
        for name in stages {
            guard let record = lock.stages[name], let stage = pipeline[name] else { continue }
            for out in record.outs {
                guard stage.outs.first(where: { $0.path == out.path })?.cache ?? false else { continue }
                if let current = try? hasher.digest(of: out.path), current.digest == out.hash.digest {
                    report.unchanged.append(out.path)
                    continue
                }
                do {
                    try checkout.restore(out)
                    report.restored.append(out.path)
                } catch {
                    report.failed.append((out.path, "\(error)"))
                }
            }
        }
        return report
    }
}
