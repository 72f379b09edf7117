// DataContract — the rules a raw table must satisfy before anything downstream may use it, and
// the validator that checks them and turns the strings into a TypedTable.
//
// Rules checked: every expected column present, no unexpected or duplicated column; numeric cells
// are integers within [min, max]; categorical cells are one of the allowed levels; no empty cell
// (an empty label is reported as `empty_label`); at least `minRows` rows.

/// What one column must hold.
public struct ColumnContract: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// An integer in `min...max`.
        case integer(min: Int, max: Int)
        /// One of `levels` (in their canonical order).
        case categorical(levels: [String])
    }

    public let name: String
    public let kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    public var type: ColumnType {
        switch kind {
        case .integer: return .numeric
        case .categorical: return .categorical
        }
    }
}

/// One broken rule: `row` is the 1-based data row (the applicant id), nil for a file-level rule.
public struct ContractViolation: Codable, Equatable, Sendable {
    public let row: Int?
    public let column: String?
    public let value: String?
    public let rule: String
    public let message: String

    public init(row: Int?, column: String?, value: String?, rule: String, message: String) {
        self.row = row
        self.column = column
        self.value = value
        self.rule = rule
        self.message = message
    }
}

public struct DataContract: Sendable {
    public let name: String
    public let version: Int
    public let columns: [ColumnContract]
    public let labelColumn: String
    public let minRows: Int

    public init(name: String, version: Int, columns: [ColumnContract], labelColumn: String, minRows: Int) {
        self.name = name
        self.version = version
        self.columns = columns
        self.labelColumn = labelColumn
        self.minRows = minRows
    }

    public func column(_ name: String) -> ColumnContract? {
        columns.first { $0.name == name }
    }

    /// The outcome of checking a table: the typed table when there was no violation.
    public struct Result: Sendable {
        public let rowsChecked: Int
        public let violations: [ContractViolation]
        public let table: TypedTable?
        public var passed: Bool { violations.isEmpty }

        public init(rowsChecked: Int, violations: [ContractViolation], table: TypedTable?) {
            self.rowsChecked = rowsChecked
            self.violations = violations
            self.table = table
        }
    }

    /// Checks `csv` against the contract. With `idColumn`, that column must exist and hold the
    /// applicant ids (positive, unique integers); otherwise ids are the 1-based row numbers.
    public func validate(_ csv: CSVTable, idColumn: String? = nil) -> Result {
        var violations: [ContractViolation] = []
        var seen = Set<String>()
        for name in csv.header {
            if !seen.insert(name).inserted {
                violations.append(.init(row: nil, column: name, value: nil, rule: "duplicate_column",
                                        message: "column `\(name)` appears more than once"))
            }
        }
        let expected = Set(columns.map(\.name) + (idColumn.map { [$0] } ?? []))
        for name in csv.header where !expected.contains(name) {
            violations.append(.init(row: nil, column: name, value: nil, rule: "unexpected_column",
                                    message: "column `\(name)` is not in the contract"))
        }
        for name in columns.map(\.name) + (idColumn.map { [$0] } ?? []) where csv.columnIndex(name) == nil {
            violations.append(.init(row: nil, column: name, value: nil, rule: "missing_column",
                                    message: "expected column `\(name)` is missing"))
        }
        if csv.rows.count < minRows {
            violations.append(.init(row: nil, column: nil, value: String(csv.rows.count), rule: "row_count",
                                    message: "expected at least \(minRows) rows, found \(csv.rows.count)"))
        }
        guard violations.isEmpty else {
            return Result(rowsChecked: csv.rows.count, violations: violations, table: nil)
        }

        var ids: [Int] = []
        ids.reserveCapacity(csv.rows.count)
        if let idColumn {
            let index = csv.columnIndex(idColumn)!
            var seenIDs = Set<Int>()
            for (r, row) in csv.rows.enumerated() {
                let cell = row[index]
                if let id = Int(cell), id > 0, seenIDs.insert(id).inserted {
                    ids.append(id)
                } else {
                    ids.append(r + 1)
                    violations.append(.init(row: r + 1, column: idColumn, value: cell, rule: "invalid_id",
                                            message: "`\(idColumn)` must be a unique positive integer"))
                }
            }
        } else {
            ids = csv.rows.indices.map { $0 + 1 }
        }

        var numeric: [String: [Double]] = [:]
        var categorical: [String: [String]] = [:]
        var types: [String: ColumnType] = [:]
        for column in columns {
            let index = csv.columnIndex(column.name)!
            types[column.name] = column.type
            switch column.kind {
            case .integer(let lo, let hi):
                var values: [Double] = []
                values.reserveCapacity(csv.rows.count)
                for (r, row) in csv.rows.enumerated() {
                    let cell = row[index]
                    let rowNumber = ids[r]
                    if cell.isEmpty {
                        violations.append(.init(row: rowNumber, column: column.name, value: cell, rule: "empty_value",
                                                message: "`\(column.name)` is empty"))
                        values.append(0)
                    } else if let v = Int(cell) {
                        if v < lo || v > hi {
                            violations.append(.init(row: rowNumber, column: column.name, value: cell,
                                                    rule: "out_of_range",
                                                    message: "`\(column.name)` = \(v) is outside [\(lo), \(hi)]"))
                        }
                        values.append(Double(v))
                    } else {
                        violations.append(.init(row: rowNumber, column: column.name, value: cell,
                                                rule: "not_an_integer",
                                                message: "`\(column.name)` must be an integer"))
                        values.append(0)
                    }
                }
                numeric[column.name] = values
            case .categorical(let levels):
                let allowed = Set(levels)
                var values: [String] = []
                values.reserveCapacity(csv.rows.count)
                for (r, row) in csv.rows.enumerated() {
                    let cell = row[index]
                    let rowNumber = ids[r]
                    if cell.isEmpty {
                        let isLabel = column.name == labelColumn
                        violations.append(.init(row: rowNumber, column: column.name, value: cell,
                                                rule: isLabel ? "empty_label" : "empty_value",
                                                message: isLabel ? "the label `\(column.name)` is empty"
                                                    : "`\(column.name)` is empty"))
                    } else if !allowed.contains(cell) {
                        violations.append(.init(row: rowNumber, column: column.name, value: cell,
                                                rule: "unknown_category",
                                                message: "`\(column.name)` has a value outside its allowed set"))
                    }
                    values.append(cell)
                }
                categorical[column.name] = values
            }
        }
        // Violations are listed by row, then in contract column order (already the order within a row
        // after this stable sort), so the report does not depend on the order checks ran in.
        let order = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1.name, $0) })
        violations = violations.enumerated().sorted { a, b in
            let ra = a.element.row ?? 0, rb = b.element.row ?? 0
            if ra != rb { return ra < rb }
            let ca = a.element.column.flatMap { order[$0] } ?? -1
            let cb = b.element.column.flatMap { order[$0] } ?? -1
            if ca != cb { return ca < cb }
            return a.offset < b.offset
        }.map(\.element)

        let table = violations.isEmpty
            ? TypedTable(columnNames: columns.map(\.name), columnTypes: types,
                         numeric: numeric, categorical: categorical, applicantIDs: ids)
            : nil
        return Result(rowsChecked: csv.rows.count, violations: violations, table: table)
    }
}
