// build_feature_store — turns data/interim/applications.csv into the numeric feature table
// data/processed/features.csv (applicant_id, label 1 = bad, then features): one indicator column per
// category level, numeric attributes (log1p where listed) and credit_amount_per_month. Only
// row-wise, label-free transforms happen here; see FeatureEncoding and ModelTrainer.
import CreditRisk

enum BuildFeatureStore {
    struct Params: Decodable {
        let log1p: [String]
        let addAmountPerMonth: Bool

        enum CodingKeys: String, CodingKey {
            case log1p
            case addAmountPerMonth = "add_amount_per_month"
        }
    }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("features", as: Params.self)
        let contract = GermanCreditContract.contract
        let csv = try CSV.parse(try Artefacts.readText(ProjectPaths.applications))
        let checked = contract.validate(csv, idColumn: TypedTable.idColumn)
        guard let table = checked.table else {
            let first = checked.violations.first.map { "\($0.rule): \($0.message)" } ?? "unknown"
            throw ArtefactError("\(ProjectPaths.applications) breaks the data contract "
                                + "(\(checked.violations.count) violations; first: \(first)); re-run ingest_data")
        }
        let features = try FeatureEncoding.build(
            table, contract: contract, positiveLabel: GermanCreditContract.badLabel,
            options: FeatureEncodingOptions(log1p: params.log1p, addAmountPerMonth: params.addAmountPerMonth))
        try features.write(to: ProjectPaths.features)

        let groups = features.groups()
        let numeric = groups.filter { if case .numeric = $0.kind { return true } else { return false } }.count
        let bads = features.labels.reduce(0, +)
        print("build_feature_store: \(features.rowCount) applicants, \(features.featureNames.count) features "
              + "(\(numeric) numeric, \(features.featureNames.count - numeric) indicators of \(groups.count - numeric) "
              + "categorical attributes), bad rate \(NumberFormat.fixed(Double(bads) / Double(features.rowCount), places: 3))")
        print("  wrote \(ProjectPaths.features)")
        return 0
    }
}
