// validate_model — the post-training governance gates (GovernanceGates) on reports/metrics.json,
// reports/test_metrics.json and models/model.json; writes reports/post_training_validation.json
// and exits 1 when a critical gate fails (the report is written either way).
import CreditRisk
import Foundation

enum ValidateModel {
    struct Params: Decodable {
        let minTestAUCCritical: Double
        let minTestAUCWarning: Double
        let maxAUCGap: Double

        enum CodingKeys: String, CodingKey {
            case minTestAUCCritical = "min_test_auc_critical"
            case minTestAUCWarning = "min_test_auc_warning"
            case maxAUCGap = "max_auc_gap"
        }
    }

    /// The only fields the gates read, so the stage does not depend on the full report types.
    struct MetricsFields: Decodable { let auc: Double }
    struct ModelFields: Decodable { let converged: Bool }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("validate", as: Params.self)
        var missing: [String] = []
        func auc(_ path: String) -> Double? {
            guard let value = try? Artefacts.readJSON(MetricsFields.self, from: path), value.auc.isFinite else {
                missing.append(path)
                return nil
            }
            return value.auc
        }
        let trainAUC = auc(ProjectPaths.trainMetrics)
        let testAUC = auc(ProjectPaths.testMetrics)
        let converged = (try? Artefacts.readJSON(ModelFields.self, from: ProjectPaths.model))?.converged
        let report = GovernanceGates.evaluate(
            trainAUC: trainAUC, testAUC: testAUC, missingMetrics: missing, converged: converged,
            thresholds: GateThresholds(minTestAUCCritical: params.minTestAUCCritical,
                                       minTestAUCWarning: params.minTestAUCWarning, maxAUCGap: params.maxAUCGap))
        try Artefacts.writeJSON(report, to: ProjectPaths.validationReport)

        print("validate_model: \(report.status.uppercased()) (\(report.criticalFailures) critical failure(s), "
              + "\(report.warnings) warning(s))")
        for gate in report.gates {
            print("  [\(gate.passed ? "pass" : (gate.severity == GovernanceGates.critical ? "FAIL" : "warn"))] "
                  + "\(gate.name) (\(gate.severity)): \(gate.message)")
        }
        print("  wrote \(ProjectPaths.validationReport)")
        if report.blocksRegistration {
            FileHandle.standardError.write(Data("validate_model: a critical gate failed; the model must not be registered\n".utf8))
            return 1
        }
        return 0
    }
}
