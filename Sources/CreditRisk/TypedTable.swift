// TypedTable — the applications table once its columns have types: integer-valued numeric columns
// as Doubles, categorical columns as Strings, every row identified by its applicant id.

public enum ColumnType: String, Codable, Sendable {
    case numeric
    case categorical
}

public struct TypedTable: Equatable, Sendable {
    /// The id column written first in the interim file.
    public static let idColumn = "applicant_id"

    /// Column names in contract order (the id column is not among them).
    public var columnNames: [String]
    public var columnTypes: [String: ColumnType]
    public var numeric: [String: [Double]]
    public var categorical: [String: [String]]
    /// 1-based applicant ids, one per row.
    public var applicantIDs: [Int]

    public init(columnNames: [String], columnTypes: [String: ColumnType],
                numeric: [String: [Double]], categorical: [String: [String]], applicantIDs: [Int]) {
        self.columnNames = columnNames
        self.columnTypes = columnTypes
        self.numeric = numeric
        self.categorical = categorical
        self.applicantIDs = applicantIDs
    }

    public var rowCount: Int { applicantIDs.count }

    /// The table as CSV: `applicant_id` first, then every column; numbers without decimals when integral.
    public func renderCSV() -> String {
        var rows: [[String]] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var row = [String(applicantIDs[r])]
            for name in columnNames {
                switch columnTypes[name]! {
                case .numeric: row.append(NumberFormat.compact(numeric[name]![r]))
                case .categorical: row.append(categorical[name]![r])
                }
            }
            rows.append(row)
        }
        return CSV.render(CSVTable(header: [TypedTable.idColumn] + columnNames, rows: rows))
    }
}
