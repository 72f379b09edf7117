import Foundation

/// Deterministic JSON for reports: sorted keys, two-space indentation, `/` unescaped, trailing
/// newline; written atomically. The same values always give the same bytes.
public enum JSONReport {
    public static func encode(_ value: Any) throws -> [UInt8] {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        var text = String(decoding: data, as: UTF8.self)
        // Foundation on Linux writes empty containers across lines; keep them compact. (A raw newline
        // never occurs inside a JSON string, so only real empty containers match.)
        text = text.replacingOccurrences(of: #"\[\n[ \n]*\]"#, with: "[]", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\{\n[ \n]*\}"#, with: "{}", options: .regularExpression)
        return Array((text + "\n").utf8)
    }

    public static func write(_ value: Any, to path: String) throws {
        try LocalFileSystem().writeAtomically(try encode(value), to: path)
    }

    public static func read(_ path: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// JSON null for a missing optional.
    public static func orNull(_ value: Any?) -> Any { value ?? NSNull() }
}
