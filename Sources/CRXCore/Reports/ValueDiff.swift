import Foundation

/// Params and metrics compared between two states (git revisions or the workspace), in DVC's
/// shape: `{"file": {"key": {"old", "new", "diff"}}}` (`diff` only for numbers).
public enum ValueDiff {
    /// A flattened file: dotted key → value (leaves only).
    public typealias Flat = [String: ParamValue]

    public static func flatten(_ value: ParamValue, prefix: String = "") -> Flat {
        switch value {
        case let .dict(map):
            var out: Flat = [:]
            for (k, v) in map { out.merge(flatten(v, prefix: prefix.isEmpty ? k : prefix + "." + k)) { a, _ in a } }
            return out
        default:
            return prefix.isEmpty ? [:] : [prefix: value]
        }
    }

    public struct Change: Sendable, Equatable {
        public var old: ParamValue?
        public var new: ParamValue?
        public var diff: Double? {
            guard let a = old?.number, let b = new?.number else { return nil }
            return b - a
        }
    }

    /// Changed keys per file (all keys with `all`).
    public static func diff(old: [String: Flat], new: [String: Flat], all: Bool = false) -> [String: [String: Change]] {
        var result: [String: [String: Change]] = [:]
        for file in Set(old.keys).union(new.keys) {
            let a = old[file] ?? [:], b = new[file] ?? [:]
            for key in Set(a.keys).union(b.keys) where all || a[key] != b[key] {
                result[file, default: [:]][key] = Change(old: a[key], new: b[key])
            }
        }
        return result
    }

    public static func json(_ diff: [String: [String: Change]]) -> [String: Any] {
        diff.mapValues { keys in
            keys.mapValues { c -> Any in
                var o: [String: Any] = ["old": c.old?.jsonObject ?? NSNull(), "new": c.new?.jsonObject ?? NSNull()]
                if let d = c.diff { o["diff"] = (d * 1e12).rounded() / 1e12 }
                return o
            }
        }
    }

    /// A Markdown table (`--md`) or an aligned text table.
    public static func table(_ diff: [String: [String: Change]], oldName: String, newName: String, markdown: Bool) -> String {
        var rows: [[String]] = [["Path", "Key", oldName, newName, "Change"]]
        for file in diff.keys.sorted() {
            for key in diff[file]!.keys.sorted() {
                let c = diff[file]![key]!
                rows.append([file, key, c.old?.canonical ?? "-", c.new?.canonical ?? "-", c.diff.map { String(format: "%+g", $0) } ?? "-"])
            }
        }
        if markdown {
            var out = "| " + rows[0].joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: 5) + "\n"
            for r in rows.dropFirst() { out += "| " + r.joined(separator: " | ") + " |\n" }
            return out
        }
        let widths = (0 ..< 5).map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { r in
            r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

extension ParamValue {
    /// The value for `JSONSerialization` (non-finite numbers as their YAML spelling).
    public var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case let .bool(b): return b
        case let .int(i): return i
        case let .double(d): return d.isFinite ? d : canonical
        case let .string(s): return s
        case let .list(items): return items.map(\.jsonObject)
        case let .dict(map): return map.mapValues(\.jsonObject)
        }
    }

    /// The value as a number, when it is one.
    public var number: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }
}

/// Reads the params and metrics of a project at a git revision or in the workspace.
public struct RevisionReader: Sendable {
    public let workspace: Workspace
    public let git: Git

    public init(workspace: Workspace) {
        self.workspace = workspace
        git = Git(root: workspace.root)
    }

    /// The content of a root-relative file in the workspace (`revision` nil) or at a revision.
    public func read(_ path: String, at revision: String?) throws -> Data? {
        if let revision { return try git.show(path, at: revision) }
        return FileManager.default.contents(atPath: ProjectPath.join(workspace.root, path))
    }

    public func pipeline(at revision: String?) throws -> Pipeline? {
        guard let data = try read(workspace.pipelineFile, at: revision) else { return nil }
        let definition = try PipelineParser(file: workspace.pipelineFile, root: workspace.root)
            .parseDefinition(String(decoding: data, as: UTF8.self))
        return try Pipeline(file: workspace.pipelineFile, stages: definition.stages, sources: definition.sources)
    }

    func parse(_ data: Data, file: String) -> ParamValue? {
        guard let text = String(data: data, encoding: .utf8), let node = try? YAMLDocument.compose(text, file: file) else { return nil }
        return ParamValue(node: node)
    }

    /// The params the pipeline's stages use, flattened per file.
    public func params(at revision: String?) throws -> [String: ValueDiff.Flat] {
        guard let pipeline = try pipeline(at: revision) else { return [:] }
        var result: [String: ValueDiff.Flat] = [:]
        for stage in pipeline.stages {
            for (file, keys) in stage.paramsByFile {
                guard let data = try read(file, at: revision), let root = parse(data, file: file) else { continue }
                if let keys {
                    for key in keys {
                        guard let v = root.lookup(key) else { continue }
                        let flat = ValueDiff.flatten(v, prefix: key)
                        result[file, default: [:]].merge(flat.isEmpty ? [key: v] : flat) { a, _ in a }
                    }
                } else {
                    result[file, default: [:]].merge(ValueDiff.flatten(root)) { a, _ in a }
                }
            }
        }
        return result
    }

    /// The numeric and scalar leaves of every metrics file the pipeline declares.
    public func metrics(at revision: String?) throws -> [String: ValueDiff.Flat] {
        guard let pipeline = try pipeline(at: revision) else { return [:] }
        var result: [String: ValueDiff.Flat] = [:]
        for stage in pipeline.stages {
            for out in stage.outs where out.kind == .metric {
                guard let data = try read(out.path, at: revision), let root = parse(data, file: out.path) else { continue }
                result[out.path] = ValueDiff.flatten(root).filter {
                    if case .list = $0.value { return false }
                    return true
                }
            }
        }
        return result
    }
}
