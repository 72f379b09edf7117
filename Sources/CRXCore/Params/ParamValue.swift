import Foundation
import Yams

/// A parameter's value, as read from a params file.
///
/// Its canonical form (`canonical`, JSON with sorted keys and numbers in shortest round-trip form)
/// is what crx hashes and compares, so reformatting params.yaml, reordering keys or quoting
/// differently changes nothing. `canonical` is also valid YAML, which is how it is written into
/// the lock.
public indirect enum ParamValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ParamValue])
    case dict([String: ParamValue])

    public var description: String { canonical }

    /// Values are equal when their canonical forms are (so `.nan` equals `.nan`, as a reader expects).
    public static func == (a: ParamValue, b: ParamValue) -> Bool {
        switch (a, b) {
        case let (.double(x), .double(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.list(x), .list(y)): return x == y
        case let (.dict(x), .dict(y)): return x == y
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(canonical) }

    public var canonical: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .double(d): return Self.format(d)
        case let .string(s): return Self.quote(s)
        case let .list(items): return "[" + items.map(\.canonical).joined(separator: ", ") + "]"
        case let .dict(map):
            let body = map.keys.sorted().map { Self.quote($0) + ": " + map[$0]!.canonical }
            return "{" + body.joined(separator: ", ") + "}"
        }
    }

    /// Doubles always carry a `.` or an exponent YAML 1.1 reads back as a float.
    static func format(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d > 0 ? ".inf" : "-.inf" }
        var s = "\(d)"
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }), !s[..<e].contains(".") {
            s.insert(contentsOf: ".0", at: e)
        }
        if let e = s.firstIndex(of: "e"), s[s.index(after: e)] != "-", s[s.index(after: e)] != "+" {
            s.insert("+", at: s.index(after: e))
        }
        return s
    }

    /// A JSON string literal (also a YAML double-quoted scalar).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Converts a YAML node with YAML 1.1 core scalar resolution, as DVC (PyYAML/ruamel) reads params.
    public init(node: Node) {
        switch node {
        case let .scalar(s):
            if s.style == .doubleQuoted || s.style == .singleQuoted || s.style == .literal || s.style == .folded {
                self = .string(s.string)
                return
            }
            switch Self.tag(of: s, in: node) {
            case .null: self = .null
            case .bool: self = .bool(node.bool ?? false)
            case .int: self = node.int.map { .int($0) } ?? .string(s.string)
            case .float: self = node.float.map { .double($0) } ?? .string(s.string)
            default: self = .string(s.string)
            }
        case let .sequence(seq): self = .list(seq.map { ParamValue(node: $0) })
        case let .mapping(map):
            // YAML merge keys (`<<: *defaults`, or a list of them) supply keys the mapping lacks.
            var dict: [String: ParamValue] = [:]
            var merged: [String: ParamValue] = [:]
            for (k, v) in map {
                if k.string == "<<" && (k.tagName == .merge || k.scalar?.style == .plain) {
                    let sources: [Node] = { if case let .sequence(seq) = v { return Array(seq) } else { return [v] } }()
                    for source in sources.reversed() {
                        if case let .dict(extra) = ParamValue(node: source) { merged.merge(extra) { _, new in new } }
                    }
                    continue
                }
                dict[k.string ?? "\(k)"] = ParamValue(node: v)
            }
            dict.merge(merged) { own, _ in own }
            self = .dict(dict)
        case .alias: self = .null
        }
    }

    /// The YAML 1.1 core tag of a scalar, as Yams' default resolver gives it, whatever resolver the
    /// document was composed with (params files are composed with `Resolver.basic`: no regex per
    /// scalar). Most scalars are decided by their first character (no default rule can match one
    /// starting with a letter other than those of `yes`/`no`/`true`/`false`/`on`/`off`/`null`) or are
    /// plain decimal integers; the rest go through the default resolver's rules.
    static func tag(of scalar: Node.Scalar, in node: Node) -> Tag.Name {
        guard scalar.tag.rawValue.isEmpty else { return node.tagName }    // an explicit (or already resolved) tag
        if let quick = quickTag(scalar.string) { return quick }
        return Resolver.default.resolveTag(of: node)
    }

    static func quickTag(_ text: String) -> Tag.Name? {
        let utf8 = text.utf8
        guard let first = utf8.first else { return nil }
        // First characters some default rule (bool, int, float, merge, null, timestamp, value) can start with.
        if !"yYnNtTfFoO-+0123456789.<~=".utf8.contains(first) { return .str }
        var digits = utf8[...]
        if first == UInt8(ascii: "-") { digits = digits.dropFirst() }
        guard let lead = digits.first, lead >= UInt8(ascii: "1") && lead <= UInt8(ascii: "9") || (lead == UInt8(ascii: "0") && digits.count == 1) else {
            return nil
        }
        return digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) ? .int : nil
    }

    /// Follows a dotted key (`train.lr`, `layers.0.size`) into nested dicts and lists.
    public func lookup(_ dotted: String) -> ParamValue? {
        if case let .dict(map) = self, let direct = map[dotted] { return direct }
        var current = self
        for part in dotted.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case let .dict(map):
                guard let next = map[String(part)] else { return nil }
                current = next
            case let .list(items):
                guard let i = Int(part), items.indices.contains(i) else { return nil }
                current = items[i]
            default: return nil
            }
        }
        return current
    }
}
