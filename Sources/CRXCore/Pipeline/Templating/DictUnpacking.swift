/// Dict unpacking: a dict written into a `cmd` becomes command-line arguments, as DVC does it
/// with its default `parsing` settings (`bool: store_true`, `list: nargs`).
///
/// ```
/// train: {lr: 0.01, name: my model, layers: [4, 2], verbose: true, quiet: false, opt: {beta: 0.9}}
/// cmd: python train.py ${train}
///   → python train.py --lr 0.01 --name 'my model' --layers 4 2 --verbose --opt.beta 0.9
/// ```
/// Nested dicts are flattened with dotted keys (empty ones vanish); `true` writes the bare flag and
/// `false` nothing; strings are shell-quoted (`shlex.quote`); list items follow one flag, strings
/// among them quoted, other items as Python prints them (`True`, `None`); a list inside a list is an
/// error. Numbers and null are written as Python prints them.
enum DictUnpacking {
    static func arguments(_ dict: TemplateDict) throws -> String {
        var result = ""
        for (key, value) in flatten(dict, prefix: "") {
            switch value.kind {
            case let .bool(b):
                if b { result += "--\(key) " }
            case let .string(s):
                result += "--\(key) \(shellQuote(s)) "
            case let .list(items):
                for (n, item) in items.enumerated() {
                    let text: String
                    switch item.kind {
                    case let .string(s): text = shellQuote(s)
                    case .list, .dict: throw TemplateError("Cannot interpolate nested iterable in '\(key)'")
                    default: text = item.pythonString
                    }
                    result += n > 0 ? "\(text) " : "--\(key) \(text) "
                }
            default:
                result += "--\(key) \(value.pythonString) "
            }
        }
        while result.last == " " || result.last == "\t" || result.last == "\n" { result.removeLast() }
        return result
    }

    /// `flatten_dict.flatten(d, reducer="dot")`: nested dicts become dotted keys; empty dicts vanish.
    static func flatten(_ dict: TemplateDict, prefix: String) -> [(String, TemplateValue)] {
        var out: [(String, TemplateValue)] = []
        for (k, v) in dict {
            let key = prefix.isEmpty ? k : prefix + "." + k
            if case let .dict(inner) = v.kind {
                out += flatten(inner, prefix: key)
            } else {
                out.append((key, v))
            }
        }
        return out
    }

    static func shellQuote(_ s: String) -> String { Shell.quote(s) }
}
