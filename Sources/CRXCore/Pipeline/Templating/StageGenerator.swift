import Foundation
import Yams

/// Stage generation: turns the `stages:` section as written — plain stages, `foreach`/`do`
/// groups and `matrix` groups, with `vars` and `${…}` anywhere — into plain stage definitions,
/// in definition order, before any `Stage` exists (so errors keep the file's line and column, and
/// the lock only ever sees expanded stages).
///
/// ```yaml
/// train:                         →  train@cnn, train@rnn         (foreach over a list: the items)
///   foreach: [cnn, rnn]
///   do: {cmd: python train.py ${item}}
/// eval:                          →  eval@0, eval@1              (a list of lists/dicts: indexes)
///   foreach: [{m: a}, {m: b}]         eval@small, eval@big       (a dict: its keys; ${key} too)
///   do: {cmd: ./eval ${item.m}}
/// sweep:                         →  sweep@cnn-0.1, sweep@cnn-0.01, sweep@rnn-0.1, …
///   matrix: {model: [cnn, rnn], lr: [0.1, 0.01]}                (cartesian, last axis fastest;
///   cmd: train ${item.model} --lr ${item.lr}                    a list/dict value is named
///                                                               `<axis><index>`; ${key} = `cnn-0.1`)
/// ```
/// The group's name and each generated name are both targets (`Pipeline.resolve(targets:)`).
/// Everything else follows DVC 3 (`dvc/parsing`): the context (`TemplateContext`), the
/// interpolation (`TemplateString`), `item`/`key` reserved while a group is generated, a stage's
/// own `vars` read relative to its `wdir`, `vars` themselves never interpolated, and names made with
/// DVC's renderings (`true`, `0.001`; `True` for a boolean read from a params file, as DVC does).
///
/// Params used through `${…}` whose value comes from the default `params.yaml` (not from `vars`
/// files, inline `vars`, or through `item`/`key`) are reported per stage in `trackedParams`.
struct StageGenerator {
    /// One generated stage definition.
    struct Generated {
        var name: String
        /// The foreach/matrix definition it was generated from (nil for a plain stage).
        var group: String?
        /// The definition's key in the file (the stage's location).
        var keyNode: Node
        /// The resolved stage mapping, without `vars`, `foreach`, `do` or `matrix`.
        var definition: Node
        /// Keys of the default params file read through `${…}`, with where they were read.
        var trackedParams: [(key: String, location: SourceLocation)]
    }

    /// The pipeline file (root-relative, for messages).
    let file: String
    /// Its directory, root-relative: `vars` paths and the default params file are relative to it.
    let baseDirectory: String
    let files: VariablesFiles
    let templates = TemplateCache()
    /// `params.yaml` beside the pipeline file, root-relative: the one source of tracked params.
    let defaultParams: String

    init(file: String, baseDirectory: String, root: String) {
        self.file = file
        self.baseDirectory = baseDirectory
        files = VariablesFiles(root: root)
        defaultParams = ProjectPath.resolve("params.yaml", relativeTo: baseDirectory, root: root) ?? "params.yaml"
    }

    /// Expands every definition of `stages`, with the top-level `vars` node (if any).
    func generate(_ stages: Node.Mapping, vars: Node?) throws -> [Generated] {
        var context = TemplateContext()
        if files.exists(defaultParams) {
            try located(at: SourceLocation(file: defaultParams, line: 1, column: 1), "cannot use it for templating") {
                try context.mergeFile("params.yaml", directory: baseDirectory, files: files)
            }
        }
        if let vars {
            try loadVars(vars, into: &context, directory: baseDirectory, stageName: nil, what: "'vars'")
        }
        var out: [Generated] = []
        for (keyNode, definition) in stages {
            guard case let .scalar(k) = keyNode else {
                throw DefinitionError("keys must be plain strings", at: loc(keyNode))
            }
            let name = k.string
            guard case let .mapping(map) = definition else {
                out.append(Generated(name: name, group: nil, keyNode: keyNode, definition: definition, trackedParams: []))
                continue
            }
            let keys = map.compactMap { $0.key.scalar?.string }
            if keys.contains("foreach") || keys.contains("do") {
                try validGroupName(name, keyNode)
                out += try foreach(name, keyNode: keyNode, map, context: context)
            } else if keys.contains("matrix") {
                try validGroupName(name, keyNode)
                out += try matrix(name, keyNode: keyNode, map, context: context)
            } else {
                let (node, tracked) = try resolveStage(name, map, context: context)
                out.append(Generated(name: name, group: nil, keyNode: keyNode, definition: node, trackedParams: tracked))
            }
        }
        return out
    }

    // MARK: definitions

    private func validGroupName(_ name: String, _ keyNode: Node) throws {
        guard PipelineParser.isValidStageName(name) else {
            throw DefinitionError("invalid stage name '\(name)': use letters, digits, '_', '-', '.', '@'", at: loc(keyNode))
        }
    }

    private func foreach(_ name: String, keyNode: Node, _ map: Node.Mapping, context: TemplateContext) throws -> [Generated] {
        var data: Node?, template: Node?
        for (k, v) in map {
            switch k.scalar?.string {
            case "foreach": data = v
            case "do": template = v
            default:
                throw DefinitionError("stage '\(name)': unknown key '\(k.scalar?.string ?? "?")' beside 'foreach'/'do'; "
                    + "a foreach stage has only 'foreach' (the items) and 'do' (the stage template)", at: loc(k))
            }
        }
        guard let data else { throw DefinitionError("stage '\(name)': 'do' without 'foreach'", at: loc(keyNode)) }
        guard let template else { throw DefinitionError("stage '\(name)': 'foreach' without 'do'", at: loc(keyNode)) }
        guard case let .mapping(templateMap) = template else {
            throw DefinitionError("stage '\(name)': 'do' must be a stage definition (a mapping with at least 'cmd')", at: loc(template))
        }
        let iterable = try located(at: loc(data), "stage '\(name)': failed to resolve 'foreach'") {
            try resolveData(data, context: context)
        }
        var members: [(key: String, value: TemplateValue)] = []
        let isDict: Bool
        switch iterable.kind {
        case let .dict(dict):
            isDict = true
            members = dict.map { ($0.key, $0.value) }
        case let .list(items):
            isDict = false
            if items.contains(where: \.isContainer) {
                members = items.enumerated().map { (String($0.offset), $0.element) }
            } else {
                members = Self.uniqued(items.map { (Self.name(of: $0), $0) })
            }
        default:
            throw DefinitionError("stage '\(name)': failed to resolve 'foreach': expected list/dictionary, got \(iterable.typeName)", at: loc(data))
        }
        var out: [Generated] = []
        for (key, item) in members {
            var ctx = context
            ctx.locals["item"] = item
            if isDict { ctx.locals["key"] = TemplateValue(.string(key)) }
            let generated = "\(name)@\(key)"
            let (node, tracked) = try resolveStage(generated, templateMap, context: ctx)
            out.append(Generated(name: generated, group: name, keyNode: keyNode, definition: node, trackedParams: tracked))
        }
        return out
    }

    private func matrix(_ name: String, keyNode: Node, _ map: Node.Mapping, context: TemplateContext) throws -> [Generated] {
        var matrixNode = Node("")
        var templatePairs: [(Node, Node)] = []
        for (k, v) in map {
            if k.scalar?.string == "matrix" { matrixNode = v } else { templatePairs.append((k, v)) }
        }
        guard case let .mapping(axesNode) = matrixNode else {
            throw DefinitionError("stage '\(name)': 'matrix' must be a mapping of names to lists of values", at: loc(matrixNode))
        }
        var axes: [(name: String, values: [TemplateValue])] = []
        for (k, v) in axesNode {
            guard case let .scalar(ks) = k else { throw DefinitionError("keys must be plain strings", at: loc(k)) }
            let resolved = try located(at: loc(v), "stage '\(name)': failed to resolve 'matrix.\(ks.string)'") {
                try resolveData(v, context: context)
            }
            guard case let .list(values) = resolved.kind else {
                throw DefinitionError("stage '\(name)': matrix axis '\(ks.string)' must be a list of values, got \(resolved.typeName)", at: loc(v))
            }
            axes.append((ks.string, values))
        }
        // The cartesian product, the last axis varying fastest (itertools.product).
        var combinations: [(key: String, item: TemplateDict)] = []
        if axes.allSatisfy({ !$0.values.isEmpty }) {
            var index = Array(repeating: 0, count: axes.count)
            while true {
                var item = TemplateDict()
                var fragments: [String] = []
                for (a, axis) in axes.enumerated() {
                    let v = axis.values[index[a]]
                    item[axis.name] = v
                    fragments.append(v.isContainer ? "\(axis.name)\(index[a])" : Self.name(of: v))
                }
                combinations.append((fragments.joined(separator: "-"), item))
                var a = axes.count - 1
                while a >= 0 {
                    index[a] += 1
                    if index[a] < axes[a].values.count { break }
                    index[a] = 0
                    a -= 1
                }
                if a < 0 { break }
            }
        }
        let template = Node.Mapping(templatePairs, Tags.map, .any, map.mark)
        var out: [Generated] = []
        for (key, item) in Self.uniqued(combinations.map { ($0.key, $0.item) }) {
            var ctx = context
            ctx.locals["key"] = TemplateValue(.string(key))
            ctx.locals["item"] = TemplateValue(.dict(item))
            let generated = "\(name)@\(key)"
            let (node, tracked) = try resolveStage(generated, template, context: ctx)
            out.append(Generated(name: generated, group: name, keyNode: keyNode, definition: node, trackedParams: tracked))
        }
        return out
    }

    /// Keeps the first position of each key and the last value given for it (a Python dict built
    /// from pairs).
    private static func uniqued<V>(_ pairs: [(String, V)]) -> [(key: String, value: V)] {
        var index: [String: Int] = [:]
        var out: [(key: String, value: V)] = []
        for (k, v) in pairs {
            if let i = index[k] { out[i].value = v } else { index[k] = out.count; out.append((k, v)) }
        }
        return out
    }

    /// The name fragment of a foreach/matrix value: DVC's `to_str` for values written in the
    /// pipeline file, Python's `str()` for values taken from the context (`True` for a boolean).
    private static func name(of value: TemplateValue) -> String {
        if case .literal = value.origin { return value.interpolated }
        return value.pythonString
    }

    // MARK: one stage

    /// Resolves one stage definition: its `wdir`, then its own `vars` (relative to that `wdir`),
    /// then every other key, recording the params it reads.
    private func resolveStage(_ name: String, _ map: Node.Mapping, context: TemplateContext)
        throws -> (Node, [(key: String, location: SourceLocation)]) {
        var context = context
        var directory = baseDirectory
        if let wdirNode = map.first(where: { $0.key.scalar?.string == "wdir" })?.value,
           case let .scalar(w) = wdirNode, !w.string.isEmpty {
            var text = w.string
            if TemplateString.needsProcessing(text) {
                text = try located(at: loc(wdirNode), "stage '\(name)': failed to resolve 'wdir'") {
                    let t = try templates.template(text)
                    if t.isExact { return try context.select(t.expressions[0]).value.interpolated }
                    return try t.render(key: nil) { try context.select($0).value }
                }
            }
            if let resolved = ProjectPath.resolve(text, relativeTo: baseDirectory, root: files.root) { directory = resolved }
        }
        if let varsNode = map.first(where: { $0.key.scalar?.string == "vars" })?.value {
            try loadVars(varsNode, into: &context, directory: directory, stageName: name, what: "'stages.\(name).vars'")
        }
        var tracked: [(key: String, location: SourceLocation)] = []
        var seen: Set<String> = []
        var pairs: [(Node, Node)] = []
        pairs.reserveCapacity(map.count)
        for (k, v) in map {
            guard let key = k.scalar?.string else {
                pairs.append((k, v))
                continue
            }
            if key == "vars" { continue }
            var resolver = Resolver(context: context, key: key, stage: name, file: file, defaultParams: defaultParams, templates: templates)
            let newKey = try resolver.resolve(k)
            let newValue = try resolver.resolve(v)
            pairs.append((newKey, newValue))
            for t in resolver.tracked where seen.insert(t.key).inserted { tracked.append(t) }
        }
        return (.mapping(Node.Mapping(pairs, Tags.map, map.style, map.mark)), tracked)
    }

    /// Loads a `vars` list into `context`: file entries relative to `directory`, inline mappings.
    private func loadVars(_ node: Node, into context: inout TemplateContext, directory: String, stageName: String?,
                          what: String) throws {
        let entries: [Node]
        switch node {
        case let .sequence(seq): entries = Array(seq)
        case let .scalar(s) where s.string.isEmpty || s.tag.description == Tag.Name.null.rawValue || s.string == "null" || s.string == "~":
            entries = []
        default:
            throw DefinitionError("\(what) must be a list of params files (`file.yaml`, `file.yaml:key1,key2`) or mappings", at: loc(node))
        }
        try checkNoInterpolation(node, what: what)
        for (index, entry) in entries.enumerated() {
            switch entry {
            case let .scalar(s):
                try located(at: loc(entry), "failed to parse \(what)") {
                    try context.mergeFile(s.string, directory: directory, files: files)
                }
            case .mapping:
                guard case let .dict(dict) = YAML12.value(of: entry).kind else { continue }
                let source = (stageName.map { $0 + "." } ?? "") + "vars[\(index)]"
                try located(at: loc(entry), "failed to parse \(what)") {
                    try context.mergeInline(dict, source: source)
                }
            default:
                throw DefinitionError("\(what): an entry is a params file path or a mapping of values", at: loc(entry))
            }
        }
    }

    /// DVC refuses `${…}` inside `vars` ("interpolating is not allowed").
    private func checkNoInterpolation(_ node: Node, what: String) throws {
        switch node {
        case let .scalar(s):
            if TemplateString.needsProcessing(s.string), (try? TemplateString(s.string))?.expressions.isEmpty != true {
                throw DefinitionError("failed to parse \(what): interpolating is not allowed in 'vars'", at: loc(node))
            }
        case let .sequence(seq): for n in seq { try checkNoInterpolation(n, what: what) }
        case let .mapping(map):
            for (k, v) in map {
                try checkNoInterpolation(k, what: what)
                try checkNoInterpolation(v, what: what)
            }
        case .alias: break
        }
    }

    /// Foreach data or a matrix axis: a `${…}` reference (its value, origin kept), or a literal
    /// list/mapping whose strings may hold `${…}` (no type restriction: DVC's `key` is None here).
    private func resolveData(_ node: Node, context: TemplateContext) throws -> TemplateValue {
        switch node {
        case let .scalar(s):
            guard TemplateString.needsProcessing(s.string) else { return TemplateValue(YAML12.scalar(s)) }
            let t = try templates.template(s.string)
            if t.isExact { return try context.select(t.expressions[0]).value }
            if t.expressions.isEmpty { return TemplateValue(.string(s.string.replacingOccurrences(of: "\\${", with: "${"))) }
            return TemplateValue(.string(try t.render(key: nil) { try context.select($0).value }))
        case let .sequence(seq):
            return TemplateValue(.list(try seq.map { try resolveData($0, context: context) }))
        case let .mapping(map):
            var dict = TemplateDict()
            for (k, v) in map {
                let key = try resolveData(k, context: context)
                dict[key.interpolated] = try resolveData(v, context: context)
            }
            return TemplateValue(.dict(dict))
        case .alias:
            return TemplateValue(.null)
        }
    }

    // MARK: helpers

    private func loc(_ node: Node) -> SourceLocation { node.location(in: file) }

    /// Runs `body`, turning a `TemplateError` into a located `DefinitionError` ("prefix: message").
    private func located<T>(at location: SourceLocation, _ prefix: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TemplateError {
            throw DefinitionError("\(prefix): \(error.message)", at: location)
        }
    }
}

/// Resolves the `${…}` of one top-level key of one stage (DVC's `Context.resolve` with `key`),
/// rebuilding only the nodes that change and keeping every node's position in the file.
private struct Resolver {
    let context: TemplateContext
    /// The stage key being resolved (`cmd`, `deps`, …): decides what a list or dict may become.
    let key: String
    let stage: String
    let file: String
    let defaultParams: String
    let templates: TemplateCache
    var tracked: [(key: String, location: SourceLocation)] = []

    init(context: TemplateContext, key: String, stage: String, file: String, defaultParams: String, templates: TemplateCache) {
        self.context = context
        self.key = key
        self.stage = stage
        self.file = file
        self.defaultParams = defaultParams
        self.templates = templates
    }

    mutating func resolve(_ node: Node) throws -> Node {
        switch node {
        case let .scalar(s):
            guard TemplateString.needsProcessing(s.string) else { return node }
            do {
                return try resolveScalar(s, location: node.location(in: file))
            } catch let error as TemplateError {
                throw DefinitionError("failed to parse 'stages.\(stage).\(key)': \(error.message)", at: node.location(in: file))
            }
        case let .sequence(seq):
            var items: [Node] = []
            items.reserveCapacity(seq.count)
            for item in seq { items.append(try resolve(item)) }
            return .sequence(Node.Sequence(items, seq.tag, seq.style, seq.mark))
        case let .mapping(map):
            var pairs: [(Node, Node)] = []
            pairs.reserveCapacity(map.count)
            for (k, v) in map { pairs.append((try resolve(k), try resolve(v))) }
            return .mapping(Node.Mapping(pairs, map.tag, map.style, map.mark))
        case .alias:
            return node
        }
    }

    private mutating func resolveScalar(_ s: Node.Scalar, location: SourceLocation) throws -> Node {
        let template = try templates.template(s.string)
        if template.expressions.isEmpty {
            return .scalar(Node.Scalar(s.string.replacingOccurrences(of: "\\${", with: "${"), Tags.str, s.style, s.mark))
        }
        if template.isExact {
            let value = try select(template.expressions[0], location: location)
            try TemplateString.validate(value, key: key)
            return Self.node(value, style: s.style, mark: s.mark)
        }
        let text = try template.render(key: key) { try select($0, location: location) }
        return .scalar(Node.Scalar(text, Tags.str, s.style, s.mark))
    }

    private mutating func select(_ e: TemplateString.Expression, location: SourceLocation) throws -> TemplateValue {
        let selection = try context.select(e)
        // DVC tracks values read from a params file (not inline vars); crx keeps those of the default
        // params.yaml, reached by their own key path (not through item/key, whose index paths shift
        // when a list is edited), and not dicts (DVC does not track those either).
        if !selection.throughLocals, case let .file(path, keyPath) = selection.value.origin, path == defaultParams,
           !keyPath.isEmpty {
            if case .dict = selection.value.kind {} else { tracked.append((keyPath, location)) }
        }
        return selection.value
    }

    /// A value as a YAML node at the template's position (a number stays a number).
    static func node(_ value: TemplateValue, style: Node.Scalar.Style, mark: Mark?) -> Node {
        switch value.kind {
        case .null: return .scalar(Node.Scalar("null", Tags.null, .plain, mark))
        case let .bool(b): return .scalar(Node.Scalar(b ? "true" : "false", Tags.bool, .plain, mark))
        case let .int(i): return .scalar(Node.Scalar(String(i), Tags.int, .plain, mark))
        case let .float(d): return .scalar(Node.Scalar(TemplateValue.pythonFloat(d), Tags.float, .plain, mark))
        case let .string(text): return .scalar(Node.Scalar(text, Tags.str, style == .plain ? .plain : style, mark))
        case let .list(items): return .sequence(Node.Sequence(items.map { node($0, style: .plain, mark: mark) }, Tags.seq, .any, mark))
        case let .dict(dict):
            return .mapping(Node.Mapping(dict.map { (Node.scalar(Node.Scalar($0.key, Tags.str, .plain, mark)), node($0.value, style: .plain, mark: mark)) },
                                         Tags.map, .any, mark))
        }
    }
}

/// Resolved tags shared by every generated node (a `Tag` with a definite name is never mutated;
/// creating one per node costs a `Constructor` each).
private enum Tags {
    nonisolated(unsafe) static let str = Tag(.str)
    nonisolated(unsafe) static let int = Tag(.int)
    nonisolated(unsafe) static let float = Tag(.float)
    nonisolated(unsafe) static let bool = Tag(.bool)
    nonisolated(unsafe) static let null = Tag(.null)
    nonisolated(unsafe) static let seq = Tag(.seq)
    nonisolated(unsafe) static let map = Tag(.map)
}

/// Parsed template strings, by text: a foreach/matrix template's strings are parsed once, not
/// once per generated stage.
final class TemplateCache {
    private var parsed: [String: Result<TemplateString, TemplateError>] = [:]

    func template(_ text: String) throws -> TemplateString {
        if let hit = parsed[text] { return try hit.get() }
        let result: Result<TemplateString, TemplateError>
        do { result = .success(try TemplateString(text)) } catch let e as TemplateError { result = .failure(e) }
        parsed[text] = result
        return try result.get()
    }
}
