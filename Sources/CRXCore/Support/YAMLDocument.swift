import Yams

/// Parsing YAML text into a node tree with positions, turning parser errors into
/// `DefinitionError`s that name the file, line and column.
public enum YAMLDocument {
    public static func compose(_ text: String, file: String) throws -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw DefinitionError(for: error, file: file)
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
