/// Why a stage must run: one case per cause, recorded where the decision is made and rendered
/// the same way by `status`, `repro --dry-run`, `repro` and the JSON outputs.
public enum StaleReason: Sendable, Hashable, CustomStringConvertible {
    case neverRun
    case forced
    case alwaysChanged
    case cmdChanged(old: [String], new: [String])
    case depChanged(path: String, old: Digest, new: Digest)
    case depAdded(path: String)
    case depRemoved(path: String)
    /// A dep produced by an upstream stage that does not exist yet (the upstream will make it).
    case depMissing(path: String)
    case paramChanged(file: String, key: String, old: ParamValue, new: ParamValue)
    case paramAdded(file: String, key: String, value: ParamValue)
    case paramRemoved(file: String, key: String, old: ParamValue?)
    case outsChanged(added: [String], removed: [String])
    /// An out is missing and cannot be restored from the cache.
    case outMissing(path: String)
    case outModified(path: String, expected: Digest, actual: Digest)
    /// An upstream stage will run, so this stage's inputs may change (early cutoff may still skip it).
    case upstreamStale(stage: String)
    /// A pinned source this stage reads fails verification (`problem`: mismatch or missing): repro refuses to run.
    case sourceInvalid(source: String, path: String, problem: String)

    /// A stable identifier of the cause, used as `kind` in JSON.
    public var kind: String {
        switch self {
        case .neverRun: return "never_run"
        case .forced: return "forced"
        case .alwaysChanged: return "always_changed"
        case .cmdChanged: return "cmd_changed"
        case .depChanged: return "dep_changed"
        case .depAdded: return "dep_added"
        case .depRemoved: return "dep_removed"
        case .depMissing: return "dep_missing"
        case .paramChanged: return "param_changed"
        case .paramAdded: return "param_added"
        case .paramRemoved: return "param_removed"
        case .outsChanged: return "outs_changed"
        case .outMissing: return "out_missing"
        case .outModified: return "out_modified"
        case .upstreamStale: return "upstream_stale"
        case .sourceInvalid: return "source_invalid"
        }
    }

    public var description: String {
        switch self {
        case .neverRun: return "never run (no entry in the lock)"
        case .forced: return "forced (--force)"
        case .alwaysChanged: return "always_changed is set"
        case let .cmdChanged(old, new):
            return "cmd changed: \(old.joined(separator: " && ")) → \(new.joined(separator: " && "))"
        case let .depChanged(path, old, new): return "dep changed: \(path) (\(old.hex.prefix(8))… → \(new.hex.prefix(8))…)"
        case let .depAdded(path): return "dep added: \(path)"
        case let .depRemoved(path): return "dep removed: \(path)"
        case let .depMissing(path): return "dep not built yet: \(path)"
        case let .paramChanged(file, key, old, new): return "param changed: \(file):\(key) \(old) → \(new)"
        case let .paramAdded(file, key, value): return "param added: \(file):\(key) = \(value)"
        case let .paramRemoved(file, key, old):
            return "param removed: \(file):\(key)" + (old.map { " (was \($0))" } ?? "")
        case let .outsChanged(added, removed):
            var parts: [String] = []
            if !added.isEmpty { parts.append("added \(added.joined(separator: ", "))") }
            if !removed.isEmpty { parts.append("removed \(removed.joined(separator: ", "))") }
            return "outs changed: " + parts.joined(separator: "; ")
        case let .outMissing(path): return "out missing: \(path)"
        case let .outModified(path, _, _): return "out modified: \(path)"
        case let .upstreamStale(stage): return "upstream stage '\(stage)' will run"
        case let .sourceInvalid(source, path, problem):
            return "source '\(source)' (\(path)) fails verification: \(problem) — repro will refuse to run"
        }
    }

    /// JSON-ready fields: `kind`, `message`, and the facts of the case.
    public var fields: [String: String] {
        var f = ["kind": kind, "message": description]
        switch self {
        case let .cmdChanged(old, new):
            f["old"] = old.joined(separator: "\n")
            f["new"] = new.joined(separator: "\n")
        case let .depChanged(path, old, new):
            f["path"] = path
            f["old"] = old.description
            f["new"] = new.description
        case let .depAdded(path), let .depRemoved(path), let .depMissing(path), let .outMissing(path):
            f["path"] = path
        case let .paramChanged(file, key, old, new):
            f["file"] = file
            f["key"] = key
            f["old"] = old.canonical
            f["new"] = new.canonical
        case let .paramAdded(file, key, value):
            f["file"] = file
            f["key"] = key
            f["new"] = value.canonical
        case let .paramRemoved(file, key, old):
            f["file"] = file
            f["key"] = key
            if let old { f["old"] = old.canonical }
        case let .outModified(path, expected, actual):
            f["path"] = path
            f["old"] = expected.description
            f["new"] = actual.description
        case let .upstreamStale(stage): f["stage"] = stage
        case let .sourceInvalid(source, path, problem):
            f["source"] = source
            f["path"] = path
            f["problem"] = problem
        case let .outsChanged(added, removed):
            f["added"] = added.joined(separator: "\n")
            f["removed"] = removed.joined(separator: "\n")
        default: break
        }
        return f
    }
}
