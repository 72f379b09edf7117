import Yams
internal import CYaml

/// Parsing YAML text into a node tree with positions, turning parser errors into
/// `DefinitionError`s that name the file, line and column.
public enum YAMLDocument {
    /// How many nodes aliases may add when expanded, in all. Far above what any real pipeline, params
    /// file or lock uses (a merge key adds a few), far below an alias bomb ("billion laughs": ten
    /// levels of ten aliases expand to 10^10 nodes and would hang or exhaust memory on first use).
    public static let maxAliasExpansion = 100_000

    /// `resolver`: `.basic` when the caller resolves scalar types itself (see `ParamValue.tag(of:in:)`).
    public static func compose(_ text: String, file: String, resolver: Resolver = .default) throws -> Node? {
        try checkAliasExpansion(text, file: file)
        do {
            return try Yams.compose(yaml: text, resolver)
        } catch let error as YamlError {
            throw DefinitionError(for: error, file: file)
        }
    }
}

extension YAMLDocument {
    /// Counts, in one pass over libyaml's events (nothing is built), the nodes every alias stands for,
    /// and refuses the document once they exceed `maxAliasExpansion`. Syntax errors are left to the
    /// composer, which reports them with their position.
    static func checkAliasExpansion(_ text: String, file: String) throws {
        guard text.contains("*") else { return }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var sizes: [String: Int] = [:]          // anchor → nodes it expands to
            var open: [(anchor: String?, nodes: Int)] = []
            var added = 0
            func finish(_ anchor: String?, _ nodes: Int) {
                if let anchor { sizes[anchor] = nodes }
                if !open.isEmpty { open[open.count - 1].nodes += nodes }
            }
            func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT: return
                case YAML_SCALAR_EVENT: finish(name(event.data.scalar.anchor), 1)
                case YAML_SEQUENCE_START_EVENT: open.append((name(event.data.sequence_start.anchor), 1))
                case YAML_MAPPING_START_EVENT: open.append((name(event.data.mapping_start.anchor), 1))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if let last = open.popLast() { finish(last.anchor, last.nodes) }
                case YAML_ALIAS_EVENT:
                    let size = name(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1
                    added += size
                    if added > maxAliasExpansion {
                        throw DefinitionError("YAML aliases expand to more than \(maxAliasExpansion) nodes here (an alias bomb?); "
                            + "write the values out or use fewer nested aliases",
                            at: SourceLocation(file: file, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1))
                    }
                    finish(nil, size)
                default: continue
                }
            }
        }
    }
}

extension DefinitionError {
    init(for error: YamlError, file: String) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let ctx = context.map { " (\($0.text))" } ?? ""
            self.init("invalid YAML: \(problem)\(ctx)", at: SourceLocation(file: file, line: mark.line, column: mark.column))
        case let .duplicatedKeysInMapping(duplicates, context):
            self.init("duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in mapping",
                      at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column))
        case let .reader(problem, offset, _, _):
            self.init("unreadable YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "") (is the file UTF-8 text?)",
                      at: SourceLocation(file: file, line: 1, column: 1))
        default:
            self.init("invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}

extension Node {
    /// The node's position as a `SourceLocation` in `file`.
    func location(in file: String) -> SourceLocation {
        let mark: Mark?
        switch self {
        case let .scalar(s): mark = s.mark
        case let .mapping(m): mark = m.mark
        case let .sequence(s): mark = s.mark
        case let .alias(a): mark = a.mark
        }
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }
}

extension Node {
    /// The node's resolved tag (YAML 1.1 core schema: null, bool, int, float, str, …).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
