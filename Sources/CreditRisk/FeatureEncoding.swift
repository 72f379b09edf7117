// FeatureEncoding — the feature store's row-wise, label-free transforms of the applications table.
//
// Every categorical attribute becomes one indicator column per allowed level (full one-hot, levels in
// contract order; dropping a reference level or turning levels into weight of evidence needs the
// training labels or frequencies, so it happens in fit_model, on the training split only). Numeric
// attributes are kept, replaced by log1p(x) when listed in `log1p` (column renamed `x_log1p`), and an
// optional derived `credit_amount_per_month` = credit_amount / duration_in_month is appended.
// Nothing here looks at the label or at other rows, so building features on all rows leaks nothing.
import Foundation

public struct FeatureEncodingOptions: Equatable, Sendable {
    /// Numeric columns replaced by log1p(x).
    public var log1p: [String]
    /// Append credit_amount / duration_in_month (log1p-transformed too when credit_amount is).
    public var addAmountPerMonth: Bool

    public init(log1p: [String], addAmountPerMonth: Bool) {
        self.log1p = log1p
        self.addAmountPerMonth = addAmountPerMonth
    }
}

public enum FeatureEncoding {
    public static let amountPerMonth = "credit_amount_per_month"

    /// Builds the feature table from a validated applications table; `positiveLabel` is coded 1.
    public static func build(_ table: TypedTable, contract: DataContract, positiveLabel: String,
                             options: FeatureEncodingOptions) throws -> FeatureTable {
        guard let labels = table.categorical[contract.labelColumn] else {
            throw ArtefactError("the applications table has no label column `\(contract.labelColumn)`")
        }
        for name in options.log1p where table.columnTypes[name] != .numeric {
            throw ArtefactError("features.log1p: `\(name)` is not a numeric column")
        }
        let n = table.rowCount
        var names: [String] = []
        var columns: [[Double]] = []

        for column in contract.columns where column.name != contract.labelColumn {
            switch column.kind {
            case .integer:
                let raw = table.numeric[column.name]!
                if options.log1p.contains(column.name) {
                    names.append(column.name + "_log1p")
                    columns.append(raw.map { Foundation.log1p($0) })
                } else {
                    names.append(column.name)
                    columns.append(raw)
                }
            case .categorical(let levels):
                let values = table.categorical[column.name]!
                for level in levels {
                    names.append(FeatureTable.indicatorName(attribute: column.name, level: level))
                    columns.append(values.map { $0 == level ? 1 : 0 })
                }
            }
        }
        if options.addAmountPerMonth {
            guard let amount = table.numeric["credit_amount"], let months = table.numeric["duration_in_month"] else {
                throw ArtefactError("credit_amount_per_month needs credit_amount and duration_in_month")
            }
            let perMonth = zip(amount, months).map { $0 / max($1, 1) }
            if options.log1p.contains("credit_amount") {
                names.append(amountPerMonth + "_log1p")
                columns.append(perMonth.map { Foundation.log1p($0) })
            } else {
                names.append(amountPerMonth)
                columns.append(perMonth)
            }
        }

        var rows: [[Double]] = Array(repeating: [], count: n)
        for i in 0..<n {
            rows[i] = columns.map { NumberFormat.rounded($0[i], places: NumberFormat.csvDecimals) }
        }
        let y = labels.map { $0 == positiveLabel ? 1 : 0 }
        return FeatureTable(featureNames: names, applicantIDs: table.applicantIDs, labels: y, rows: rows)
    }
}
