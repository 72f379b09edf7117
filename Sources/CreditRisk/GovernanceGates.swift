// GovernanceGates — the post-training checks a model must pass before it may be registered
// (reports/post_training_validation.json).
//
// Gates, each critical (blocks) or warning (reported only):
//   metrics_present      critical  both metric reports exist and could be read
//   model_converged      critical  the IRLS fit converged
//   test_auc_minimum     critical  test AUC ≥ min_test_auc_critical (0.70)
//   test_auc_target      warning   test AUC ≥ min_test_auc_warning (0.72)
//   train_test_auc_gap   critical  train AUC − test AUC ≤ max_auc_gap (over-fitting)
// status: "failed" if a critical gate failed, else "passed_with_warnings" if a warning gate failed,
// else "passed".

public struct GateResult: Codable, Equatable, Sendable {
    public let name: String
    public let severity: String
    public let passed: Bool
    public let value: Double?
    public let limit: Double?
    public let message: String
}

public struct GateThresholds: Equatable, Sendable {
    public var minTestAUCCritical: Double
    public var minTestAUCWarning: Double
    public var maxAUCGap: Double

    public init(minTestAUCCritical: Double, minTestAUCWarning: Double, maxAUCGap: Double) {
        self.minTestAUCCritical = minTestAUCCritical
        self.minTestAUCWarning = minTestAUCWarning
        self.maxAUCGap = maxAUCGap
    }
}

public struct ValidationReport: Codable, Equatable, Sendable {
    public let status: String
    public let criticalFailures: Int
    public let warnings: Int
    public let gates: [GateResult]
    public let trainAUC: Double?
    public let testAUC: Double?
    public let aucGap: Double?

    enum CodingKeys: String, CodingKey {
        case status, warnings, gates
        case criticalFailures = "critical_failures"
        case trainAUC = "train_auc"
        case testAUC = "test_auc"
        case aucGap = "auc_gap"
    }

    public var blocksRegistration: Bool { criticalFailures > 0 }
}

public enum GovernanceGates {
    public static let critical = "critical"
    public static let warning = "warning"

    /// `missingMetrics` names the metric files that were absent or unreadable; `trainAUC`/`testAUC`
    /// are nil when their file could not be read; `converged` is nil when the model could not be read.
    public static func evaluate(trainAUC: Double?, testAUC: Double?, missingMetrics: [String], converged: Bool?,
                                thresholds: GateThresholds) -> ValidationReport {
        let r = { (x: Double) in NumberFormat.rounded(x) }
        var gates: [GateResult] = []
        gates.append(GateResult(
            name: "metrics_present", severity: critical, passed: missingMetrics.isEmpty, value: nil, limit: nil,
            message: missingMetrics.isEmpty ? "train and test metrics are present"
                : "missing or unreadable: \(missingMetrics.joined(separator: ", "))"))
        gates.append(GateResult(
            name: "model_converged", severity: critical, passed: converged == true, value: nil, limit: nil,
            message: converged == nil ? "the model could not be read"
                : (converged! ? "the IRLS fit converged" : "the IRLS fit did not converge")))
        if let test = testAUC {
            gates.append(GateResult(
                name: "test_auc_minimum", severity: critical, passed: test >= thresholds.minTestAUCCritical,
                value: r(test), limit: thresholds.minTestAUCCritical,
                message: "test AUC \(format(test)) must be ≥ \(format(thresholds.minTestAUCCritical))"))
            gates.append(GateResult(
                name: "test_auc_target", severity: warning, passed: test >= thresholds.minTestAUCWarning,
                value: r(test), limit: thresholds.minTestAUCWarning,
                message: "test AUC \(format(test)) should be ≥ \(format(thresholds.minTestAUCWarning))"))
        } else {
            gates.append(GateResult(name: "test_auc_minimum", severity: critical, passed: false, value: nil,
                                    limit: thresholds.minTestAUCCritical, message: "no test AUC"))
        }
        var gap: Double? = nil
        if let train = trainAUC, let test = testAUC {
            gap = train - test
            gates.append(GateResult(
                name: "train_test_auc_gap", severity: critical, passed: gap! <= thresholds.maxAUCGap,
                value: r(gap!), limit: thresholds.maxAUCGap,
                message: "train − test AUC \(format(gap!)) must be ≤ \(format(thresholds.maxAUCGap))"))
        } else {
            gates.append(GateResult(name: "train_test_auc_gap", severity: critical, passed: false, value: nil,
                                    limit: thresholds.maxAUCGap, message: "train or test AUC is missing"))
        }
        let criticalFailures = gates.filter { !$0.passed && $0.severity == critical }.count
        let warnings = gates.filter { !$0.passed && $0.severity == warning }.count
        let status = criticalFailures > 0 ? "failed" : (warnings > 0 ? "passed_with_warnings" : "passed")
        return ValidationReport(status: status, criticalFailures: criticalFailures, warnings: warnings, gates: gates,
                                trainAUC: trainAUC.map(r), testAUC: testAUC.map(r), aucGap: gap.map(r))
    }

    static func format(_ x: Double) -> String {
        NumberFormat.fixed(x, places: 4)
    }
}
