/// One stage of a pipeline, validated and with every path resolved relative to the project root.
public struct Stage: Sendable, Hashable {
    public struct Dep: Sendable, Hashable {
        public var path: String
        public var location: SourceLocation
    }

    public struct Out: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable { case out = "outs", metric = "metrics", plot = "plots" }
        public var path: String
        public var kind: Kind
        /// Stored in the cache (`cache: false` outs are hashed and locked, not cached).
        public var cache: Bool
        /// Not deleted before the command runs.
        public var persist: Bool
        public var location: SourceLocation
    }

    /// A params key (`file` root-relative; `key` nil for "every key of the file").
    public struct ParamRef: Sendable, Hashable {
        public var file: String
        public var key: String?
        public var location: SourceLocation
    }

    public var name: String
    public var location: SourceLocation
    /// Commands run in order through `/bin/sh -c`; the stage fails at the first non-zero exit.
    public var cmd: [String]
    /// Working directory, root-relative ("" is the root).
    public var wdir: String
    public var deps: [Dep]
    public var params: [ParamRef]
    public var outs: [Out]
    public var frozen: Bool
    public var alwaysChanged: Bool
    public var desc: String?
    /// Seconds the stage's commands may run before they are stopped and the stage fails (`timeout:`).
    public var timeout: Double? = nil
    /// What the stage needs to run (`resources:`): sbatch options on a cluster, cores of the local budget.
    public var resources = StageResources()

    /// The params files this stage reads, with the keys it uses (nil: the whole file), in order.
    public var paramsByFile: [(file: String, keys: [String]?)] {
        var order: [String] = []
        var keys: [String: [String]?] = [:]
        for p in params {
            if keys[p.file] == nil { order.append(p.file); keys[p.file] = .some([]) }
            if let key = p.key {
                if case .some(.some(var list)) = keys[p.file] {
                    if !list.contains(key) { list.append(key) }
                    keys[p.file] = .some(list)
                }
            } else {
                keys[p.file] = .some(nil)
            }
        }
        return order.map { ($0, keys[$0]!) }
    }
}
