// Evaluation — scores one split with the model and gathers its metrics report and ROC curve
// (reports/metrics.json, reports/test_metrics.json, reports/plots/roc_*.json).
//
// Fields of the report (all rounded to 6 decimals): dataset, rows, positives (bads), negatives,
// bad_rate, auc, gini, ks, ks_threshold, threshold, accuracy, precision, recall, specificity, f1,
// log_loss, brier, confusion_matrix {true_positive, false_positive, true_negative, false_negative},
// cost_per_applicant (cost_false_negative·FN + cost_false_positive·FP, divided by rows: the classic
// German-credit cost matrix counts a bad accepted as 5, a good rejected as 1).
import Foundation

public struct EvaluationReport: Codable, Equatable, Sendable {
    public var dataset: String
    public var rows: Int
    public var positives: Int
    public var negatives: Int
    public var badRate: Double
    public var auc: Double
    public var gini: Double
    public var ks: Double
    public var ksThreshold: Double
    public var threshold: Double
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var specificity: Double
    public var f1: Double
    public var logLoss: Double
    public var brier: Double
    public var costPerApplicant: Double
    public var confusionMatrix: ConfusionMatrix

    enum CodingKeys: String, CodingKey {
        case dataset, rows, positives, negatives, auc, gini, ks, threshold, accuracy, precision, recall
        case specificity, f1, brier
        case badRate = "bad_rate"
        case ksThreshold = "ks_threshold"
        case logLoss = "log_loss"
        case costPerApplicant = "cost_per_applicant"
        case confusionMatrix = "confusion_matrix"
    }
}

/// The ROC plot file: `{"roc": [{fpr, tpr, threshold}, …]}`.
public struct ROCPlot: Codable, Equatable, Sendable {
    public var roc: [ROCPoint]
}

/// The `evaluate` section of params.yaml, shared by evaluate_train and evaluate_test.
public struct EvaluationParams: Decodable, Equatable, Sendable {
    public let costFalseNegative: Double
    public let costFalsePositive: Double

    enum CodingKeys: String, CodingKey {
        case costFalseNegative = "cost_false_negative"
        case costFalsePositive = "cost_false_positive"
    }

    public var costs: CostMatrix { CostMatrix(falseNegative: costFalseNegative, falsePositive: costFalsePositive) }
}

extension EvaluationReport {
    /// The one-line summary a stage prints.
    public func summary(stage: String) -> String {
        func f(_ x: Double) -> String { NumberFormat.fixed(x, places: 4) }
        let cm = confusionMatrix
        return "\(stage): \(rows) rows (\(positives) bad): AUC \(f(auc)), Gini \(f(gini)), KS \(f(ks)); "
            + "at threshold \(f(threshold)): accuracy \(f(accuracy)), precision \(f(precision)), "
            + "recall \(f(recall)), F1 \(f(f1)) [TP \(cm.truePositive) FP \(cm.falsePositive) "
            + "TN \(cm.trueNegative) FN \(cm.falseNegative)], cost/applicant \(f(costPerApplicant))"
    }
}

public struct CostMatrix: Equatable, Sendable {
    public var falseNegative: Double
    public var falsePositive: Double

    public init(falseNegative: Double, falsePositive: Double) {
        self.falseNegative = falseNegative
        self.falsePositive = falsePositive
    }
}

public enum Evaluation {
    public static func evaluate(dataset: String, scores: [Double], labels: [Int], threshold: Double,
                                costs: CostMatrix) -> (report: EvaluationReport, plot: ROCPlot) {
        let r = { (x: Double) in NumberFormat.rounded(x) }
        let auc = ClassificationMetrics.auc(scores: scores, labels: labels)
        let ks = ClassificationMetrics.ks(scores: scores, labels: labels)
        let cm = ClassificationMetrics.confusion(scores: scores, labels: labels, threshold: threshold)
        let n = Double(max(labels.count, 1))
        var logLoss = 0.0, brier = 0.0
        for (p, y) in zip(scores, labels) {
            let q = min(max(p, 1e-15), 1 - 1e-15)
            logLoss -= y == 1 ? log(q) : log(1 - q)
            brier += (p - Double(y)) * (p - Double(y))
        }
        let positives = labels.reduce(0, +)
        let report = EvaluationReport(
            dataset: dataset, rows: labels.count, positives: positives, negatives: labels.count - positives,
            badRate: r(Double(positives) / n), auc: r(auc), gini: r(ClassificationMetrics.gini(auc: auc)),
            ks: r(ks.statistic), ksThreshold: r(ks.threshold), threshold: r(threshold),
            accuracy: r(cm.accuracy), precision: r(cm.precision), recall: r(cm.recall),
            specificity: r(cm.specificity), f1: r(cm.f1), logLoss: r(logLoss / n), brier: r(brier / n),
            costPerApplicant: r((costs.falseNegative * Double(cm.falseNegative)
                                 + costs.falsePositive * Double(cm.falsePositive)) / n),
            confusionMatrix: cm)
        let points = ClassificationMetrics.rocCurve(scores: scores, labels: labels).map {
            ROCPoint(fpr: r($0.fpr), tpr: r($0.tpr), threshold: r($0.threshold))
        }
        return (report, ROCPlot(roc: points))
    }
}
