import Foundation

/// Deterministic JSON for reports: sorted keys, two-space indentation, `/` unescaped, trailing
/// newline; written atomically. The same values always give the same bytes.
///
/// The bytes are those of `JSONSerialization` with `[.prettyPrinted, .sortedKeys,
/// .withoutEscapingSlashes]` (empty containers made compact). `encode` writes them itself for the
/// values reports are made of (strings, integers, doubles, booleans, nulls, arrays, string-keyed
/// dictionaries), ordering keys with Foundation's own comparison but sorting each distinct key set
/// once — Foundation's writer sorted every dictionary with a locale-aware comparison and was most of
/// the cost of writing the lineage and the run log. Any other value goes through Foundation.
public enum JSONReport {
    public static func encode(_ value: Any) throws -> [UInt8] {
        var writer = Writer()
        if value is [String: Any] || value is [Any], writer.write(value, indent: 0) {
            writer.out.append(10)
            return writer.out
        }
        return try foundationEncode(value)
    }

    /// `value` on one line, without its newline (no whitespace between tokens, keys sorted as
    /// `encode` sorts them): a record of an append-only journal.
    public static func encodeLine(_ value: [String: Any]) throws -> [UInt8] {
        var writer = Writer(capacity: 512)
        writer.compact = true
        if !writer.write(value, indent: 0) {
            writer.out = Array(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
        }
        return writer.out
    }

    /// The reference encoding, through `JSONSerialization`.
    static func foundationEncode(_ value: Any) throws -> [UInt8] {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        var text = String(decoding: data, as: UTF8.self)
        // Foundation on Linux writes empty containers across lines; keep them compact. (A raw newline
        // never occurs inside a JSON string, so only real empty containers match.)
        text = text.replacingOccurrences(of: #"\[\n[ \n]*\]"#, with: "[]", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\{\n[ \n]*\}"#, with: "{}", options: .regularExpression)
        return Array((text + "\n").utf8)
    }

    /// `value` as `encode` writes it nested at depth `indent` (its first line unindented, no
    /// trailing newline), for `Encoded`. Values `writer` does not handle go through Foundation,
    /// indented after the fact (a raw newline never occurs inside a JSON string).
    static func encodeNested(_ value: Any, indent: Int, with writer: inout Writer) throws -> [UInt8] {
        writer.out = []
        if writer.write(value, indent: indent) { return writer.out }
        var bytes = try foundationEncode(value)
        bytes.removeLast()
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 4)
        for byte in bytes {
            out.append(byte)
            if byte == 10 { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent)) }
        }
        return out
    }

    public static func write(_ value: Any, to path: String) throws {
        try LocalFileSystem().writeAtomically(try encode(value), to: path)
    }

    public static func read(_ path: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// A value already encoded by `Writer` at the indentation it is written at (the whole value,
    /// its first line unindented), copied as it is. `tag` names it in `Writer.spans`.
    struct Encoded {
        var bytes: ArraySlice<UInt8>
        var tag: Int
    }

    /// JSON null for a missing optional.
    public static func orNull(_ value: Any?) -> Any { value ?? NSNull() }

    /// The order `JSONSerialization` gives keys with `.sortedKeys`.
    static func foundationPrecedes(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric, .caseInsensitive, .forcedOrdering], range: a.startIndex ..< a.endIndex,
                  locale: NSLocale.system) == .orderedAscending
    }

    /// `JSONSerialization`'s pretty printer, for the value types reports use; `write` returns false
    /// (and the caller falls back to Foundation) on anything else.
    struct Writer {
        var out: [UInt8] = []
        /// Key sets seen (sorted bytewise, joined by NUL) → the same keys in Foundation's order.
        var orders: [String: [String]] = [:]
        /// Where each `Encoded` value went in `out`: (tag, byte range).
        var spans: [(tag: Int, range: Range<Int>)] = []
        /// One line: no newlines or indentation, `:` and `,` without spaces (`encodeLine`).
        var compact = false

        init(capacity: Int = 1 << 16) { out.reserveCapacity(capacity) }

        /// Makes `sortedKeys` give `order` for its keys without sorting them: `order` must be the
        /// keys in Foundation's order (as an earlier `sortedKeys` gave them).
        mutating func learnOrder(_ order: [String]) {
            orders[order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: "\u{0}")] = order
        }

        mutating func write(_ value: Any, indent: Int) -> Bool {
            // Objects (NSNumber, NSString… as `JSONSerialization.jsonObject` returns them) are cast
            // differently by Foundation's writer: leave them to it.
            if type(of: value) is AnyClass {
                guard value is NSNull else { return false }
                ascii("null")
                return true
            }
            switch value {
            case let e as Encoded:
                spans.append((e.tag, out.count ..< out.count + e.bytes.count))
                out.append(contentsOf: e.bytes)
            case let s as String: string(s)
            case let b as Bool: ascii(b ? "true" : "false")
            case let n as Int: ascii(n.description)
            case let n as Int64: ascii(n.description)
            case let n as Int32: ascii(n.description)
            case let n as UInt64: ascii(n.description)
            case let array as [Any]:
                if array.isEmpty { ascii("[]"); return true }
                ascii(compact ? "[" : "[\n")
                for (k, element) in array.enumerated() {
                    if k > 0 { ascii(compact ? "," : ",\n") }
                    spaces(indent + 2)
                    guard write(element, indent: indent + 2) else { return false }
                }
                newline()
                spaces(indent)
                out.append(UInt8(ascii: "]"))
            case let dict as [String: Any]:
                if dict.isEmpty { ascii("{}"); return true }
                ascii(compact ? "{" : "{\n")
                spaces(indent + 2)
                for (k, key) in sortedKeys(dict).enumerated() {
                    if k > 0 {
                        ascii(compact ? "," : ",\n")
                        spaces(indent + 2)
                    }
                    string(key)
                    ascii(compact ? ":" : " : ")
                    guard write(dict[key]!, indent: indent + 2) else { return false }
                }
                newline()
                spaces(indent)
                out.append(UInt8(ascii: "}"))
            case let d as Double:
                guard d.isFinite else { return false }
                var s = d.description
                if s.hasSuffix(".0") { s.removeLast(2) }
                ascii(s)
            default: return false
            }
            return true
        }

        mutating func sortedKeys(_ dict: [String: Any]) -> [String] {
            let keys = dict.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let id = keys.joined(separator: "\u{0}")
            if let order = orders[id] { return order }
            let order = keys.sorted(by: foundationPrecedes)
            orders[id] = order
            return order
        }

        mutating func ascii(_ s: String) { out.append(contentsOf: s.utf8) }

        mutating func spaces(_ n: Int) {
            if !compact { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: n)) }
        }

        mutating func newline() { if !compact { out.append(10) } }

        mutating func string(_ s: String) {
            out.append(UInt8(ascii: "\""))
            for byte in s.utf8 {
                switch byte {
                case UInt8(ascii: "\""): ascii("\\\"")
                case UInt8(ascii: "\\"): ascii("\\\\")
                case 0x08: ascii("\\b")
                case 0x0C: ascii("\\f")
                case 0x0A: ascii("\\n")
                case 0x0D: ascii("\\r")
                case 0x09: ascii("\\t")
                case 0x00 ... 0x0F: ascii("\\u000" + String(byte, radix: 16))
                case 0x10 ... 0x1F: ascii("\\u00" + String(byte, radix: 16))
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
    }
}
