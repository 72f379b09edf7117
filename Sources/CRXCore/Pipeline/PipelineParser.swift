import Foundation
import Yams

/// What a pipeline file declares.
public struct PipelineDefinition: Sendable, Equatable {
    public var stages: [Stage]
    public var sources: [Source]
    /// Files besides the pipeline file that the parse read or looked for (root-relative): its
    /// inputs for `PipelineCache`.
    public var inputs: [String] = []

    public init(stages: [Stage], sources: [Source], inputs: [String] = []) {
        self.stages = stages
        self.sources = sources
        self.inputs = inputs
    }
}

/// Reads `pipeline.yaml` (DVC's `dvc.yaml` stage schema) into validated `Stage` values.
///
/// Paths in the file are relative to the stage's `wdir`, itself relative to the pipeline file's
/// directory (as in DVC); the parser resolves them to project-root-relative paths and refuses any
/// that escape the project. Every error carries the file, line and column of the offending node.
public struct PipelineParser {
    public static let stageKeys: Set<String> = ["cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "timeout",
                                                "resources", "frozen", "always_changed", "desc", "meta"]
    public static let topLevelKeys: Set<String> = ["stages", "vars", "plots", "metrics", "params", "artifacts", "datasets", "sources"]
    static let outOptions: Set<String> = ["cache", "persist", "desc", "remote", "push", "checkpoint", "type", "labels", "meta"]
    static let plotOptions: Set<String> = ["x", "y", "template", "title", "x_label", "y_label", "header"]

    /// Display path of the file (root-relative), used in errors.
    let file: String
    /// Directory of the pipeline file, root-relative.
    let baseDirectory: String
    /// Absolute project root.
    let root: String

    public init(file: String, root: String) {
        self.file = file
        self.root = root
        baseDirectory = ProjectPath.parent(file)
    }

    public func parse(_ text: String) throws -> [Stage] { try parseDefinition(text).stages }

    /// The whole file: stages and the `sources:` section (see `SourceParser`).
    public func parseDefinition(_ text: String) throws -> PipelineDefinition {
        guard let document = try YAMLDocument.compose(text, file: file) else {
            throw DefinitionError("the pipeline file is empty: declare stages under 'stages:'", at: loc(1, 1))
        }
        guard case let .mapping(top) = document else {
            throw DefinitionError("the pipeline file must be a mapping with a 'stages:' key", at: document.location(in: file))
        }
        var stagesNode: Node?
        var varsNode: Node?
        var sources: [Source] = []
        for (key, value) in top {
            let name = try scalarKey(key)
            guard Self.topLevelKeys.contains(name) else {
                throw DefinitionError("unknown top-level key '\(name)' (expected one of: \(Self.topLevelKeys.sorted().joined(separator: ", ")))",
                                      at: key.location(in: file))
            }
            if name == "stages" { stagesNode = value }
            if name == "sources" { sources = try SourceParser(file: file, baseDirectory: baseDirectory, root: root).parse(value) }
            if name == "vars" { varsNode = value }
        }
        guard let stagesNode else { throw DefinitionError("no 'stages:' section", at: document.location(in: file)) }
        if case .scalar(let s) = stagesNode, s.string.isEmpty || stagesNode.tagName == .null {
            return PipelineDefinition(stages: [], sources: sources)
        }
        guard case let .mapping(stageMap) = stagesNode else {
            throw DefinitionError("'stages' must be a mapping of stage names to stage definitions", at: stagesNode.location(in: file))
        }
        // vars, foreach/do, matrix and ${...} are expanded first (Templating/StageGenerator.swift).
        var stages: [Stage] = []
        let generator = StageGenerator(file: file, baseDirectory: baseDirectory, root: root)
        for g in try generator.generate(stageMap, vars: varsNode) {
            var stage = try parseStage(name: g.name, keyNode: g.keyNode, node: g.definition, generated: g.group != nil)
            let paramsFile = generator.defaultParams
            for t in g.trackedParams where !stage.params.contains(where: { $0.file == paramsFile && ($0.key == nil || $0.key == t.key) }) {
                stage.params.append(.init(file: paramsFile, key: t.key, location: t.location))
            }
            stages.append(stage)
        }
        return PipelineDefinition(stages: stages, sources: sources, inputs: generator.files.touched)
    }

    private func loc(_ line: Int, _ column: Int) -> SourceLocation { SourceLocation(file: file, line: line, column: column) }

    private func scalarKey(_ node: Node) throws -> String {
        guard case let .scalar(s) = node else { throw DefinitionError("keys must be plain strings", at: node.location(in: file)) }
        return s.string
    }

    private func parseStage(name: String, keyNode: Node, node: Node, generated: Bool = false) throws -> Stage {
        let stageLoc = keyNode.location(in: file)
        guard generated || Self.isValidStageName(name) else {
            throw DefinitionError("invalid stage name '\(name)': use letters, digits, '_', '-', '.', '@'", at: stageLoc)
        }
        guard case let .mapping(map) = node else {
            throw DefinitionError("stage '\(name)' must be a mapping (with at least 'cmd')", at: node.location(in: file))
        }
        var fields: [String: (key: Node, value: Node)] = [:]
        for (k, v) in map {
            let key = try scalarKey(k)
            guard Self.stageKeys.contains(key) else {
                let hint = Self.closest(key, in: Self.stageKeys).map { " (did you mean '\($0)'?)" } ?? ""
                throw DefinitionError("stage '\(name)': unknown key '\(key)'\(hint); allowed: \(Self.stageKeys.sorted().joined(separator: ", "))",
                                      at: k.location(in: file))
            }
            fields[key] = (k, v)
        }
        guard let cmdField = fields["cmd"] else {
            throw DefinitionError("stage '\(name)' has no 'cmd'", at: stageLoc)
        }
        let cmd = try stringOrList(cmdField.value, what: "\(name).cmd")
        guard !cmd.isEmpty, cmd.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw DefinitionError("stage '\(name)': 'cmd' is empty", at: cmdField.value.location(in: file))
        }
        var wdir = baseDirectory
        if let w = fields["wdir"] {
            let text = try string(w.value, what: "\(name).wdir")
            guard let resolved = ProjectPath.resolve(text, relativeTo: baseDirectory, root: root) else {
                throw DefinitionError("stage '\(name)': wdir '\(text)' is outside the project", at: w.value.location(in: file))
            }
            wdir = resolved
        }
        func resolvePath(_ text: String, _ node: Node, _ what: String) throws -> String {
            guard !text.isEmpty else { throw DefinitionError("stage '\(name)': empty path in '\(what)'", at: node.location(in: file)) }
            if let scheme = text.range(of: "://"), text[..<scheme.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" }) {
                throw DefinitionError("stage '\(name)': \(what) '\(text)' is a URL; external (remote) deps and outs are not supported yet — "
                    + "download the data in a stage of its own and depend on the local file", at: node.location(in: file))
            }
            guard let path = ProjectPath.resolve(text, relativeTo: wdir, root: root), !path.isEmpty else {
                throw DefinitionError("stage '\(name)': \(what) path '\(text)' is outside the project root; "
                    + "crx only tracks files inside the project", at: node.location(in: file))
            }
            if path == ".crx" || path.hasPrefix(".crx/") || path == ".git" || path.hasPrefix(".git/") {
                throw DefinitionError("stage '\(name)': \(what) path '\(text)' is inside crx's or git's own directory", at: node.location(in: file))
            }
            return path
        }
        var deps: [Stage.Dep] = []
        if let d = fields["deps"] {
            for item in try list(d.value, what: "\(name).deps") {
                let text = try string(item, what: "\(name).deps entry")
                deps.append(.init(path: try resolvePath(text, item, "deps"), location: item.location(in: file)))
            }
        }
        var outs: [Stage.Out] = []
        for kind in [Stage.Out.Kind.out, .metric, .plot] {
            guard let field = fields[kind.rawValue] else { continue }
            for item in try list(field.value, what: "\(name).\(kind.rawValue)") {
                outs.append(try parseOut(item, kind: kind, stage: name, resolve: resolvePath))
            }
        }
        var params: [Stage.ParamRef] = []
        if let p = fields["params"] {
            let defaultFile = ProjectPath.resolve("params.yaml", relativeTo: wdir, root: root) ?? "params.yaml"
            for item in try list(p.value, what: "\(name).params") {
                switch item {
                case let .scalar(s):
                    for key in s.string.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !key.isEmpty {
                        params.append(.init(file: defaultFile, key: key, location: item.location(in: file)))
                    }
                case let .mapping(m):
                    for (fk, fv) in m {
                        let fileText = try scalarKey(fk)
                        let paramsFile = try resolvePath(fileText, fk, "params")
                        if case let .scalar(s) = fv, fv.tagName == .null || s.string.isEmpty {
                            params.append(.init(file: paramsFile, key: nil, location: fk.location(in: file)))
                        } else {
                            for keyNode in try list(fv, what: "\(name).params.\(fileText)") {
                                params.append(.init(file: paramsFile, key: try string(keyNode, what: "params key"),
                                                    location: keyNode.location(in: file)))
                            }
                        }
                    }
                default:
                    throw DefinitionError("stage '\(name)': a params entry is a key, or a mapping 'file.yaml: [keys]'", at: item.location(in: file))
                }
            }
        }
        func bool(_ key: String) throws -> Bool {
            guard let f = fields[key] else { return false }
            guard case .scalar = f.value, let b = f.value.bool else {
                throw DefinitionError("stage '\(name)': '\(key)' must be true or false", at: f.value.location(in: file))
            }
            return b
        }
        var desc: String?
        if let d = fields["desc"] { desc = try string(d.value, what: "\(name).desc") }
        var timeout: Double?
        if let t = fields["timeout"] {
            guard case let .scalar(scalar) = t.value, let seconds = Self.seconds(scalar.string), seconds > 0 else {
                throw DefinitionError("stage '\(name)': 'timeout' must be a positive number of seconds or a duration like 90s, 30m, 2h",
                                      at: t.value.location(in: file))
            }
            timeout = seconds
        }
        var stage = Stage(name: name, location: stageLoc, cmd: cmd, wdir: wdir, deps: deps, params: params, outs: outs,
                     frozen: try bool("frozen"), alwaysChanged: try bool("always_changed"), desc: desc)
        stage.timeout = timeout
        if let r = fields["resources"] { stage.resources = try parseResources(r.value, stage: name) }
        return stage
    }

    /// `resources: {cpus, mem, gpus, time, partition}` (see StageResources).
    private func parseResources(_ node: Node, stage: String) throws -> StageResources {
        guard case let .mapping(map) = node else {
            throw DefinitionError("stage '\(stage)': 'resources' must be a mapping like {cpus: 4, mem: 8G, gpus: 1, time: 2h, partition: gpu}",
                                  at: node.location(in: file))
        }
        var resources = StageResources(location: node.location(in: file))
        for (k, v) in map {
            let key = try scalarKey(k)
            guard StageResources.keys.contains(key) else {
                let hint = Self.closest(key, in: StageResources.keys).map { " (did you mean '\($0)'?)" } ?? ""
                throw DefinitionError("stage '\(stage)': unknown resource '\(key)'\(hint); allowed: \(StageResources.keys.sorted().joined(separator: ", "))",
                                      at: k.location(in: file))
            }
            guard case let .scalar(scalar) = v, !scalar.string.isEmpty else {
                throw DefinitionError("stage '\(stage)': resource '\(key)' must be a single value", at: v.location(in: file))
            }
            let text = scalar.string
            func bad(_ expected: String) -> DefinitionError {
                DefinitionError("stage '\(stage)': resources.\(key) '\(text)' is not \(expected)", at: v.location(in: file))
            }
            switch key {
            case "cpus":
                guard let n = Int(text), n > 0 else { throw bad("a positive whole number of cores") }
                resources.cpus = n
            case "mem":
                guard let mib = StageResources.mebibytes(text) else { throw bad("a memory size like 512M, 8G or 1T") }
                resources.memoryMiB = mib
            case "gpus":
                guard StageResources.isValidGPUs(text) else { throw bad("a GPU count like 2 or type:count like a100:2") }
                resources.gpus = text
            case "time":
                guard let seconds = StageResources.seconds(text) else {
                    throw bad("a time limit like 90s, 30m, 2h, 1d, or Slurm's MM, HH:MM:SS, D-HH:MM")
                }
                resources.time = seconds
            default:
                guard StageResources.isValidPartition(text) else { throw bad("a partition name (letters, digits, _ - .)") }
                resources.partition = text
            }
        }
        return resources
    }

    private func parseOut(_ item: Node, kind: Stage.Out.Kind, stage: String,
                          resolve: (String, Node, String) throws -> String) throws -> Stage.Out {
        var cache = true, persist = false
        let pathText: String
        let pathNode: Node
        switch item {
        case let .scalar(s):
            pathText = s.string
            pathNode = item
        case let .mapping(m):
            guard m.count == 1, let (k, v) = m.first else {
                throw DefinitionError("stage '\(stage)': an \(kind.rawValue) entry with options is a one-key mapping 'path: {options}'",
                                      at: item.location(in: file))
            }
            pathText = try scalarKey(k)
            pathNode = k
            if case let .mapping(options) = v {
                for (ok, ov) in options {
                    let option = try scalarKey(ok)
                    let allowed = kind == .plot ? Self.outOptions.union(Self.plotOptions) : Self.outOptions
                    guard allowed.contains(option) else {
                        throw DefinitionError("stage '\(stage)': unknown option '\(option)' for \(kind.rawValue) '\(pathText)'; allowed: \(allowed.sorted().joined(separator: ", "))",
                                              at: ok.location(in: file))
                    }
                    if option == "cache" || option == "persist" {
                        guard let b = ov.bool else {
                            throw DefinitionError("stage '\(stage)': '\(option)' must be true or false", at: ov.location(in: file))
                        }
                        if option == "cache" { cache = b } else { persist = b }
                    }
                }
            } else if !(v.tagName == .null || v.scalar?.string.isEmpty == true) {
                throw DefinitionError("stage '\(stage)': options of '\(pathText)' must be a mapping", at: v.location(in: file))
            }
        default:
            throw DefinitionError("stage '\(stage)': an \(kind.rawValue) entry must be a path or 'path: {options}'", at: item.location(in: file))
        }
        return Stage.Out(path: try resolve(pathText, pathNode, kind.rawValue), kind: kind, cache: cache, persist: persist,
                         location: pathNode.location(in: file))
    }

    private func string(_ node: Node, what: String) throws -> String {
        guard case let .scalar(s) = node else {
            throw DefinitionError("'\(what)' must be a string", at: node.location(in: file))
        }
        return s.string
    }

    private func list(_ node: Node, what: String) throws -> [Node] {
        switch node {
        case let .sequence(seq): return Array(seq)
        case let .scalar(s) where node.tagName == .null || s.string.isEmpty: return []
        default: throw DefinitionError("'\(what)' must be a list", at: node.location(in: file))
        }
    }

    private func stringOrList(_ node: Node, what: String) throws -> [String] {
        switch node {
        case let .scalar(s): return [s.string]
        case let .sequence(seq): return try seq.map { try string($0, what: what) }
        default: throw DefinitionError("'\(what)' must be a string or a list of strings", at: node.location(in: file))
        }
    }

    /// `90`, `90s`, `30m`, `2h`, `1d` → seconds.
    static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let n = Double(t) { return n }
        guard let unit = t.last, let n = Double(t.dropLast()) else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        default: return nil
        }
    }

    static func isValidStageName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "_-.@+".unicodeScalars.contains($0)
        } && !name.contains(":") && !name.contains("/")
    }

    /// The allowed key nearest to a typo (edit distance ≤ 2).
    static func closest(_ word: String, in candidates: Set<String>) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0 ... b.count)
            for i in 1 ... max(a.count, 1) where !a.isEmpty {
                var prev = row[0]
                row[0] = i
                for j in stride(from: 1, through: b.count, by: 1) {
                    let cur = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                    prev = cur
                }
            }
            return row[b.count]
        }
        return candidates.map { ($0, distance(Array(word), Array($0))) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }
}
