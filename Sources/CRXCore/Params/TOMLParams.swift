import Foundation
import TOMLKit

/// TOML params files (`*.toml`, TOML 1.0, read with toml++ through TOMLKit) as `ParamValue`s.
///
/// Tables become dicts, arrays lists; strings, integers, floats and booleans keep their type;
/// dates and times become strings in their TOML form (`2024-01-31`, `07:32:00`,
/// `1979-05-27T07:32:00Z`). toml++ keeps a table's keys sorted, not in file order.
public enum TOMLParams {
    public static func parse(_ text: String, displayPath: String) throws -> ParamValue {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw DefinitionError("invalid TOML: \(error.description)",
                                  at: SourceLocation(file: displayPath, line: max(error.source.begin.line, 1),
                                                     column: max(error.source.begin.column, 1)))
        }
        return value(of: table)
    }

    static func value(of item: TOMLValueConvertible) -> ParamValue {
        switch item.type {
        case .table:
            guard let table = item.table else { return .dict([:]) }
            var dict: [String: ParamValue] = [:]
            for key in table.keys {
                if let child = table[key] { dict[key] = value(of: child) }
            }
            return .dict(dict)
        case .array:
            guard let array = item.array else { return .list([]) }
            return .list(array.map { value(of: $0) })
        case .string: return .string(item.string ?? "")
        case .int: return item.int.map { .int($0) } ?? .null
        case .double: return item.double.map { .double($0) } ?? .null
        case .bool: return item.bool.map { .bool($0) } ?? .null
        case .date:
            guard let d = item.date else { return .null }
            return .string(String(format: "%04d-%02d-%02d", d.year, d.month, d.day))
        case .time:
            guard let t = item.time else { return .null }
            return .string(time(t))
        case .dateTime:
            guard let dt = item.dateTime else { return .null }
            var s = String(format: "%04d-%02d-%02dT", dt.date.year, dt.date.month, dt.date.day) + time(dt.time)
            if let offset = dt.offset {
                if offset.offset == 0 {
                    s += "Z"
                } else {
                    let minutes = abs(offset.offset)
                    s += (offset.offset < 0 ? "-" : "+") + String(format: "%02d:%02d", minutes / 60, minutes % 60)
                }
            }
            return .string(s)
        }
    }

    private static func time(_ t: TOMLTime) -> String {
        var s = String(format: "%02d:%02d:%02d", t.hour, t.minute, t.second)
        if t.nanoSecond > 0 {
            var fraction = String(format: "%09d", t.nanoSecond)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            s += "." + fraction
        }
        return s
    }
}
