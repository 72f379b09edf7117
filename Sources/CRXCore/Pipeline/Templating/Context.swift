/// The variables a `${…}` expression can read while one stage is generated (DVC's `Context`).
///
/// Built in this order, as DVC does:
/// 1. `params.yaml` beside the pipeline file, when it exists (whole file);
/// 2. the top-level `vars` entries, in order: a params file (`config.yaml`), some of its top-level
///    keys (`config.yaml:train,eval`), or an inline mapping;
/// 3. for one stage, that stage's own `vars` (files relative to the stage's `wdir`), on a copy;
/// 4. for a foreach/matrix stage, `item` (and `key`) on top — reserved while that stage is
///    generated: no `vars` may define them.
///
/// Merging is DVC's: mappings merge key by key, recursively; any other value already defined
/// (a scalar, a list, or a mapping meeting a non-mapping) is a conflict, reported with both
/// sources (`cannot redefine 'train.lr' from 'vars[1]' as it already exists in 'params.yaml'`).
/// A file is read once: naming it again whole is ignored; loading it whole after some keys of it,
/// or some keys again, is an error.
struct TemplateContext {
    /// The variables, by top-level name.
    private(set) var variables = TemplateDict()
    /// Files loaded so far (root-relative) and the keys taken from each (nil: the whole file).
    private(set) var imports: [String: [String]?] = [:]
    /// `item`/`key` of the foreach/matrix stage being generated (looked up before `variables`).
    var locals = TemplateDict()

    /// The result of a lookup: the value and whether it was reached through `item`/`key`.
    struct Selection {
        var value: TemplateValue
        var throughLocals: Bool
    }

    /// Follows an expression's key path (`a.b`, `list.0`); "Could not find 'a.b'" when absent.
    func select(_ expression: TemplateString.Expression) throws -> Selection {
        let path = expression.path
        var throughLocals = false
        var current: TemplateValue
        if let local = locals[path[0]] {
            current = local
            throughLocals = true
        } else if let value = variables[path[0]] {
            current = value
        } else {
            let known = (locals.keys + variables.keys)
            let hint = known.isEmpty ? "no variables are defined (params.yaml is absent and there are no 'vars')"
                : "defined: " + known.prefix(12).joined(separator: ", ") + (known.count > 12 ? ", …" : "")
            throw TemplateError("Could not find '\(expression.inner)' (\(hint))")
        }
        for step in path.dropFirst() {
            switch current.kind {
            case let .dict(dict):
                guard let next = dict[step] else {
                    let keys = dict.keys
                    throw TemplateError("Could not find '\(expression.inner)': no key '\(step)'"
                        + (keys.isEmpty ? "" : " (keys: \(keys.prefix(12).joined(separator: ", "))\(keys.count > 12 ? ", …" : ""))"))
                }
                current = next
            case let .list(items):
                guard var i = Self.pythonInt(step) else {
                    throw TemplateError("Could not find '\(expression.inner)': '\(step)' is not a list index")
                }
                if i < 0 { i += items.count }
                guard items.indices.contains(i) else {
                    throw TemplateError("Could not find '\(expression.inner)': index \(step) is out of range (the list has \(items.count) items)")
                }
                current = items[i]
            default:
                throw TemplateError("Could not find '\(expression.inner)': '\(step)' is looked up in a \(current.typeName) value")
            }
        }
        return Selection(value: current, throughLocals: throughLocals)
    }

    /// Python's `int()` of a list index (`"2"`, `"-1"`, `"+0"`).
    static func pythonInt(_ s: String) -> Int? {
        var t = Substring(s)
        var negative = false
        if t.first == "-" || t.first == "+" { negative = t.first == "-"; t = t.dropFirst() }
        guard !t.isEmpty, t.allSatisfy({ ("0"..."9").contains($0) }), let v = Int(t) else { return nil }
        return negative ? -v : v
    }

    // MARK: building

    /// Merges the top-level entries of `update` (DVC's `merge_update`, never overwriting).
    mutating func merge(_ update: TemplateDict, describedAs what: String? = nil) throws {
        let reserved = update.keys.filter { locals[$0] != nil }
        if !reserved.isEmpty {
            let keys = reserved.map { "'\($0)'" }.joined(separator: " and ")
            throw TemplateError("attempted to modify reserved key\(reserved.count > 1 ? "s" : "") \(keys)"
                + (what.map { " in '\($0)'" } ?? ""))
        }
        try Self.merge(into: &variables, update)
    }

    private static func merge(into target: inout TemplateDict, _ update: TemplateDict) throws {
        for (key, value) in update {
            guard let existing = target[key] else {
                target[key] = value
                continue
            }
            if case var .dict(into) = existing.kind, case let .dict(more) = value.kind {
                try merge(into: &into, more)
                target[key] = TemplateValue(.dict(into), origin: existing.origin)
                continue
            }
            throw TemplateError("cannot redefine '\(describe(value.origin, key: key).path)' from '\(describe(value.origin, key: key).source)'"
                + " as it already exists in '\(describe(existing.origin, key: key).source)'")
        }
    }

    private static func describe(_ origin: TemplateValue.Origin, key: String) -> (source: String, path: String) {
        switch origin {
        case let .file(path, keyPath): return (path, keyPath)
        case let .inline(source, keyPath): return (source, keyPath)
        case .literal: return ("<local>", key)
        }
    }

    /// Loads one `vars` file entry, `path` or `path:key1,key2` (relative to `directory`), DVC's `merge_from`.
    mutating func mergeFile(_ entry: String, directory: String, files: VariablesFiles) throws {
        let colon = entry.firstIndex(of: ":")
        let pathText = colon.map { String(entry[..<$0]) } ?? entry
        let keysText = colon.map { String(entry[entry.index(after: $0)...]) } ?? ""
        let selected: [String]? = {
            let keys = keysText.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
            return keys.isEmpty ? nil : keys
        }()
        let path = try files.resolve(pathText, relativeTo: directory)
        if let imported = imports[path] {
            if selected == nil && imported == nil { return }  // the whole file again: fine
            if selected == nil, imported != nil {
                throw TemplateError("cannot load '\(entry)' as it's partially loaded already")
            }
            if selected != nil, imported == nil {
                throw TemplateError("cannot partially load '\(entry)' as it's already loaded.")
            }
            if let selected, let imported, !Set(selected).isDisjoint(with: imported) {
                throw TemplateError("cannot load '\(entry)' as it's partially loaded already")
            }
        }
        let all = try files.load(path)
        var data = TemplateDict()
        if let selected {
            for key in selected {
                guard let value = all[key] else { throw TemplateError("could not find '\(key)' in '\(path)'") }
                data[key] = value
            }
        } else {
            data = all
        }
        try merge(data, describedAs: entry)
        if let selected, case let .some(.some(existing)) = imports[path] {
            imports[path] = .some(existing + selected)
        } else if imports[path] == nil {
            imports[path] = .some(selected)
        }
    }

    /// Merges an inline `vars` mapping (`source`: `vars[0]` or `stage.vars[0]`, as DVC names it).
    mutating func mergeInline(_ dict: TemplateDict, source: String) throws {
        var tagged = TemplateDict()
        for (k, v) in dict { tagged[k] = v.withOrigin({ .inline(source: source, key: $0) }, path: k) }
        try merge(tagged)
    }
}
