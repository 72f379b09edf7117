import Foundation
import Testing
@testable import CreditRisk

struct LogisticRegressionTests {
    let unpenalised = LogisticRegressionOptions(l2: 0, maxIterations: 100, tolerance: 1e-12)

    @Test func binaryFeatureHasClosedFormSolution() throws {
        // x = 0: 1 bad of 4 → intercept = logit(¼) = −ln 3; x = 1: 3 of 4 → slope = logit(¾) − logit(¼) = 2 ln 3.
        let x: [[Double]] = [[0], [0], [0], [0], [1], [1], [1], [1]]
        let y = [1, 0, 0, 0, 1, 1, 1, 0]
        let fit = try LogisticRegression.fit(x: x, y: y, options: unpenalised)
        #expect(fit.converged)
        #expect(abs(fit.intercept + log(3.0)) < 1e-9)
        #expect(abs(fit.weights[0] - 2 * log(3.0)) < 1e-9)
        #expect(fit.gradientMaxAbs < 1e-9)
    }

    @Test func penalisedFitZeroesTheGradient() throws {
        // A non-separable set with two features; at the optimum ∇J = X̃ᵀ(p − y) + λ(0, w) = 0.
        let x: [[Double]] = [[0.5, 1.2], [1.5, -0.3], [-0.7, 0.8], [2.1, 1.9], [-1.2, -1.1],
                             [0.3, 0.1], [1.1, 2.2], [-0.4, -1.5], [0.9, -0.8], [-1.8, 0.4]]
        let y = [0, 1, 0, 1, 0, 1, 1, 0, 0, 1]
        let fit = try LogisticRegression.fit(x: x, y: y, options: .init(l2: 2, maxIterations: 50, tolerance: 1e-12))
        #expect(fit.converged)
        let g = LogisticRegression.gradient(x: x, y: y, intercept: fit.intercept, weights: fit.weights, l2: 2)
        #expect(g.allSatisfy { abs($0) < 1e-9 })
        // A nudge in any direction raises the objective.
        let j0 = LogisticRegression.objective(x: x, y: y, intercept: fit.intercept, weights: fit.weights, l2: 2)
        for k in 0..<2 {
            var w = fit.weights
            w[k] += 1e-3
            #expect(LogisticRegression.objective(x: x, y: y, intercept: fit.intercept, weights: w, l2: 2) > j0)
        }
        // The penalty shrinks the weights compared with the unpenalised fit.
        let free = try LogisticRegression.fit(x: x, y: y, options: unpenalised)
        #expect(fit.weights.map(abs).reduce(0, +) < free.weights.map(abs).reduce(0, +))
    }

    @Test func separableDataDivergesWithoutPenalty() throws {
        let x: [[Double]] = [[-2], [-1], [1], [2]]
        let y = [0, 0, 1, 1]
        let free = try LogisticRegression.fit(x: x, y: y, options: .init(l2: 0, maxIterations: 25, tolerance: 1e-10))
        #expect(!free.converged)
        #expect(free.weights[0] > 5)
        let ridge = try LogisticRegression.fit(x: x, y: y, options: .init(l2: 1, maxIterations: 50, tolerance: 1e-10))
        #expect(ridge.converged)
        #expect(ridge.weights[0] > 0 && ridge.weights[0] < 5)
        #expect(abs(ridge.intercept) < 1e-9)  // symmetric data
        #expect(ridge.gradientMaxAbs < 1e-8)
    }

    @Test func linearSolvers() throws {
        // SPD system with solution (1, 2, 3).
        let a: [[Double]] = [[4, 2, 0], [2, 5, 1], [0, 1, 3]]
        let b: [Double] = [8, 15, 11]
        for x in [try LinearSolver.cholesky(a, b), try LinearSolver.gaussian(a, b)] {
            #expect(zip(x, [1.0, 2, 3]).allSatisfy { abs($0 - $1) < 1e-12 })
        }
        // A zero leading pivot needs row exchanges; not positive definite, so `solve` falls back.
        let p: [[Double]] = [[0, 1], [1, 0]]
        #expect(throws: LinearSolverError.self) { try LinearSolver.cholesky(p, [2, 3]) }
        #expect(try LinearSolver.solve(p, [2, 3]) == [3, 2])
        #expect(throws: LinearSolverError.self) { try LinearSolver.gaussian([[1, 2], [2, 4]], [1, 2]) }
    }

    @Test func trainerAndScoringModelAgree() throws {
        // One numeric feature and one two-level attribute; the model must score its training rows with the
        // same probabilities the regression fitted.
        let table = FeatureTable(
            featureNames: ["age", "housing=own", "housing=rent"],
            applicantIDs: Array(1...8), labels: [0, 1, 0, 1, 0, 0, 1, 1],
            rows: [[20, 1, 0], [25, 0, 1], [30, 1, 0], [35, 0, 1], [40, 1, 0], [45, 1, 0], [50, 0, 1], [55, 1, 0]])
        let options = TrainerOptions(encoding: .onehot, dropReferenceLevel: true, woeSmoothing: 0.5, standardize: true,
                                     regression: .init(l2: 1, maxIterations: 50, tolerance: 1e-12), threshold: 0.5)
        let model = try ModelTrainer.fit(table, target: "label", options: options)
        #expect(model.converged)
        #expect(model.features == ["age", "housing=rent"])  // "own" (5 of 8) is the reference
        #expect(model.referenceLevels == ["housing": "own"])
        #expect(model.specs[0].mean == 37.5)
        let design = try model.design(table)
        let fit = try LogisticRegression.fit(x: design, y: table.labels, options: options.regression)
        let expected = design.map {
            LogisticRegression.sigmoid(LogisticRegression.linearPredictor(intercept: fit.intercept, weights: fit.weights, row: $0))
        }
        let scores = try model.score(table)
        #expect(zip(scores, expected).allSatisfy { abs($0 - $1) < 1e-8 })
        // The model survives a JSON round trip unchanged.
        let decoded = try JSONDecoder().decode(ScoringModel.self, from: Artefacts.jsonData(model))
        #expect(decoded == model)
    }

    @Test func weightOfEvidence() {
        // A: 2 goods, 1 bad; B: 1 good, 3 bads; G = 3, B = 4 (no smoothing).
        let t = WeightOfEvidence.fit(levels: ["A", "B"], observed: ["A", "A", "A", "B", "B", "B", "B"],
                                     labels: [0, 0, 1, 0, 1, 1, 1], smoothing: 0)
        #expect(abs(t.woe["A"]! - log((2.0 / 3) / (1.0 / 4))) < 1e-12)
        #expect(abs(t.woe["B"]! - log((1.0 / 3) / (3.0 / 4))) < 1e-12)
        let iv = (2.0 / 3 - 1.0 / 4) * log(8.0 / 3) + (1.0 / 3 - 3.0 / 4) * log(4.0 / 9)
        #expect(abs(t.informationValue - iv) < 1e-12)
        // Smoothing keeps a level without bads finite.
        let s = WeightOfEvidence.fit(levels: ["A", "B"], observed: ["A", "B", "B"], labels: [0, 1, 0], smoothing: 0.5)
        #expect(s.woe["A"]!.isFinite && s.woe["A"]! > 0)
    }
}
