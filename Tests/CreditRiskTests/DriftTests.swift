import Foundation
import Testing
@testable import CreditRisk

struct DriftTests {
    @Test func psiHandComputed() {
        // Shares ½, ½ → ¼, ¾: (¼ − ½)·ln(½) + (¾ − ½)·ln(3/2) = 0.274653…
        let psi = DriftMetrics.psi(expected: [50, 50], actual: [25, 75])
        #expect(abs(psi - (0.25 * log(2.0) + 0.25 * log(1.5))) < 1e-12)
        #expect(abs(psi - 0.2746530721670274) < 1e-12)
        #expect(DriftMetrics.psi(expected: [10, 20, 30], actual: [1, 2, 3]) == 0)
    }

    @Test func psiFloorsEmptyBins() {
        // An empty actual bin uses ε: (ε − ½)·ln(ε/½) + (1 − ½)·ln(1/½).
        let eps = 1e-4
        let psi = DriftMetrics.psi(expected: [1, 1], actual: [0, 4], epsilon: eps)
        #expect(abs(psi - ((eps - 0.5) * log(eps / 0.5) + 0.5 * log(2.0))) < 1e-12)
    }

    @Test func categoricalPSIOverLevels() {
        let psi = DriftMetrics.categoricalPSI(expected: ["a", "b", "a", "b"], actual: ["a", "b", "b", "b"])
        #expect(abs(psi - 0.2746530721670274) < 1e-12)
    }

    @Test func quantileBinning() {
        let values = (1...10).map(Double.init)
        let edges = DriftMetrics.quantileEdges(values, bins: 5)
        #expect(edges == [3, 5, 7, 9])
        #expect(DriftMetrics.binCounts(values, edges: edges) == [2, 2, 2, 2, 2])
        // Repeated values give fewer bins, never an empty first bin.
        #expect(DriftMetrics.quantileEdges([1, 1, 1, 1, 2, 2, 3, 4], bins: 4) == [2, 3])
        #expect(DriftMetrics.numericPSI(expected: values, actual: values, bins: 5) == 0)
    }

    @Test func twoSampleKS() {
        // F_a − F_b at 1…6: ¼, ½, ½, ½, ¼, 0 → D = ½.
        let ks = DriftMetrics.ks([1, 2, 3, 4], [3, 4, 5, 6])
        #expect(abs(ks.statistic - 0.5) < 1e-12)
        #expect(ks.pValue > 0 && ks.pValue < 1)
        #expect(DriftMetrics.ks([1, 2, 3], [1, 2, 3]).statistic == 0)
        #expect(DriftMetrics.ks([1, 2, 3], [10, 11, 12]).statistic == 1)
    }

    @Test func kolmogorovSurvivalFunction() {
        // Q(1) = 2 Σ (−1)^{k−1} e^{−2k²} = 0.26999967…
        #expect(abs(DriftMetrics.kolmogorovQ(1.0) - 0.2699996716735) < 1e-9)
        #expect(DriftMetrics.kolmogorovQ(0) == 1)
    }
}
