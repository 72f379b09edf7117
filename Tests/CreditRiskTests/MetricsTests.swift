import Foundation
import Testing
@testable import CreditRisk

/// Hand-computed cases for AUC (ties ½), Gini, KS and the confusion matrix.
struct MetricsTests {
    @Test func aucWithoutTies() {
        // Pairs (bad, good): (0.35, 0.1) ✓ (0.35, 0.4) ✗ (0.8, 0.1) ✓ (0.8, 0.4) ✓ → 3/4.
        let auc = ClassificationMetrics.auc(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1])
        #expect(abs(auc - 0.75) < 1e-12)
    }

    @Test func aucCountsTiesAsHalf() {
        // Bads {0.5, 0.9}, goods {0.5, 0.5}: 0.5 vs 0.5 twice → ½ + ½; 0.9 beats both → 2. (1 + 2) / 4.
        let auc = ClassificationMetrics.auc(scores: [0.5, 0.5, 0.5, 0.9], labels: [0, 1, 0, 1])
        #expect(abs(auc - 0.75) < 1e-12)
        // Everything tied: exactly ½.
        #expect(ClassificationMetrics.auc(scores: [0.3, 0.3, 0.3, 0.3, 0.3], labels: [1, 0, 0, 1, 0]) == 0.5)
        // bads {0.2, 0.7}, goods {0.2, 0.1}: 0.2 vs 0.2 → ½, 0.2 vs 0.1 → 1, 0.7 beats both → 2; 3.5 / 4.
        let mixed = ClassificationMetrics.auc(scores: [0.2, 0.7, 0.2, 0.1], labels: [1, 1, 0, 0])
        #expect(abs(mixed - 0.875) < 1e-12)
    }

    @Test func aucOfPerfectAndReversedRanking() {
        #expect(ClassificationMetrics.auc(scores: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1]) == 1)
        #expect(ClassificationMetrics.auc(scores: [0.9, 0.8, 0.2, 0.1], labels: [0, 0, 1, 1]) == 0)
        #expect(ClassificationMetrics.auc(scores: [0.1, 0.2], labels: [1, 1]).isNaN)
    }

    @Test func giniIsTwiceAucMinusOne() {
        #expect(ClassificationMetrics.gini(auc: 0.75) == 0.5)
        #expect(ClassificationMetrics.gini(auc: 0.5) == 0)
        #expect(ClassificationMetrics.gini(auc: 1) == 1)
    }

    @Test func ksStatisticAndThreshold() {
        // Thresholds (desc): 0.8 → TPR ½, FPR 0; 0.4 → ½, ½; 0.35 → 1, ½; 0.1 → 1, 1. KS = ½, first at 0.8.
        let ks = ClassificationMetrics.ks(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1])
        #expect(abs(ks.statistic - 0.5) < 1e-12)
        #expect(ks.threshold == 0.8)
        let perfect = ClassificationMetrics.ks(scores: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1])
        #expect(perfect.statistic == 1)
    }

    @Test func rocCurveHasOnePointPerDistinctScore() {
        let roc = ClassificationMetrics.rocCurve(scores: [0.5, 0.5, 0.5, 0.9], labels: [0, 1, 0, 1])
        #expect(roc == [
            ROCPoint(fpr: 0, tpr: 0, threshold: 1),
            ROCPoint(fpr: 0, tpr: 0.5, threshold: 0.9),
            ROCPoint(fpr: 1, tpr: 1, threshold: 0.5),
        ])
    }

    @Test func confusionMatrixAtThreshold() {
        // Predicted bad when score ≥ 0.5: scores 0.5, 0.9 → bad.
        let cm = ClassificationMetrics.confusion(scores: [0.1, 0.5, 0.3, 0.9, 0.7], labels: [0, 0, 1, 1, 1], threshold: 0.5)
        #expect(cm == ConfusionMatrix(truePositive: 2, falsePositive: 1, trueNegative: 1, falseNegative: 1))
        #expect(abs(cm.accuracy - 0.6) < 1e-12)
        #expect(abs(cm.precision - 2.0 / 3.0) < 1e-12)
        #expect(abs(cm.recall - 2.0 / 3.0) < 1e-12)
        #expect(abs(cm.f1 - 2.0 / 3.0) < 1e-12)
    }

    @Test func evaluationReportRoundsAndCosts() {
        let (report, plot) = Evaluation.evaluate(
            dataset: "t", scores: [0.1, 0.5, 0.3, 0.9, 0.7], labels: [0, 0, 1, 1, 1], threshold: 0.5,
            costs: CostMatrix(falseNegative: 5, falsePositive: 1))
        // FN 1 × 5 + FP 1 × 1 over 5 rows.
        #expect(report.costPerApplicant == 1.2)
        #expect(report.positives == 3 && report.negatives == 2)
        #expect(report.auc == NumberFormat.rounded(ClassificationMetrics.auc(scores: [0.1, 0.5, 0.3, 0.9, 0.7],
                                                                                labels: [0, 0, 1, 1, 1])))
        #expect(plot.roc.first == ROCPoint(fpr: 0, tpr: 0, threshold: 1))
        #expect(plot.roc.last == ROCPoint(fpr: 1, tpr: 1, threshold: 0.1))
    }
}
