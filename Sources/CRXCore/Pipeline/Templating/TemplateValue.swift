import Foundation

/// A value that `${…}` templating can read: what `params.yaml`, a `vars` file, an inline `vars`
/// mapping or a foreach/matrix item holds, as DVC sees it.
///
/// It is a JSON-like tree (null, bool, int, float, string, list, ordered dict: DVC keeps the
/// order keys are written in, which decides the order of unpacked `--flags` and of foreach
/// stages over a dict) plus its **origin**: where the value was read, which decides whether using
/// it makes it a tracked param of the stage (only values read from the default `params.yaml` are
/// tracked; those written inline are not). Renderings follow Python's, which is what DVC prints:
/// `true`/`false` for a bool interpolated into a string, `None`, `1e-05`, `1000000000000000.0`.
public struct TemplateValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case list([TemplateValue])
        case dict(TemplateDict)
    }

    /// Where a value came from.
    public enum Origin: Sendable, Equatable {
        /// Written in the pipeline file itself (a literal foreach list or matrix axis).
        case literal
        /// An inline `vars` mapping (`source`: `vars[0]`, `train.vars[1]`) and the dotted key
        /// path inside it (DVC: a "local" context node, never tracked).
        case inline(source: String, key: String)
        /// Read from a file: its root-relative path and the dotted key path inside it (`a.b.0`).
        case file(path: String, key: String)
    }

    public var kind: Kind
    public var origin: Origin

    public init(_ kind: Kind, origin: Origin = .literal) {
        self.kind = kind
        self.origin = origin
    }

    public static func == (a: TemplateValue, b: TemplateValue) -> Bool { a.kind == b.kind }

    var isContainer: Bool {
        switch kind {
        case .list, .dict: return true
        default: return false
        }
    }

    /// Python's type name, for messages (DVC says "Cannot interpolate data of type 'list'").
    var typeName: String {
        switch kind {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .list: return "list"
        case .dict: return "dict"
        }
    }

    /// The value with `origin` given to it and, recursively, to everything inside it (the key path
    /// grows with each dict key and list index).
    func withOrigin(_ make: (String) -> Origin, path: String) -> TemplateValue {
        switch kind {
        case let .list(items):
            let children = items.enumerated().map { i, item in
                item.withOrigin(make, path: path.isEmpty ? String(i) : "\(path).\(i)")
            }
            return TemplateValue(.list(children), origin: make(path))
        case let .dict(dict):
            var copy = TemplateDict()
            for (k, v) in dict { copy[k] = v.withOrigin(make, path: path.isEmpty ? k : "\(path).\(k)") }
            return TemplateValue(.dict(copy), origin: make(path))
        default:
            return TemplateValue(kind, origin: make(path))
        }
    }

    // MARK: Python renderings

    /// DVC's `to_str`: how a value reads inside a string (`"lr=${lr}"`), and how a foreach or
    /// matrix item names its stage. Booleans are `true`/`false`; the rest is Python's `str()`.
    public var interpolated: String {
        if case let .bool(b) = kind { return b ? "true" : "false" }
        return pythonString
    }

    /// Python's `str()` of the value (booleans `True`/`False`, lists and dicts as Python prints them).
    public var pythonString: String {
        switch kind {
        case let .string(s): return s
        default: return pythonRepr
        }
    }

    /// Python's `repr()` of the value.
    var pythonRepr: String {
        switch kind {
        case .null: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .float(d): return Self.pythonFloat(d)
        case let .string(s): return Self.pythonQuoted(s)
        case let .list(items): return "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case let .dict(dict):
            return "{" + dict.map { Self.pythonQuoted($0.key) + ": " + $0.value.pythonRepr }.joined(separator: ", ") + "}"
        }
    }

    /// Python's `repr(float)`: the shortest digits that round-trip, fixed notation for decimal
    /// exponents -4…15 (`0.0001`, `1000000000000000.0`), scientific otherwise (`1e-05`, `1e+16`).
    public static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        // Swift's description also prints the shortest round-trip digits; only the layout differs.
        var text = "\(d)"
        var sign = ""
        if text.hasPrefix("-") { sign = "-"; text.removeFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits: [Character]
        var point: Int
        if let dot = text.firstIndex(of: ".") {
            point = text.distance(from: text.startIndex, to: dot)
            digits = Array(text[..<dot]) + Array(text[text.index(after: dot)...])
        } else {
            point = text.count
            digits = Array(text)
        }
        point += exponent
        while digits.count > 1, digits.first == "0" { digits.removeFirst(); point -= 1 }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        if digits == ["0"] { return sign + "0.0" }
        let decimalPoint = point  // value = 0.DIGITS × 10^point
        let scientific = decimalPoint - 1
        if scientific < -4 || scientific >= 16 {
            var mantissa = String(digits[0])
            if digits.count > 1 { mantissa += "." + String(digits[1...]) }
            let e = abs(scientific)
            return sign + mantissa + "e" + (scientific < 0 ? "-" : "+") + (e < 10 ? "0" : "") + String(e)
        }
        if decimalPoint <= 0 {
            return sign + "0." + String(repeating: "0", count: -decimalPoint) + String(digits)
        }
        if decimalPoint >= digits.count {
            return sign + String(digits) + String(repeating: "0", count: decimalPoint - digits.count) + ".0"
        }
        return sign + String(digits[..<decimalPoint]) + "." + String(digits[decimalPoint...])
    }

    /// Python's `repr(str)` (single quotes unless the text holds one and no double quote).
    static func pythonQuoted(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(c) == quote { out += "\\" + String(quote) } else if c.value < 0x20 || c.value == 0x7F {
                    out += String(format: "\\x%02x", c.value)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + String(quote)
    }

    // MARK: conversions

    /// The value as crx's params model (for comparison with a params file).
    public var paramValue: ParamValue {
        switch kind {
        case .null: return .null
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(i)
        case let .float(d): return .double(d)
        case let .string(s): return .string(s)
        case let .list(items): return .list(items.map(\.paramValue))
        case let .dict(dict): return .dict(Dictionary(dict.map { ($0.key, $0.value.paramValue) }, uniquingKeysWith: { _, b in b }))
        }
    }

    /// A params value as a template value (dict keys sorted: `ParamValue` keeps no order).
    public init(param value: ParamValue, origin: Origin = .literal) {
        switch value {
        case .null: self.init(.null, origin: origin)
        case let .bool(b): self.init(.bool(b), origin: origin)
        case let .int(i): self.init(.int(i), origin: origin)
        case let .double(d): self.init(.float(d), origin: origin)
        case let .string(s): self.init(.string(s), origin: origin)
        case let .list(items): self.init(.list(items.map { TemplateValue(param: $0, origin: origin) }), origin: origin)
        case let .dict(map):
            var dict = TemplateDict()
            for k in map.keys.sorted() { dict[k] = TemplateValue(param: map[k]!, origin: origin) }
            self.init(.dict(dict), origin: origin)
        }
    }
}

/// An insertion-ordered dictionary of template values (Python's `dict`).
public struct TemplateDict: Sendable, Equatable, Sequence {
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    public init() {}

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: TemplateValue)> {
        var i = 0
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], storage[keys[i]]!)
        }
    }

    public static func == (a: TemplateDict, b: TemplateDict) -> Bool { a.keys == b.keys && a.storage == b.storage }
}
