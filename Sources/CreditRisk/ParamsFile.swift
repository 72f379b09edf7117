// ParamsFile — reads one section of params.yaml (YAML, via Yams) into a Decodable type.
//
// Each stage program declares the struct of its own section, so editing one stage's parameters
// struct changes only that stage's code. Unknown keys are ignored; missing keys are errors that name
// the section and key.
import Foundation
import Yams

public struct ParamsError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct ParamsFile {
    public let path: String
    private let root: Node

    public init(path: String) throws {
        self.path = path
        let text = try Artefacts.readText(path)
        let loaded: Node?
        do {
            loaded = try Yams.compose(yaml: text)
        } catch {
            throw ParamsError("\(path): not valid YAML: \(error)")
        }
        guard let node = loaded, node.mapping != nil else {
            throw ParamsError("\(path): the top level must be a mapping of sections")
        }
        self.root = node
    }

    /// Decodes the mapping under `key` (e.g. "model") as `T`.
    public func section<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
        guard let node = root[key] else {
            throw ParamsError("\(path): missing section `\(key)`")
        }
        do {
            return try YAMLDecoder().decode(T.self, from: node)
        } catch let error as DecodingError {
            throw ParamsError("\(path): section `\(key)`: \(ParamsFile.describe(error))")
        } catch {
            throw ParamsError("\(path): section `\(key)`: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func keyPath(_ path: [CodingKey]) -> String {
            path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            let parent = keyPath(ctx.codingPath)
            return "missing key `\(parent.isEmpty ? "" : parent + ".")\(key.stringValue)`"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "key `\(keyPath(ctx.codingPath))`: \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
