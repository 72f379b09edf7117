// LogisticRegression — L2-regularised logistic regression fitted by Newton's method (IRLS).
//
// Minimises  J(b, w) = Σᵢ [ log(1 + e^{ηᵢ}) − yᵢ ηᵢ ] + (λ/2) ‖w‖²,  ηᵢ = b + wᵀxᵢ
// (the intercept b is not penalised). Each iteration solves (X̃ᵀ W X̃ + λ Ĩ) δ = ∇J with Cholesky
// (Gaussian elimination as fallback), W = diag(pᵢ(1 − pᵢ)), and steps β ← β − δ, halving the step
// while J does not decrease. It has converged when max |step| < tol. On separable data with λ = 0
// the optimum is at infinity: the fit stops at max_iter with converged = false.
import Foundation

public struct LogisticRegressionOptions: Equatable, Sendable {
    public var l2: Double
    public var maxIterations: Int
    public var tolerance: Double

    public init(l2: Double, maxIterations: Int, tolerance: Double) {
        self.l2 = l2
        self.maxIterations = maxIterations
        self.tolerance = tolerance
    }
}

public struct LogisticFit: Equatable, Sendable {
    public var intercept: Double
    public var weights: [Double]
    public var iterations: Int
    public var converged: Bool
    /// J at the solution.
    public var objective: Double
    /// Mean log loss on the training rows (no penalty).
    public var logLoss: Double
    /// max |∂J/∂β| at the solution.
    public var gradientMaxAbs: Double
}

public enum LogisticRegression {
    public static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }

    /// log(1 + e^z), without overflow.
    static func softplus(_ z: Double) -> Double {
        max(z, 0) + log1p(exp(-abs(z)))
    }

    public static func linearPredictor(intercept: Double, weights: [Double], row: [Double]) -> Double {
        var eta = intercept
        for j in 0..<weights.count { eta += weights[j] * row[j] }
        return eta
    }

    /// J(b, w) for the given data.
    public static func objective(x: [[Double]], y: [Int], intercept: Double, weights: [Double], l2: Double) -> Double {
        var loss = 0.0
        for i in 0..<x.count {
            let eta = linearPredictor(intercept: intercept, weights: weights, row: x[i])
            loss += softplus(eta) - Double(y[i]) * eta
        }
        return loss + 0.5 * l2 * weights.reduce(0) { $0 + $1 * $1 }
    }

    /// ∇J as [∂/∂b, ∂/∂w₁, …].
    public static func gradient(x: [[Double]], y: [Int], intercept: Double, weights: [Double], l2: Double) -> [Double] {
        let d = weights.count
        var g = Array(repeating: 0.0, count: d + 1)
        for i in 0..<x.count {
            let r = sigmoid(linearPredictor(intercept: intercept, weights: weights, row: x[i])) - Double(y[i])
            g[0] += r
            for j in 0..<d { g[j + 1] += r * x[i][j] }
        }
        for j in 0..<d { g[j + 1] += l2 * weights[j] }
        return g
    }

    public static func fit(x: [[Double]], y: [Int], options: LogisticRegressionOptions) throws -> LogisticFit {
        let n = x.count
        guard n > 0, y.count == n else { throw ArtefactError("logistic regression needs rows with labels") }
        let d = x[0].count
        guard x.allSatisfy({ $0.count == d }) else { throw ArtefactError("ragged design matrix") }
        guard options.l2 >= 0, options.maxIterations > 0, options.tolerance > 0 else {
            throw ArtefactError("l2 must be ≥ 0, max_iter > 0, tol > 0")
        }
        let positives = y.reduce(0, +)
        // Start at the intercept-only solution (the log-odds of the base rate), weights at zero.
        let base = min(max(Double(positives) / Double(n), 1e-6), 1 - 1e-6)
        var beta = [log(base / (1 - base))] + Array(repeating: 0.0, count: d)
        var current = objective(x: x, y: y, intercept: beta[0], weights: Array(beta.dropFirst()), l2: options.l2)
        var iterations = 0
        var converged = false

        while iterations < options.maxIterations {
            iterations += 1
            // Gradient and Hessian of J over the augmented design [1, x].
            var g = Array(repeating: 0.0, count: d + 1)
            var h = Array(repeating: Array(repeating: 0.0, count: d + 1), count: d + 1)
            var row = Array(repeating: 1.0, count: d + 1)
            for i in 0..<n {
                for j in 0..<d { row[j + 1] = x[i][j] }
                var eta = 0.0
                for j in 0...d { eta += beta[j] * row[j] }
                let p = sigmoid(eta)
                let r = p - Double(y[i])
                let w = max(p * (1 - p), 1e-12)
                for j in 0...d {
                    g[j] += r * row[j]
                    let wj = w * row[j]
                    if wj == 0 { continue }
                    for k in 0...j { h[j][k] += wj * row[k] }
                }
            }
            for j in stride(from: 1, through: d, by: 1) {
                g[j] += options.l2 * beta[j]
                h[j][j] += options.l2
            }
            for j in 0...d { for k in 0..<j { h[k][j] = h[j][k] } }

            let delta = try LinearSolver.solve(h, g)
            var step = 1.0
            var candidate = beta
            var value = current
            for _ in 0..<40 {
                candidate = zip(beta, delta).map { $0 - step * $1 }
                value = objective(x: x, y: y, intercept: candidate[0], weights: Array(candidate.dropFirst()), l2: options.l2)
                if value.isFinite && value <= current + 1e-12 * max(1, abs(current)) { break }
                step *= 0.5
            }
            let change = zip(beta, candidate).reduce(0.0) { max($0, abs($1.0 - $1.1)) }
            beta = candidate
            current = value
            if change < options.tolerance {
                converged = true
                break
            }
        }
        let weights = Array(beta.dropFirst())
        let grad = gradient(x: x, y: y, intercept: beta[0], weights: weights, l2: options.l2)
        let penalty = 0.5 * options.l2 * weights.reduce(0) { $0 + $1 * $1 }
        return LogisticFit(intercept: beta[0], weights: weights, iterations: iterations, converged: converged,
                           objective: current, logLoss: (current - penalty) / Double(n),
                           gradientMaxAbs: grad.reduce(0) { max($0, abs($1)) })
    }
}
