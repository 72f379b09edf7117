// ingest_data — parses data/raw/germancredit.csv, enforces the data contract and writes the
// validated table (data/interim/applications.csv, with applicant_id = 1-based row number) and
// reports/data_contract.json. Any violation fails the stage (exit 1): the report then lists the
// offending rows and columns, and no table is written.
import CreditRisk
import Foundation

enum IngestData {
    struct Params: Decodable {
        /// At most this many violations are listed in the report (all are counted).
        let maxReportedViolations: Int

        enum CodingKeys: String, CodingKey {
            case maxReportedViolations = "max_reported_violations"
        }
    }

    struct Report: Encodable {
        let contract: String
        let contractVersion: Int
        let source: String
        let sourceSHA256: String
        let status: String
        let rowsChecked: Int
        let columnsChecked: Int
        let violationsTotal: Int
        let violationsByRule: [String: Int]
        let violationsByColumn: [String: Int]
        let violations: [ContractViolation]
        let violationsTruncated: Bool
        let labelCounts: [String: Int]

        enum CodingKeys: String, CodingKey {
            case contract, source, status, violations
            case contractVersion = "contract_version"
            case sourceSHA256 = "source_sha256"
            case rowsChecked = "rows_checked"
            case columnsChecked = "columns_checked"
            case violationsTotal = "violations_total"
            case violationsByRule = "violations_by_rule"
            case violationsByColumn = "violations_by_column"
            case violationsTruncated = "violations_truncated"
            case labelCounts = "label_counts"
        }
    }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("ingest", as: Params.self)
        let contract = GermanCreditContract.contract
        let raw = try Artefacts.readData(ProjectPaths.rawData)
        let text = String(decoding: raw, as: UTF8.self)

        let result: DataContract.Result
        var labelCounts: [String: Int] = [:]
        do {
            let csv = try CSV.parse(text)
            if let index = csv.columnIndex(contract.labelColumn) {
                for row in csv.rows { labelCounts[row[index], default: 0] += 1 }
            }
            result = contract.validate(csv)
        } catch {
            let violation = ContractViolation(row: nil, column: nil, value: nil, rule: "csv_syntax",
                                              message: "\(error)")
            result = DataContract.Result(rowsChecked: 0, violations: [violation], table: nil)
        }

        var byRule: [String: Int] = [:], byColumn: [String: Int] = [:]
        for v in result.violations {
            byRule[v.rule, default: 0] += 1
            if let column = v.column { byColumn[column, default: 0] += 1 }
        }
        let limit = max(0, params.maxReportedViolations)
        let report = Report(
            contract: contract.name, contractVersion: contract.version, source: ProjectPaths.rawData,
            sourceSHA256: SHA256.hex(raw), status: result.passed ? "passed" : "failed",
            rowsChecked: result.rowsChecked, columnsChecked: contract.columns.count,
            violationsTotal: result.violations.count, violationsByRule: byRule, violationsByColumn: byColumn,
            violations: Array(result.violations.prefix(limit)),
            violationsTruncated: result.violations.count > limit, labelCounts: labelCounts)
        try Artefacts.writeJSON(report, to: ProjectPaths.dataContractReport)

        guard result.passed, let table = result.table else {
            var message = "ingest_data: data contract FAILED: \(result.violations.count) violation(s) "
                + "in \(result.rowsChecked) rows (see \(ProjectPaths.dataContractReport))\n"
            for v in result.violations.prefix(10) {
                let place = [v.row.map { "row \($0)" }, v.column.map { "column `\($0)`" }]
                    .compactMap { $0 }.joined(separator: ", ")
                message += "  \(place.isEmpty ? "file" : place): \(v.rule): \(v.message)"
                    + (v.value.map { " (value \"\($0)\")" } ?? "") + "\n"
            }
            FileHandle.standardError.write(Data(message.utf8))
            return 1
        }
        try Artefacts.writeText(table.renderCSV(), to: ProjectPaths.applications)
        let counts = labelCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("ingest_data: \(result.rowsChecked) rows × \(contract.columns.count) columns passed "
              + "contract `\(contract.name)` v\(contract.version) (\(counts))")
        print("  wrote \(ProjectPaths.applications) and \(ProjectPaths.dataContractReport)")
        return 0
    }
}
