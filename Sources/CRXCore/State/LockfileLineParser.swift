import Foundation
import Yams

/// Reads `pipeline.lock` in exactly the layout `Lockfile.render` writes, line by line over its
/// bytes, without building a YAML node tree — at 1,000 stages the general YAML composer spent
/// most of a no-op `crx status` on the lock alone.
///
/// It accepts only that layout (the lines below, in this order, two-space indents, `\n` endings):
/// ```
/// schema: crx-lock/1
/// stages:                          (or `stages: {}` and nothing else)
///   <name>:
///     cmd: <scalar>                (or `cmd:` then `    - <scalar>` lines)
///     deps:                        (optional; outs: the same)
///     - path: <scalar>
///       hash: xxh128:<32 lowercase hex>
///       size: <decimal>
///       nfiles: <decimal>          (optional)
///     params:                      (optional)
///       <file>:                    (or `<file>: {}`)
///         <key>: <canonical value>
/// ```
/// A `<scalar>` is plain (only when `YAMLText.scalar` would leave it plain) or a double-quoted
/// string with the escapes `ParamValue.quote` writes. A canonical param value that is not `null`,
/// a boolean, a decimal integer or a quoted string (a float, a list, a mapping) is composed by Yams
/// on its own. Anything else — a comment, a blank line, CRLF, another order, a duplicate key, a
/// hand-edited value — returns nil, and the caller parses the file with the YAML composer, which
/// gives the same values for what this accepts and the positioned errors for what it refuses.
enum LockfileLineParser {
    /// The lock's stages, or nil when `bytes` is not in the canonical layout.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Lockfile? {
        var reader = Reader(bytes: bytes)
        return reader.lockfile()
    }

    static func parse(_ text: String) -> Lockfile? {
        var text = text
        return text.withUTF8 { parse($0) }
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        /// Start of the current line.
        var position = 0
        /// The current line (without its `\n`) as [start, end).
        var start = 0
        var end = 0
        /// The `position` whose line [start, end) holds, or -1.
        var peeked = -1

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var atEnd: Bool { position >= bytes.count }

        /// Loads the next line into [start, end); false at the end or when the last line has no `\n`.
        mutating func peekLine() -> Bool {
            if peeked == position { return true }
            guard position < bytes.count else { return false }
            var i = position
            while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            guard i < bytes.count else { return false }
            start = position
            end = i
            peeked = position
            return true
        }

        mutating func consumeLine() { position = end + 1 }

        /// True when the current line starts with `prefix` (ASCII) at `start`.
        func lineHasPrefix(_ prefix: StaticString) -> Bool {
            let count = prefix.utf8CodeUnitCount
            guard end - start >= count else { return false }
            let p = prefix.utf8Start
            for k in 0..<count where bytes[start + k] != p[k] { return false }
            return true
        }

        func lineEquals(_ text: StaticString) -> Bool {
            end - start == text.utf8CodeUnitCount && lineHasPrefix(text)
        }

        /// Number of leading spaces of the current line.
        func indent() -> Int {
            var i = start
            while i < end && bytes[i] == 0x20 { i += 1 }
            return i - start
        }

        mutating func lockfile() -> Lockfile? {
            guard peekLine(), lineEquals("schema: crx-lock/1") else { return nil }
            consumeLine()
            guard peekLine() else { return nil }
            if lineEquals("stages: {}") {
                consumeLine()
                return atEnd ? Lockfile() : nil
            }
            guard lineEquals("stages:") else { return nil }
            consumeLine()
            var lock = Lockfile()
            while !atEnd {
                guard peekLine(), indent() == 2, end > start + 3, bytes[end - 1] == 0x3A /* : */ else { return nil }
                guard let name = Scalars.scalar(bytes, from: start + 2, to: end - 1) else { return nil }
                consumeLine()
                guard lock.stages[name] == nil, let record = stageRecord() else { return nil }
                lock.stages[name] = record
            }
            return lock
        }

        mutating func stageRecord() -> Lockfile.StageRecord? {
            var record = Lockfile.StageRecord(cmd: [], deps: [], params: [:], outs: [])
            guard peekLine() else { return nil }
            if lineEquals("    cmd:") {
                consumeLine()
                while peekLine(), lineHasPrefix("    - ") {
                    guard let c = Scalars.scalar(bytes, from: start + 6, to: end) else { return nil }
                    record.cmd.append(c)
                    consumeLine()
                }
                guard !record.cmd.isEmpty else { return nil }
            } else if lineHasPrefix("    cmd: ") {
                guard let c = Scalars.scalar(bytes, from: start + 9, to: end) else { return nil }
                record.cmd = [c]
                consumeLine()
            } else {
                return nil
            }
            if peekLine(), lineEquals("    deps:") {
                consumeLine()
                guard let deps = entries() else { return nil }
                record.deps = deps
            }
            if peekLine(), lineEquals("    params:") {
                consumeLine()
                guard let params = params() else { return nil }
                record.params = params
            }
            if peekLine(), lineEquals("    outs:") {
                consumeLine()
                guard let outs = entries() else { return nil }
                record.outs = outs
            }
            // The next line must start another stage (or the file ends).
            if peekLine(), indent() != 2 { return nil }
            return record
        }

        /// `- path:` / `hash:` / `size:` / optional `nfiles:` groups; at least one.
        mutating func entries() -> [Lockfile.Entry]? {
            var list: [Lockfile.Entry] = []
            while peekLine(), lineHasPrefix("    - path: ") {
                guard let path = Scalars.scalar(bytes, from: start + 12, to: end) else { return nil }
                consumeLine()
                guard peekLine(), lineHasPrefix("      hash: "),
                      let digest = ByteText.digest(bytes, from: start + 12, to: end) else { return nil }
                consumeLine()
                guard peekLine(), lineHasPrefix("      size: "),
                      let size = ByteText.signed(bytes, from: start + 12, to: end) else { return nil }
                consumeLine()
                var nfiles: Int?
                if peekLine(), lineHasPrefix("      nfiles: ") {
                    guard let n = ByteText.signed(bytes, from: start + 14, to: end) else { return nil }
                    nfiles = Int(n)
                    consumeLine()
                }
                list.append(.init(path: path, hash: PathDigest(digest: digest, size: size, nfiles: nfiles)))
            }
            return list.isEmpty ? nil : list
        }

        /// `      <file>:` (or `<file>: {}`) followed by `        <key>: <value>` lines.
        mutating func params() -> [String: [String: ParamValue]]? {
            var files: [String: [String: ParamValue]] = [:]
            while peekLine(), indent() == 6 {
                var values: [String: ParamValue] = [:]
                let file: String
                if lineEndsWith(": {}") {
                    guard let f = Scalars.scalar(bytes, from: start + 6, to: end - 4) else { return nil }
                    file = f
                    consumeLine()
                } else {
                    guard bytes[end - 1] == 0x3A, let f = Scalars.scalar(bytes, from: start + 6, to: end - 1) else { return nil }
                    file = f
                    consumeLine()
                    while peekLine(), indent() == 8 {
                        guard let (key, valueStart) = Scalars.key(bytes, from: start + 8, to: end),
                              values[key] == nil,
                              let value = Scalars.paramValue(bytes, from: valueStart, to: end) else { return nil }
                        values[key] = value
                        consumeLine()
                    }
                    guard !values.isEmpty else { return nil }
                }
                guard files[file] == nil else { return nil }
                files[file] = values
            }
            return files.isEmpty ? nil : files
        }

        func lineEndsWith(_ suffix: StaticString) -> Bool {
            let count = suffix.utf8CodeUnitCount
            guard end - start >= count else { return false }
            let p = suffix.utf8Start
            for k in 0..<count where bytes[end - count + k] != p[k] { return false }
            return true
        }
    }

    /// The scalar forms the lock uses, read from a byte range.
    enum Scalars {
        /// `YAMLText.plainSafe` as a byte table.
        static let plainSafe: [Bool] = {
            var table = [Bool](repeating: false, count: 256)
            for b in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-@+".utf8 { table[Int(b)] = true }
            return table
        }()

        /// A plain scalar `YAMLText.scalar` would write as is, or a double-quoted one.
        static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> String? {
            guard from < to else { return nil }
            if bytes[from] == 0x22 /* " */ {
                guard let (s, after) = quoted(bytes, from: from, to: to), after == to else { return nil }
                return s
            }
            return plain(bytes, from: from, to: to)
        }

        static func plain(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> String? {
            guard from < to else { return nil }
            // `YAMLText.scalar` quotes anything starting with one of `-.+0123456789@`.
            switch bytes[from] {
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "0")...UInt8(ascii: "9"): return nil
            default: break
            }
            for i in from..<to where !plainSafe[Int(bytes[i])] { return nil }
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self)
            // Words YAML reads as booleans or null are always quoted by `YAMLText.scalar`.
            if to - from <= 5, YAMLText.reserved.contains(s.lowercased()) { return nil }
            return s
        }

        /// A double-quoted scalar starting at `from` (the quote): its value and the index after the
        /// closing quote. Only the escapes `ParamValue.quote` writes; raw control bytes refused.
        static func quoted(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (String, Int)? {
            var i = from + 1
            var runStart = i
            var out: [UInt8] = []
            var sawEscape = false
            while i < to {
                let b = bytes[i]
                if b == 0x22 {
                    if !sawEscape {
                        return (String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<i]), as: UTF8.self), i + 1)
                    }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                    return (String(decoding: out, as: UTF8.self), i + 1)
                }
                if b < 0x20 || b == 0x7F { return nil }
                if b == 0x5C /* \ */ {
                    sawEscape = true
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                    guard i + 1 < to else { return nil }
                    switch bytes[i + 1] {
                    case UInt8(ascii: "\""): out.append(0x22); i += 2
                    case UInt8(ascii: "\\"): out.append(0x5C); i += 2
                    case UInt8(ascii: "n"): out.append(0x0A); i += 2
                    case UInt8(ascii: "r"): out.append(0x0D); i += 2
                    case UInt8(ascii: "t"): out.append(0x09); i += 2
                    case UInt8(ascii: "u"):
                        guard i + 6 <= to, let v = ByteText.hex(bytes, from: i + 2, to: i + 6),
                              v < 0x20 || v == 0x7F else { return nil }
                        out.append(UInt8(v))
                        i += 6
                    default: return nil
                    }
                    runStart = i
                    continue
                }
                i += 1
            }
            return nil
        }

        /// A mapping key followed by `: `: the key and where its value starts.
        static func key(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (String, Int)? {
            guard from < to else { return nil }
            if bytes[from] == 0x22 {
                guard let (s, after) = quoted(bytes, from: from, to: to),
                      after + 2 <= to, bytes[after] == 0x3A, bytes[after + 1] == 0x20 else { return nil }
                return (s, after + 2)
            }
            var colon = from
            while colon < to && bytes[colon] != 0x3A { colon += 1 }
            guard colon + 2 <= to, bytes[colon + 1] == 0x20, let s = plain(bytes, from: from, to: colon) else { return nil }
            return (s, colon + 2)
        }

        /// A param value in canonical form (see `ParamValue.canonical`).
        static func paramValue(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> ParamValue? {
            guard from < to else { return nil }
            let first = bytes[from]
            if first == 0x22 {
                guard let (s, after) = quoted(bytes, from: from, to: to), after == to else { return nil }
                return .string(s)
            }
            if first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")),
               let v = ByteText.signed(bytes, from: from, to: to) {
                return .int(Int(v))
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self)
            switch text {
            case "null": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: break
            }
            // Floats, lists and mappings: as YAML reads them (the lock writes them in flow style).
            guard !text.contains("#"), let node = try? Yams.compose(yaml: text) else { return nil }
            return ParamValue(node: node)
        }
    }
}
