// monitor_drift — population stability between the training split (reference) and the test split
// (current): PSI per attribute (numeric: binned at train quantiles; categorical: by level), PSI of
// the model score, KS per numeric feature and for the score; writes reports/drift_report.json.
// Status per item: stable (PSI < psi_warning), moderate (< psi_critical) or significant.
import CreditRisk
import Foundation

enum MonitorDrift {
    struct Params: Decodable {
        let bins: Int
        let psiWarning: Double
        let psiCritical: Double
        let epsilon: Double

        enum CodingKeys: String, CodingKey {
            case bins, epsilon
            case psiWarning = "psi_warning"
            case psiCritical = "psi_critical"
        }
    }

    struct Item: Encodable {
        let type: String
        let psi: Double
        let status: String
        let ks: Double?
        let ksPValue: Double?
        let meanReference: Double?
        let meanCurrent: Double?

        enum CodingKeys: String, CodingKey {
            case type, psi, status, ks
            case ksPValue = "ks_p_value"
            case meanReference = "mean_reference"
            case meanCurrent = "mean_current"
        }
    }

    struct Report: Encodable {
        let reference: String
        let current: String
        let referenceRows: Int
        let currentRows: Int
        let bins: Int
        let psiWarning: Double
        let psiCritical: Double
        let features: [String: Item]
        let score: Item
        let counts: [String: Int]
        let status: String

        enum CodingKeys: String, CodingKey {
            case reference, current, bins, features, score, counts, status
            case referenceRows = "reference_rows"
            case currentRows = "current_rows"
            case psiWarning = "psi_warning"
            case psiCritical = "psi_critical"
        }
    }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("drift", as: Params.self)
        guard params.bins >= 2, params.psiWarning < params.psiCritical else {
            throw ArtefactError("drift: bins must be ≥ 2 and psi_warning < psi_critical")
        }
        let train = try FeatureTable.read(ProjectPaths.train)
        let test = try FeatureTable.read(ProjectPaths.test)
        guard train.featureNames == test.featureNames else {
            throw ArtefactError("train and test have different feature columns")
        }
        let model = try ScoringModel.read(ProjectPaths.model)
        let r = { (x: Double) in NumberFormat.rounded(x) }
        func status(_ psi: Double) -> String {
            psi >= params.psiCritical ? "significant" : (psi >= params.psiWarning ? "moderate" : "stable")
        }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
        func numericItem(_ a: [Double], _ b: [Double]) -> Item {
            let psi = DriftMetrics.numericPSI(expected: a, actual: b, bins: params.bins, epsilon: params.epsilon)
            let ks = DriftMetrics.ks(a, b)
            return Item(type: "numeric", psi: r(psi), status: status(psi), ks: r(ks.statistic),
                        ksPValue: r(ks.pValue), meanReference: r(mean(a)), meanCurrent: r(mean(b)))
        }

        var items: [String: Item] = [:]
        for group in train.groups() {
            switch group.kind {
            case .numeric(let j):
                items[group.attribute] = numericItem(train.column(j), test.column(j))
            case .indicators(let indicators):
                func levels(_ t: FeatureTable) -> [String] {
                    t.rows.map { row in indicators.first { row[$0.column] == 1 }?.level ?? "(none)" }
                }
                let psi = DriftMetrics.categoricalPSI(expected: levels(train), actual: levels(test), epsilon: params.epsilon)
                items[group.attribute] = Item(type: "categorical", psi: r(psi), status: status(psi), ks: nil,
                                              ksPValue: nil, meanReference: nil, meanCurrent: nil)
            }
        }
        let scoreItem = numericItem(try model.score(train), try model.score(test))
        var counts = ["stable": 0, "moderate": 0, "significant": 0]
        for item in items.values { counts[item.status, default: 0] += 1 }
        let all = Array(items.values) + [scoreItem]
        let overall = all.contains { $0.status == "significant" } ? "alert"
            : (all.contains { $0.status == "moderate" } ? "warning" : "stable")
        let report = Report(reference: ProjectPaths.train, current: ProjectPaths.test, referenceRows: train.rowCount,
                            currentRows: test.rowCount, bins: params.bins, psiWarning: params.psiWarning,
                            psiCritical: params.psiCritical, features: items, score: scoreItem, counts: counts,
                            status: overall)
        try Artefacts.writeJSON(report, to: ProjectPaths.driftReport)

        let worst = items.sorted { $0.value.psi != $1.value.psi ? $0.value.psi > $1.value.psi : $0.key < $1.key }.prefix(3)
        print("monitor_drift: \(overall.uppercased()): score PSI \(NumberFormat.fixed(scoreItem.psi, places: 4)) "
              + "(\(scoreItem.status)), features stable \(counts["stable"]!), moderate \(counts["moderate"]!), "
              + "significant \(counts["significant"]!)")
        for (name, item) in worst {
            print("  PSI \(NumberFormat.fixed(item.psi, places: 4)) \(item.status)  \(name)")
        }
        print("  wrote \(ProjectPaths.driftReport)")
        return 0
    }
}
