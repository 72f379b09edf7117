// DriftMetrics — how far a new sample (actual, e.g. test) has moved from a reference (expected,
// e.g. train).
//
// PSI = Σᵢ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over bins, with shares floored at `epsilon` so an empty bin stays
// finite. Usual reading: < 0.10 stable, 0.10–0.25 moderate shift, ≥ 0.25 significant shift.
// Numeric values are binned at the reference's quantiles (`quantileEdges`), categories by level.
// KS = sup |F_expected(x) − F_actual(x)| (two-sample), with the asymptotic Kolmogorov p-value.
import Foundation

public enum DriftMetrics {
    /// PSI between two distributions given as bin counts (same bins, same order).
    public static func psi(expected: [Double], actual: [Double], epsilon: Double = 1e-4) -> Double {
        precondition(expected.count == actual.count)
        let te = expected.reduce(0, +), ta = actual.reduce(0, +)
        guard te > 0, ta > 0 else { return 0 }
        var total = 0.0
        for (e, a) in zip(expected, actual) {
            let pe = max(e / te, epsilon), pa = max(a / ta, epsilon)
            total += (pa - pe) * log(pa / pe)
        }
        return total
    }

    /// Up to `bins − 1` distinct cut points at the quantiles k/bins of `reference` (bin i holds
    /// edges[i−1] ≤ x < edges[i]); repeated values give fewer, wider bins.
    public static func quantileEdges(_ reference: [Double], bins: Int) -> [Double] {
        let sorted = reference.sorted()
        guard bins > 1, !sorted.isEmpty else { return [] }
        var edges: [Double] = []
        for k in 1..<bins {
            let v = sorted[min(sorted.count - 1, (k * sorted.count) / bins)]
            if v > sorted[0], edges.last.map({ v > $0 }) ?? true { edges.append(v) }
        }
        return edges
    }

    /// Counts of `values` in the bins cut at `edges` (edges.count + 1 bins).
    public static func binCounts(_ values: [Double], edges: [Double]) -> [Double] {
        var counts = Array(repeating: 0.0, count: edges.count + 1)
        for v in values {
            // First edge greater than v: binary search.
            var lo = 0, hi = edges.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if edges[mid] <= v { lo = mid + 1 } else { hi = mid }
            }
            counts[lo] += 1
        }
        return counts
    }

    /// PSI of numeric values, binned at the reference's quantiles.
    public static func numericPSI(expected: [Double], actual: [Double], bins: Int, epsilon: Double = 1e-4) -> Double {
        let edges = quantileEdges(expected, bins: bins)
        return psi(expected: binCounts(expected, edges: edges), actual: binCounts(actual, edges: edges), epsilon: epsilon)
    }

    /// PSI of categorical values over the union of the levels seen.
    public static func categoricalPSI(expected: [String], actual: [String], epsilon: Double = 1e-4) -> Double {
        let levels = Set(expected).union(actual).sorted()
        var e: [String: Double] = [:], a: [String: Double] = [:]
        for v in expected { e[v, default: 0] += 1 }
        for v in actual { a[v, default: 0] += 1 }
        return psi(expected: levels.map { e[$0] ?? 0 }, actual: levels.map { a[$0] ?? 0 }, epsilon: epsilon)
    }

    /// Two-sample Kolmogorov–Smirnov statistic and asymptotic p-value.
    public static func ks(_ a: [Double], _ b: [Double]) -> (statistic: Double, pValue: Double) {
        guard !a.isEmpty, !b.isEmpty else { return (0, 1) }
        let x = a.sorted(), y = b.sorted()
        var i = 0, j = 0, d = 0.0
        while i < x.count && j < y.count {
            let v = min(x[i], y[j])
            while i < x.count && x[i] == v { i += 1 }
            while j < y.count && y[j] == v { j += 1 }
            d = max(d, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
        }
        let ne = Double(x.count) * Double(y.count) / Double(x.count + y.count)
        let lambda = (ne.squareRoot() + 0.12 + 0.11 / ne.squareRoot()) * d
        return (d, kolmogorovQ(lambda))
    }

    /// Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}, the survival function of the Kolmogorov distribution.
    static func kolmogorovQ(_ lambda: Double) -> Double {
        if lambda < 1e-3 { return 1 }
        var sum = 0.0, sign = 1.0
        for k in 1...100 {
            let term = sign * exp(-2 * Double(k * k) * lambda * lambda)
            sum += term
            if abs(term) < 1e-12 { break }
            sign = -sign
        }
        return min(max(2 * sum, 0), 1)
    }
}
