// ClassificationMetrics — how well scores separate bads (label 1) from goods (label 0).
//
// AUC: the Mann–Whitney probability that a random bad outscores a random good, ties counted ½
//      (computed from mid-ranks). Gini = 2·AUC − 1.
// KS:  max over thresholds t of |TPR(t) − FPR(t)|, predicting bad when score ≥ t.
// ROC: one point per distinct score (descending), starting at (0, 0) with threshold 1.
// Confusion matrix, accuracy, precision, recall, F1 at a given threshold (bad when score ≥ threshold).

public struct ROCPoint: Codable, Equatable, Sendable {
    public let fpr: Double
    public let tpr: Double
    public let threshold: Double

    public init(fpr: Double, tpr: Double, threshold: Double) {
        self.fpr = fpr
        self.tpr = tpr
        self.threshold = threshold
    }
}

public struct ConfusionMatrix: Codable, Equatable, Sendable {
    public let truePositive: Int
    public let falsePositive: Int
    public let trueNegative: Int
    public let falseNegative: Int

    enum CodingKeys: String, CodingKey {
        case truePositive = "true_positive"
        case falsePositive = "false_positive"
        case trueNegative = "true_negative"
        case falseNegative = "false_negative"
    }

    public init(truePositive: Int, falsePositive: Int, trueNegative: Int, falseNegative: Int) {
        self.truePositive = truePositive
        self.falsePositive = falsePositive
        self.trueNegative = trueNegative
        self.falseNegative = falseNegative
    }

    public var total: Int { truePositive + falsePositive + trueNegative + falseNegative }
    public var accuracy: Double { total == 0 ? 0 : Double(truePositive + trueNegative) / Double(total) }
    public var precision: Double {
        truePositive + falsePositive == 0 ? 0 : Double(truePositive) / Double(truePositive + falsePositive)
    }
    public var recall: Double {
        truePositive + falseNegative == 0 ? 0 : Double(truePositive) / Double(truePositive + falseNegative)
    }
    public var specificity: Double {
        trueNegative + falsePositive == 0 ? 0 : Double(trueNegative) / Double(trueNegative + falsePositive)
    }
    public var f1: Double {
        let p = precision, r = recall
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
}

public enum ClassificationMetrics {
    /// ROC AUC by Mann–Whitney U with mid-ranks for ties. NaN when a class is absent.
    public static func auc(scores: [Double], labels: [Int]) -> Double {
        precondition(scores.count == labels.count)
        let nPos = labels.reduce(0, +), nNeg = labels.count - nPos
        guard nPos > 0, nNeg > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSumPos = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let midRank = Double(i + j + 2) / 2  // ranks are 1-based: (i+1 + j+1) / 2
            for k in i...j where labels[order[k]] == 1 { rankSumPos += midRank }
            i = j + 1
        }
        let u = rankSumPos - Double(nPos) * Double(nPos + 1) / 2
        return u / (Double(nPos) * Double(nNeg))
    }

    public static func gini(auc: Double) -> Double { 2 * auc - 1 }

    /// The ROC curve: (0, 0) at threshold 1, then one point per distinct score, highest first.
    public static func rocCurve(scores: [Double], labels: [Int]) -> [ROCPoint] {
        let nPos = Double(labels.reduce(0, +)), nNeg = Double(labels.count) - nPos
        guard nPos > 0, nNeg > 0 else { return [] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points = [ROCPoint(fpr: 0, tpr: 0, threshold: 1)]
        var tp = 0.0, fp = 0.0
        var i = 0
        while i < order.count {
            let t = scores[order[i]]
            while i < order.count && scores[order[i]] == t {
                if labels[order[i]] == 1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append(ROCPoint(fpr: fp / nNeg, tpr: tp / nPos, threshold: t))
        }
        return points
    }

    /// The KS statistic and the threshold where it is reached.
    public static func ks(scores: [Double], labels: [Int]) -> (statistic: Double, threshold: Double) {
        var best = (statistic: 0.0, threshold: 1.0)
        for p in rocCurve(scores: scores, labels: labels) where abs(p.tpr - p.fpr) > best.statistic {
            best = (abs(p.tpr - p.fpr), p.threshold)
        }
        return best
    }

    public static func confusion(scores: [Double], labels: [Int], threshold: Double) -> ConfusionMatrix {
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (s, y) in zip(scores, labels) {
            let predictedBad = s >= threshold
            switch (predictedBad, y == 1) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        return ConfusionMatrix(truePositive: tp, falsePositive: fp, trueNegative: tn, falseNegative: fn)
    }
}
