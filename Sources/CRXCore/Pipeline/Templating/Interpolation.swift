/// `${…}` interpolation inside a string, as DVC defines it.
///
/// A string is scanned for `${` … `}` on one line (the first `}` closes it); `\${` is an escape:
/// it is not interpolated and is written as `${`. The expression inside is a key path: a name,
/// then any number of `.name` or `[index]` steps (`${a.b}`, `${list[0]}`, `${item.x[2].y}`); a
/// name is any run of characters other than `.`, `[` and `]`, trimmed of surrounding spaces.
///
/// When the expression is the whole string (`deps: [${file}]`, `foreach: ${models}`) the string
/// is replaced by the value itself, keeping its type (a number stays a number, a list a list).
/// Otherwise each value is written into the string: `true`/`false` for booleans, Python's
/// rendering of numbers (`0.001`, `1e-05`), and in `cmd` a dict is unpacked into `--key value`
/// arguments (see `DictUnpacking`). Lists and dicts anywhere else are an error, as in DVC.
struct TemplateString {
    /// One `${…}`: its text between the braces, the range it covers in the string, and the key path.
    struct Expression: Sendable {
        let inner: String
        let range: Range<String.Index>
        let path: [String]
    }

    let text: String
    let expressions: [Expression]

    /// True when the string is exactly one `${…}` (its value replaces the string, type and all).
    var isExact: Bool {
        expressions.count == 1 && expressions[0].range == text.startIndex ..< text.endIndex
    }

    /// True when the string needs any processing: an expression or an escaped `\${`.
    static func needsProcessing(_ s: String) -> Bool {
        var previous: UInt8 = 0
        for c in s.utf8 {
            if c == UInt8(ascii: "{"), previous == UInt8(ascii: "$") { return true }
            previous = c
        }
        return false
    }

    /// Scans `text` for expressions; a malformed key path (`${}`, `${a..b}`, `${a[0}`) throws.
    init(_ text: String) throws {
        self.text = text
        var found: [Expression] = []
        let utf8 = text.utf8
        var i = utf8.startIndex
        let dollar = UInt8(ascii: "$"), open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        var previous: UInt8 = 0
        while i != utf8.endIndex {
            let c = utf8[i]
            let next = utf8.index(after: i)
            guard c == dollar, next != utf8.endIndex, utf8[next] == open, previous != UInt8(ascii: "\\") else {
                previous = c
                i = next
                continue
            }
            // The regex `(?<!\\)\${(.*?)}`: the inner text may not cross a line break.
            var j = utf8.index(after: next)
            var end: String.Index?
            while j != utf8.endIndex {
                let d = utf8[j]
                if d == close { end = j; break }
                if d == UInt8(ascii: "\n") { break }
                j = utf8.index(after: j)
            }
            guard let end else {
                previous = c
                i = next
                continue
            }
            let inner = String(text[utf8.index(after: next) ..< end])
            found.append(Expression(inner: inner, range: i ..< utf8.index(after: end), path: try Self.parsePath(inner)))
            previous = close
            i = utf8.index(after: end)
        }
        expressions = found
    }

    /// DVC's grammar `word (("." word) | ("[" word "]"))*`, where a word is one or more characters
    /// other than `.`, `[`, `]`. Each step is returned trimmed of spaces.
    static func parsePath(_ inner: String) throws -> [String] {
        var parts: [String] = []
        let chars = Array(inner.utf8)
        var i = 0
        let dot = UInt8(ascii: "."), lbracket = UInt8(ascii: "["), rbracket = UInt8(ascii: "]")
        func word() throws -> String {
            let start = i
            while i < chars.count, chars[i] != dot, chars[i] != lbracket, chars[i] != rbracket { i += 1 }
            guard i > start else {
                throw TemplateError("invalid expression '${\(inner)}': expected a name at position \(start + 3)")
            }
            var a = start, b = i
            while a < b, chars[a] == 0x20 || chars[a] == 0x09 { a += 1 }
            while b > a, chars[b - 1] == 0x20 || chars[b - 1] == 0x09 { b -= 1 }
            return String(decoding: chars[a ..< b], as: UTF8.self)
        }
        parts.append(try word())
        while i < chars.count {
            switch chars[i] {
            case dot:
                i += 1
                parts.append(try word())
            case lbracket:
                i += 1
                parts.append(try word())
                guard i < chars.count, chars[i] == rbracket else {
                    throw TemplateError("invalid expression '${\(inner)}': expected ']' at position \(i + 3)")
                }
                i += 1
                // pyparsing skips spaces before the next `.`/`[` and at the end.
                while i < chars.count, chars[i] == 0x20 || chars[i] == 0x09 { i += 1 }
            default:
                throw TemplateError("invalid expression '${\(inner)}': unexpected '\(Character(Unicode.Scalar(chars[i])))' at position \(i + 3)")
            }
        }
        return parts
    }

    /// Replaces every expression by its value's string rendering (`key`: the stage key being
    /// resolved, `nil` for foreach/matrix data, where lists and dicts may be written too), then
    /// turns each `\${` into `${`.
    func render(key: String?, lookup: (Expression) throws -> TemplateValue) throws -> String {
        var out = ""
        var index = text.startIndex
        for e in expressions {
            let value = try lookup(e)
            try Self.validate(value, key: key)
            out += text[index ..< e.range.lowerBound]
            out += try Self.render(value)
            index = e.range.upperBound
        }
        out += text[index...]
        return out.contains("\\${") ? out.replacingOccurrences(of: "\\${", with: "${") : out
    }

    /// DVC's `validate_value`: a list or dict may only be interpolated into foreach/matrix data,
    /// and a dict into `cmd` (where it is unpacked).
    static func validate(_ value: TemplateValue, key: String?) throws {
        guard value.isContainer, let key, !key.contains("foreach") else { return }
        if case .dict = value.kind, key == "cmd" { return }
        throw TemplateError("Cannot interpolate data of type '\(value.typeName)'")
    }

    /// DVC's `to_str`.
    static func render(_ value: TemplateValue) throws -> String {
        if case let .dict(dict) = value.kind { return try DictUnpacking.arguments(dict) }
        return value.interpolated
    }
}

/// A templating problem, located and given its stage context by `StageGenerator`.
struct TemplateError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
