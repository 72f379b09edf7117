/// What a stage looks like in the workspace right now: the inputs a run would see and the
/// outputs on disk. Taken by `Inspector`, judged by `Planner`.
public struct StageSnapshot: Sendable {
    /// Current digests of the deps that exist (or are predicted, see `Inspector`).
    public var deps: [Lockfile.Entry]
    /// Deps that do not exist (yet): produced by an upstream stage that has not run.
    public var missingDeps: [String]
    /// Current values of the params the stage uses.
    public var params: [String: [String: ParamValue]]
    /// Param keys the stage declares that its params file does not have.
    public var missingParams: [(file: String, key: String)]
    /// Current digest of each declared out (nil when absent).
    public var outs: [String: PathDigest?]
}

/// A stage's fate, decided from its lock record and its snapshot.
public enum StageDecision: Sendable, Equatable {
    case upToDate
    /// Up to date, but these outputs are missing from the workspace and present in the cache.
    case restore([Lockfile.Entry])
    case run([StaleReason])
}

/// The freshness rules, as pure functions of values: no disk, no clock.
public enum Planner {
    public static func decide(_ stage: Stage, record: Lockfile.StageRecord?, snapshot: StageSnapshot,
                              force: Bool, inCache: (PathDigest) -> Bool) -> StageDecision {
        var reasons: [StaleReason] = []
        if force { reasons.append(.forced) }
        guard let record else {
            return .run(reasons + [.neverRun])
        }
        if stage.alwaysChanged { reasons.append(.alwaysChanged) }
        if record.cmd != stage.cmd { reasons.append(.cmdChanged(old: record.cmd, new: stage.cmd)) }

        // deps (no lookup tables when the record lists the stage's deps, in order, unchanged)
        if !depsUnchanged(stage, record: record, snapshot: snapshot) {
            depReasons(stage, record: record, snapshot: snapshot, into: &reasons)
        }

        // params
        var lockedParams = record.params
        for (file, values) in snapshot.params.sorted(by: { $0.key < $1.key }) {
            let old = lockedParams.removeValue(forKey: file) ?? [:]
            for key in values.keys.sorted() {
                let new = values[key]!
                if let previous = old[key] {
                    if previous != new { reasons.append(.paramChanged(file: file, key: key, old: previous, new: new)) }
                } else {
                    reasons.append(.paramAdded(file: file, key: key, value: new))
                }
            }
            for key in old.keys.sorted() where values[key] == nil {
                reasons.append(.paramRemoved(file: file, key: key, old: old[key]))
            }
        }
        for (file, old) in lockedParams.sorted(by: { $0.key < $1.key }) {
            for key in old.keys.sorted() { reasons.append(.paramRemoved(file: file, key: key, old: old[key])) }
        }
        for missing in snapshot.missingParams where record.params[missing.file]?[missing.key] == nil {
            reasons.append(.paramRemoved(file: missing.file, key: missing.key, old: nil))
        }

        // outs
        let lockedOuts = Dictionary(record.outs.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let declaredOuts = stage.outs.map(\.path)
        let added = declaredOuts.filter { lockedOuts[$0] == nil }
        let removed = record.outs.map(\.path).filter { !declaredOuts.contains($0) }
        if !added.isEmpty || !removed.isEmpty { reasons.append(.outsChanged(added: added, removed: removed)) }
        var restorable: [Lockfile.Entry] = []
        for out in stage.outs {
            guard let expected = lockedOuts[out.path] else { continue }
            switch snapshot.outs[out.path] {
            case let .some(.some(actual)):
                if actual.digest != expected.hash.digest {
                    reasons.append(.outModified(path: out.path, expected: expected.hash.digest, actual: actual.digest))
                }
            default:
                if out.cache && inCache(expected.hash) {
                    restorable.append(expected)
                } else {
                    reasons.append(.outMissing(path: out.path))
                }
            }
        }
        if !reasons.isEmpty { return .run(reasons) }
        return restorable.isEmpty ? .upToDate : .restore(restorable)
    }

    /// True when the record and the snapshot hold exactly the stage's deps, in its order, with the
    /// same digests: then `depReasons` would find nothing (with duplicate paths too: it compares
    /// first occurrences, which are pairs here).
    static func depsUnchanged(_ stage: Stage, record: Lockfile.StageRecord, snapshot: StageSnapshot) -> Bool {
        let n = stage.deps.count
        guard record.deps.count == n, snapshot.deps.count == n, snapshot.missingDeps.isEmpty else { return false }
        for k in 0..<n {
            let then = record.deps[k], now = snapshot.deps[k]
            guard then.hash.digest == now.hash.digest, then.path == now.path, now.path == stage.deps[k].path else { return false }
        }
        return true
    }

    /// Why the stage's deps make it stale: changed, added, missing, removed.
    static func depReasons(_ stage: Stage, record: Lockfile.StageRecord, snapshot: StageSnapshot, into reasons: inout [StaleReason]) {
        let locked = Dictionary(record.deps.map { ($0.path, $0.hash) }, uniquingKeysWith: { a, _ in a })
        let current = Dictionary(snapshot.deps.map { ($0.path, $0.hash) }, uniquingKeysWith: { a, _ in a })
        for dep in stage.deps {
            if let now = current[dep.path] {
                if let then = locked[dep.path] {
                    if then.digest != now.digest { reasons.append(.depChanged(path: dep.path, old: then.digest, new: now.digest)) }
                } else {
                    reasons.append(.depAdded(path: dep.path))
                }
            } else if snapshot.missingDeps.contains(dep.path) {
                reasons.append(.depMissing(path: dep.path))
            }
        }
        let declared = Set(stage.deps.map(\.path))
        for d in record.deps where !declared.contains(d.path) { reasons.append(.depRemoved(path: d.path)) }
    }
}
