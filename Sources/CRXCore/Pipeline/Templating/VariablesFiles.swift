import Foundation
import Yams

/// The files templating reads variables from — the default `params.yaml` and each `vars` file —
/// each read once per pipeline parse, by extension: YAML (ruamel's YAML 1.2 rules, see `YAML12`),
/// JSON (read as YAML, which keeps key order), TOML (`TOMLParams`; keys sorted). A Python params
/// file is refused with a clear error. The top level must be a mapping (DVC: "expected a
/// dictionary"). Every value remembers the file and key path it came from (`TemplateValue.Origin`).
final class VariablesFiles {
    /// Absolute project root.
    let root: String
    private var cache: [String: Result<TemplateDict, Error>] = [:]
    /// Every root-relative path looked for or read, in order: the inputs of the parse besides the
    /// pipeline file (`PipelineCache` keys on them).
    private(set) var touched: [String] = []

    init(root: String) { self.root = root }

    /// A `vars` path (relative to `directory`, root-relative) as a root-relative path.
    func resolve(_ path: String, relativeTo directory: String) throws -> String {
        guard !path.isEmpty else { throw TemplateError("empty path in 'vars'") }
        guard let resolved = ProjectPath.resolve(path, relativeTo: directory, root: root), !resolved.isEmpty else {
            throw TemplateError("vars file '\(path)' is outside the project root; crx only reads files inside the project")
        }
        return resolved
    }

    func exists(_ path: String) -> Bool {
        touched.append(path)
        return FileManager.default.fileExists(atPath: ProjectPath.join(root, path))
    }

    /// The file's top-level mapping, every value tagged with its origin.
    func load(_ path: String) throws -> TemplateDict {
        if let cached = cache[path] { return try cached.get() }
        touched.append(path)
        let result = Result { try read(path) }
        cache[path] = result
        return try result.get()
    }

    private func read(_ path: String) throws -> TemplateDict {
        let absolute = ProjectPath.join(root, path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw TemplateError("'\(path)' does not exist")
        }
        if isDirectory.boolValue { throw TemplateError("'\(path)' is a directory") }
        guard let data = FileManager.default.contents(atPath: absolute) else { throw TemplateError("cannot read '\(path)'") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DefinitionError("params file is not valid UTF-8", at: SourceLocation(file: path, line: 1, column: 1))
        }
        let value: TemplateValue
        switch (path as NSString).pathExtension.lowercased() {
        case "toml":
            value = TemplateValue(param: try TOMLParams.parse(text, displayPath: path))
        case "py":
            throw DefinitionError(ParamsFile.pythonUnsupported, at: SourceLocation(file: path, line: 1, column: 1))
        default:
            guard let node = try YAMLDocument.compose(text, file: path) else { return TemplateDict() }
            value = YAML12.value(of: node)
        }
        guard case let .dict(dict) = value.withOrigin({ .file(path: path, key: $0) }, path: "").kind else {
            throw TemplateError("expected a dictionary, got '\(value.typeName)' in file '\(path)'")
        }
        return dict
    }
}
