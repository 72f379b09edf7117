// FeatureTable — the numeric matrix every modelling stage reads and writes
// (data/processed/features.csv, train.csv, test.csv): `applicant_id`, `label` (1 = bad, 0 = good),
// then one column per feature.
//
// Naming convention: a one-hot indicator column is named `attribute=level` (attribute names never
// contain `=`, so the first `=` splits them); any other column is a numeric feature. `groups()`
// recovers the attributes from the names, so WoE encoding and drift monitoring can work per attribute.

public struct FeatureTable: Equatable, Sendable {
    public static let idColumn = "applicant_id"
    public static let labelColumn = "label"

    public var featureNames: [String]
    public var applicantIDs: [Int]
    /// 1 = bad (the event), 0 = good.
    public var labels: [Int]
    /// Row-major feature values, `rows[i].count == featureNames.count`.
    public var rows: [[Double]]

    public init(featureNames: [String], applicantIDs: [Int], labels: [Int], rows: [[Double]]) {
        precondition(applicantIDs.count == labels.count && labels.count == rows.count)
        self.featureNames = featureNames
        self.applicantIDs = applicantIDs
        self.labels = labels
        self.rows = rows
    }

    public var rowCount: Int { rows.count }

    public func column(_ index: Int) -> [Double] {
        rows.map { $0[index] }
    }

    /// The rows whose applicant id is in `ids`, in the table's order.
    public func subset(_ ids: Set<Int>) -> FeatureTable {
        var out = FeatureTable(featureNames: featureNames, applicantIDs: [], labels: [], rows: [])
        for i in 0..<rowCount where ids.contains(applicantIDs[i]) {
            out.applicantIDs.append(applicantIDs[i])
            out.labels.append(labels[i])
            out.rows.append(rows[i])
        }
        return out
    }

    // MARK: naming

    public static func indicatorName(attribute: String, level: String) -> String {
        "\(attribute)=\(level)"
    }

    /// One attribute of the feature table: a numeric column, or the indicator columns of its levels.
    public struct Indicator: Equatable, Sendable {
        public let level: String
        public let column: Int
    }

    public struct Group: Equatable, Sendable {
        public enum Kind: Equatable, Sendable {
            case numeric(column: Int)
            /// The indicator columns of the attribute's levels, in table order.
            case indicators([Indicator])
        }
        public let attribute: String
        public let kind: Kind
    }

    /// The attributes in order of first appearance.
    public func groups() -> [Group] {
        var order: [String] = []
        var indicators: [String: [Indicator]] = [:]
        var numeric: [String: Int] = [:]
        for (j, name) in featureNames.enumerated() {
            if let eq = name.firstIndex(of: "=") {
                let attribute = String(name[..<eq])
                let level = String(name[name.index(after: eq)...])
                if indicators[attribute] == nil { order.append(attribute); indicators[attribute] = [] }
                indicators[attribute]!.append(Indicator(level: level, column: j))
            } else {
                order.append(name)
                numeric[name] = j
            }
        }
        return order.map { attribute in
            if let j = numeric[attribute] { return Group(attribute: attribute, kind: .numeric(column: j)) }
            return Group(attribute: attribute, kind: .indicators(indicators[attribute]!))
        }
    }

    // MARK: CSV

    public func renderCSV() -> String {
        var csvRows: [[String]] = []
        csvRows.reserveCapacity(rowCount)
        for i in 0..<rowCount {
            var row = [String(applicantIDs[i]), String(labels[i])]
            row.reserveCapacity(featureNames.count + 2)
            for v in rows[i] { row.append(NumberFormat.compact(v)) }
            csvRows.append(row)
        }
        return CSV.render(CSVTable(header: [FeatureTable.idColumn, FeatureTable.labelColumn] + featureNames,
                                   rows: csvRows))
    }

    public static func parse(_ text: String, source: String = "feature table") throws -> FeatureTable {
        let csv = try CSV.parse(text)
        guard csv.header.count >= 2, csv.header[0] == idColumn, csv.header[1] == labelColumn else {
            throw ArtefactError("\(source): the first columns must be `\(idColumn)`, `\(labelColumn)`")
        }
        let names = Array(csv.header.dropFirst(2))
        var table = FeatureTable(featureNames: names, applicantIDs: [], labels: [], rows: [])
        table.applicantIDs.reserveCapacity(csv.rows.count)
        for (r, row) in csv.rows.enumerated() {
            guard let id = Int(row[0]), let label = Int(row[1]), label == 0 || label == 1 else {
                throw ArtefactError("\(source) row \(r + 1): bad id or label")
            }
            var values: [Double] = []
            values.reserveCapacity(names.count)
            for (j, cell) in row.dropFirst(2).enumerated() {
                guard let v = Double(cell), v.isFinite else {
                    throw ArtefactError("\(source) row \(r + 1): `\(names[j])` is not a number: \(cell)")
                }
                values.append(v)
            }
            table.applicantIDs.append(id)
            table.labels.append(label)
            table.rows.append(values)
        }
        return table
    }

    public static func read(_ path: String) throws -> FeatureTable {
        try parse(try Artefacts.readText(path), source: path)
    }

    public func write(to path: String) throws {
        try Artefacts.writeText(renderCSV(), to: path)
    }
}
