import Foundation
import Yams

/// How DVC reads YAML: ruamel.yaml's safe loader, **YAML 1.2** core schema.
///
/// Yams resolves plain scalars with YAML 1.1 rules (`yes`/`on` are booleans, `1e-3` is a string);
/// DVC resolves them with YAML 1.2 rules (`yes` is a string, `1e-3` the float 0.001, `010` the int
/// 10). What a `${…}` expands to depends on that, so templating reads every scalar through
/// `YAML12.value(of:)`: quoted and block scalars are strings; plain untagged scalars are null
/// (`~`, `null`, empty), bool (`true`/`True`/`TRUE`, `false`…), int (decimal, `0x`, `0o`, `0b`, `_`
/// separators), float (`1.5`, `1.`, `.5`, `1e3`, `.inf`, `.nan`) or string; dates stay strings
/// (Python prints a plain date as written). Merge keys (`<<: *base`) are applied.
enum YAML12 {
    /// A scalar's value. Plain scalars are resolved from their text by YAML 1.2 rules, whatever
    /// YAML 1.1 tag Yams may already have given them (Yams resolves a mapping key's tag as it
    /// composes, so an explicit `!!str` on a plain scalar cannot be told apart and is not honoured).
    static func scalar(_ s: Node.Scalar) -> TemplateValue.Kind {
        switch s.style {
        case .singleQuoted, .doubleQuoted, .literal, .folded:
            return .string(s.string)
        default: break
        }
        switch s.tag.description {
        case "", Tag.Name.null.rawValue, Tag.Name.bool.rawValue, Tag.Name.int.rawValue, Tag.Name.float.rawValue,
             Tag.Name.timestamp.rawValue, Tag.Name.merge.rawValue, Tag.Name.value.rawValue, Tag.Name.str.rawValue:
            return resolvePlain(s.string)
        default:
            return .string(s.string)
        }
    }

    /// YAML 1.2 core-schema resolution of a plain scalar's text (ruamel.yaml's rules).
    static func resolvePlain(_ text: String) -> TemplateValue.Kind {
        guard let first = text.utf8.first else { return .null }
        switch text {
        case "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        // Only text starting like a number can be one.
        guard first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
            || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return .string(text) }
        if let i = int(text) { return .int(i) }
        if let d = float(text) { return .float(d) }
        return .string(text)
    }

    private static func int(_ text: String) -> Int? {
        var s = Substring(text)
        var negative = false
        if s.first == "-" || s.first == "+" { negative = s.first == "-"; s = s.dropFirst() }
        guard !s.isEmpty else { return nil }
        var radix = 10
        var digits = s
        if s.hasPrefix("0b") { radix = 2; digits = s.dropFirst(2) } else if s.hasPrefix("0x") { radix = 16; digits = s.dropFirst(2) } else if s.hasPrefix("0o") { radix = 8; digits = s.dropFirst(2) }
        guard !digits.isEmpty else { return nil }
        let allowed: (Character) -> Bool
        switch radix {
        case 2: allowed = { $0 == "0" || $0 == "1" || $0 == "_" }
        case 8: allowed = { ("0"..."7").contains($0) || $0 == "_" }
        case 16: allowed = { $0.isHexDigit || $0 == "_" }
        default: allowed = { ("0"..."9").contains($0) || $0 == "_" }
        }
        guard digits.allSatisfy(allowed) else { return nil }
        let clean = digits.filter { $0 != "_" }
        guard !clean.isEmpty, let magnitude = Int(clean, radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    private static func float(_ text: String) -> Double? {
        var s = Substring(text)
        var sign = ""
        if s.first == "-" || s.first == "+" { sign = s.first == "-" ? "-" : ""; s = s.dropFirst() }
        switch s {
        case ".inf", ".Inf", ".INF": return sign == "-" ? -.infinity : .infinity
        case ".nan", ".NaN", ".NAN": return sign.isEmpty && !text.hasPrefix("+") ? .nan : nil
        default: break
        }
        // [0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?  (a dot or an exponent required), or \.[0-9_]+([eE][-+][0-9]+)?
        var mantissa = s
        var exponent: Substring = ""
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = s[..<e]
            exponent = s[s.index(after: e)...]
            var digits = exponent
            if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
            guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        }
        let isDigitOrUnderscore: (Character) -> Bool = { ("0"..."9").contains($0) || $0 == "_" }
        if let dot = mantissa.firstIndex(of: ".") {
            let whole = mantissa[..<dot], fraction = mantissa[mantissa.index(after: dot)...]
            guard whole.allSatisfy(isDigitOrUnderscore), fraction.allSatisfy(isDigitOrUnderscore) else { return nil }
            if whole.isEmpty {
                guard !fraction.isEmpty, fraction.first != "_" else { return nil }
            } else {
                guard ("0"..."9").contains(whole.first!) else { return nil }
            }
        } else {
            guard !exponent.isEmpty, let f = mantissa.first, ("0"..."9").contains(f),
                  mantissa.allSatisfy(isDigitOrUnderscore) else { return nil }
        }
        var clean = mantissa.filter { $0 != "_" }
        if clean.hasPrefix(".") { clean = "0" + clean }
        if clean.hasSuffix(".") { clean += "0" }
        return Double(sign + clean + (exponent.isEmpty ? "" : "e" + exponent))
    }

    /// A whole YAML node as a template value (every part `.literal` until given an origin).
    static func value(of node: Node) -> TemplateValue {
        switch node {
        case let .scalar(s):
            return TemplateValue(scalar(s))
        case let .sequence(seq):
            return TemplateValue(.list(seq.map { value(of: $0) }))
        case let .mapping(map):
            var dict = TemplateDict()
            var merged = TemplateDict()
            for (k, v) in map {
                if case let .scalar(ks) = k, ks.string == "<<", ks.style == .plain || ks.style == .any {
                    let sources: [Node] = { if case let .sequence(seq) = v { return Array(seq) } else { return [v] } }()
                    for source in sources {
                        if case let .dict(extra) = value(of: source).kind {
                            for (mk, mv) in extra where merged[mk] == nil { merged[mk] = mv }
                        }
                    }
                    continue
                }
                guard let key = keyString(k) else { continue }
                dict[key] = value(of: v)
            }
            if merged.isEmpty { return TemplateValue(.dict(dict)) }
            var result = merged
            for (k, v) in dict { result[k] = v }
            return TemplateValue(.dict(result))
        case .alias:
            return TemplateValue(.null)
        }
    }

    /// A mapping key as DVC's context keeps it: string keys only (DVC ignores keys of other
    /// types, such as `2020:` which YAML reads as an int, when it builds the context).
    static func keyString(_ node: Node) -> String? {
        guard case let .scalar(s) = node else { return nil }
        if case let .string(text) = scalar(s) { return text }
        return nil
    }
}
