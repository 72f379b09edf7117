// WeightOfEvidence — per-level WoE of a categorical attribute, fitted on labelled rows.
//
// WoE(level) = ln( (goods_level + s) / (G + s·k)  ÷  (bads_level + s) / (B + s·k) ),
// the scorecard convention (positive = safer than average), with additive smoothing s over the k
// levels so that a level with no goods or no bads gets a finite value. The information value
// IV = Σ (good share − bad share) · WoE summarises the attribute's strength.
import Foundation

public struct WoETable: Equatable, Sendable {
    public let woe: [String: Double]
    public let informationValue: Double
}

public enum WeightOfEvidence {
    /// `levels` are the allowed levels, `observed` the level of each row and `labels` its 0/1 label
    /// (1 = bad).
    public static func fit(levels: [String], observed: [String], labels: [Int], smoothing: Double) -> WoETable {
        var goods: [String: Double] = [:], bads: [String: Double] = [:]
        for level in levels { goods[level] = 0; bads[level] = 0 }
        for (level, y) in zip(observed, labels) {
            if y == 1 { bads[level, default: 0] += 1 } else { goods[level, default: 0] += 1 }
        }
        let k = Double(levels.count)
        let totalGood = goods.values.reduce(0, +) + smoothing * k
        let totalBad = bads.values.reduce(0, +) + smoothing * k
        var woe: [String: Double] = [:]
        var iv = 0.0
        for level in levels {
            let g = (goods[level]! + smoothing) / totalGood
            let b = (bads[level]! + smoothing) / totalBad
            let w = (g > 0 && b > 0) ? log(g / b) : 0
            woe[level] = w
            iv += (g - b) * w
        }
        return WoETable(woe: woe, informationValue: iv)
    }
}
