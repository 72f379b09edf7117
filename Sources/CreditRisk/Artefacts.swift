// Artefacts — reading inputs and writing deterministic outputs.
//
// Every artefact a stage writes goes through here: JSON with sorted keys, pretty-printed, slashes
// unescaped, a final newline; text written atomically (temporary file, then rename) with its parent
// directory created. No timestamps, host names or absolute paths are ever written.
import Foundation

public struct ArtefactError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum Artefacts {
    /// Reads a UTF-8 text file, with a readable error when it is missing.
    public static func readText(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ArtefactError("missing input file: \(path)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let text = String(data: data, encoding: .utf8) else {
            throw ArtefactError("\(path) is not UTF-8 text")
        }
        return text
    }

    /// Reads a file's raw bytes.
    public static func readData(_ path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ArtefactError("missing input file: \(path)")
        }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    public static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    /// Writes bytes atomically, creating the parent directory.
    public static func writeData(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    public static func writeText(_ text: String, to path: String) throws {
        try writeData(Data(text.utf8), to: path)
    }

    /// The one JSON encoder of the pipeline: sorted keys, pretty-printed, `/` left as is.
    public static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    /// Encodes a value as deterministic JSON text ending in a newline.
    public static func jsonData<T: Encodable>(_ value: T) throws -> Data {
        var data = try jsonEncoder().encode(value)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    public static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        try writeData(try jsonData(value), to: path)
    }

    public static func readJSON<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let data = try readData(path)
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw ArtefactError("cannot read \(path) as \(type): \(error)")
        }
    }
}
