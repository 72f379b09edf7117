// CSV — RFC 4180 reading and writing.
//
// Reading: fields separated by commas, records by CRLF or LF (a lone CR also ends a record);
// a field in double quotes may contain commas, line breaks and doubled quotes (`""` → `"`).
// Writing: fields are quoted only when they contain a comma, a quote, CR or LF; records end in LF,
// so the same table always gives the same bytes.

/// A CSV file read into memory: the header row and the data rows, all as strings.
public struct CSVTable: Equatable, Sendable {
    public var header: [String]
    public var rows: [[String]]

    public init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    /// The index of a header column, or nil.
    public func columnIndex(_ name: String) -> Int? {
        header.firstIndex(of: name)
    }
}

public enum CSVError: Error, Equatable, CustomStringConvertible {
    case empty
    case unterminatedQuote(record: Int)
    case unexpectedQuote(record: Int, field: Int)
    case raggedRow(record: Int, expected: Int, found: Int)

    public var description: String {
        switch self {
        case .empty:
            return "CSV input has no header row"
        case .unterminatedQuote(let record):
            return "CSV record \(record): quoted field is not terminated"
        case .unexpectedQuote(let record, let field):
            return "CSV record \(record), field \(field): a quote inside an unquoted field"
        case .raggedRow(let record, let expected, let found):
            return "CSV record \(record): expected \(expected) fields, found \(found)"
        }
    }
}

public enum CSV {
    /// Parses RFC 4180 text into records (every record a list of fields). Empty trailing lines are dropped.
    /// Record numbers in errors are 1-based and count the header as record 1.
    public static func parseRecords(_ text: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var fieldWasQuoted = false
        var afterClosingQuote = false
        let bytes = Array(text.utf8)
        var i = 0

        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
            afterClosingQuote = false
        }
        func endRecord() {
            endField()
            // A blank line (a single empty, unquoted field) is not a record.
            if !(record.count == 1 && record[0].isEmpty) {
                records.append(record)
            }
            record.removeAll(keepingCapacity: true)
        }

        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(c)
                        i += 2
                        continue
                    }
                    inQuotes = false
                    afterClosingQuote = true
                } else {
                    field.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: ","):
                endField()
            case UInt8(ascii: "\r"):
                endRecord()
                if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
            case UInt8(ascii: "\n"):
                endRecord()
            case UInt8(ascii: "\""):
                if field.isEmpty && !fieldWasQuoted && !afterClosingQuote {
                    inQuotes = true
                    fieldWasQuoted = true
                } else {
                    throw CSVError.unexpectedQuote(record: records.count + 1, field: record.count + 1)
                }
            default:
                if afterClosingQuote {
                    throw CSVError.unexpectedQuote(record: records.count + 1, field: record.count + 1)
                }
                field.append(c)
            }
            i += 1
        }
        if inQuotes {
            throw CSVError.unterminatedQuote(record: records.count + 1)
        }
        if !field.isEmpty || !record.isEmpty || fieldWasQuoted {
            endRecord()
        }
        return records
    }

    /// Parses RFC 4180 text whose first record is the header; every row must have as many fields as the header.
    public static func parse(_ text: String) throws -> CSVTable {
        var records = try parseRecords(text)
        guard !records.isEmpty else { throw CSVError.empty }
        let header = records.removeFirst()
        for (index, row) in records.enumerated() where row.count != header.count {
            throw CSVError.raggedRow(record: index + 2, expected: header.count, found: row.count)
        }
        return CSVTable(header: header, rows: records)
    }

    /// Quotes a field when RFC 4180 requires it.
    public static func escape(_ field: String) -> String {
        let needsQuotes = field.utf8.contains { byte in
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"")
                || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
        }
        guard needsQuotes else { return field }
        return "\"" + field.replacingAll("\"", with: "\"\"") + "\""
    }

    /// Renders a table as CSV text: header first, LF line endings, a final LF.
    public static func render(_ table: CSVTable) -> String {
        var out = ""
        out.reserveCapacity(table.rows.count * 64)
        out += table.header.map(escape).joined(separator: ",")
        out += "\n"
        for row in table.rows {
            out += row.map(escape).joined(separator: ",")
            out += "\n"
        }
        return out
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation needed).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for ch in self {
            if ch == target { out += replacement } else { out.append(ch) }
        }
        return out
    }
}
