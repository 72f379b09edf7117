// LinearSolver — solves A x = b for the small dense systems of Newton's method.
//
// `cholesky` for symmetric positive-definite A (the penalised Hessian), `gaussian` (partial pivoting)
// as the general fallback; `solve` tries the first, then the second.

public enum LinearSolverError: Error, Equatable, CustomStringConvertible {
    case notPositiveDefinite(pivot: Int)
    case singular(column: Int)
    case dimensionMismatch

    public var description: String {
        switch self {
        case .notPositiveDefinite(let p): return "matrix is not positive definite (pivot \(p))"
        case .singular(let c): return "matrix is singular (column \(c))"
        case .dimensionMismatch: return "matrix and vector sizes differ"
        }
    }
}

public enum LinearSolver {
    /// Solves A x = b by Cholesky factorisation A = L Lᵀ. `a` is row-major n × n and symmetric.
    public static func cholesky(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        let n = b.count
        guard a.count == n, a.allSatisfy({ $0.count == n }) else { throw LinearSolverError.dimensionMismatch }
        var l = Array(repeating: Array(repeating: 0.0, count: n), count: n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i][j]
                for k in 0..<j { sum -= l[i][k] * l[j][k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { throw LinearSolverError.notPositiveDefinite(pivot: i) }
                    l[i][i] = sum.squareRoot()
                } else {
                    l[i][j] = sum / l[j][j]
                }
            }
        }
        // L y = b, then Lᵀ x = y.
        var y = Array(repeating: 0.0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i][k] * y[k] }
            y[i] = sum / l[i][i]
        }
        var x = Array(repeating: 0.0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = y[i]
            for k in (i + 1)..<n { sum -= l[k][i] * x[k] }
            x[i] = sum / l[i][i]
        }
        return x
    }

    /// Solves A x = b by Gaussian elimination with partial (row) pivoting.
    public static func gaussian(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        let n = b.count
        guard a.count == n, a.allSatisfy({ $0.count == n }) else { throw LinearSolverError.dimensionMismatch }
        var m = a
        var v = b
        let scale = a.flatMap { $0 }.reduce(0) { max($0, abs($1)) }
        let eps = Double.ulpOfOne * Double(max(n, 1)) * max(scale, 1e-300)
        for col in 0..<n {
            var pivot = col
            for r in (col + 1)..<n where abs(m[r][col]) > abs(m[pivot][col]) { pivot = r }
            guard abs(m[pivot][col]) > eps else { throw LinearSolverError.singular(column: col) }
            if pivot != col { m.swapAt(pivot, col); v.swapAt(pivot, col) }
            for r in (col + 1)..<n {
                let f = m[r][col] / m[col][col]
                if f == 0 { continue }
                for c in col..<n { m[r][c] -= f * m[col][c] }
                v[r] -= f * v[col]
            }
        }
        var x = Array(repeating: 0.0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = v[i]
            for k in (i + 1)..<n { sum -= m[i][k] * x[k] }
            x[i] = sum / m[i][i]
        }
        return x
    }

    /// Cholesky, falling back to Gaussian elimination when A is not (numerically) positive definite.
    public static func solve(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        do {
            return try cholesky(a, b)
        } catch LinearSolverError.notPositiveDefinite {
            return try gaussian(a, b)
        }
    }
}
