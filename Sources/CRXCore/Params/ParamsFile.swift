import Foundation
import Yams

/// A parameters file (`params.yaml` by default; YAML, JSON or TOML by its extension), read once
/// per process and shared by every stage that uses it.
public struct ParamsFile: Sendable {
    public let path: String
    public let root: ParamValue

    public init(path: String, root: ParamValue) {
        self.path = path
        self.root = root
    }

    /// Reads and parses `absolutePath`; `displayPath` names it in errors. Nil when the file is absent.
    public static func load(absolutePath: String, displayPath: String) throws -> ParamsFile? {
        guard let data = FileManager.default.contents(atPath: absolutePath) else { return nil }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DefinitionError("params file is not valid UTF-8", at: SourceLocation(file: displayPath, line: 1, column: 1))
        }
        switch (displayPath as NSString).pathExtension.lowercased() {
        case "toml":
            return ParamsFile(path: displayPath, root: try TOMLParams.parse(text, displayPath: displayPath))
        case "py":
            throw DefinitionError(ParamsFile.pythonUnsupported, at: SourceLocation(file: displayPath, line: 1, column: 1))
        default: break
        }
        let node: Node?
        do {
            node = try YAMLDocument.compose(text, file: displayPath, resolver: .basic)
        }
        guard let node else { return ParamsFile(path: displayPath, root: .dict([:])) }
        return ParamsFile(path: displayPath, root: ParamValue(node: node))
    }

    public func value(_ key: String) -> ParamValue? { root.lookup(key) }

    /// Why a DVC Python params file (`params.py`) is refused.
    static let pythonUnsupported = "Python params files (.py) are not supported: crx does not run Python to read them; "
        + "put the values in a YAML, JSON or TOML params file"

    /// Top-level keys, for whole-file params.
    public var topLevel: [String: ParamValue] {
        if case let .dict(map) = root { return map }
        return [:]
    }
}

/// Loads each params file at most once per process.
public final class ParamsCache: @unchecked Sendable {
    private let root: String
    private let files = Protected<[String: Result<ParamsFile?, DefinitionError>]>([:])

    public init(root: String) { self.root = root }

    /// The params file at a root-relative path; nil when absent.
    public func file(_ path: String) throws -> ParamsFile? {
        if let cached = files.withLock({ $0[path] }) { return try cached.get() }
        let result: Result<ParamsFile?, DefinitionError>
        do {
            result = .success(try ParamsFile.load(absolutePath: ProjectPath.join(root, path), displayPath: path))
        } catch let error as DefinitionError {
            result = .failure(error)
        }
        files.withLock { $0[path] = result }
        return try result.get()
    }
}
