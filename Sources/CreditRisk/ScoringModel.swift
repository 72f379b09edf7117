// ScoringModel — the self-contained model artefact (models/model.json) and how it scores a table.
//
// It holds every fitted constant, so scoring needs nothing but the model and a feature table with
// the input columns: per model feature a spec (where its value comes from and how it is transformed),
// the WoE tables, the logistic-regression coefficients by feature name, the intercept and the
// decision threshold. p(bad) = σ(intercept + Σ coefficient·feature); predicted bad when p ≥ threshold.
import Foundation

public struct FeatureSpec: Codable, Equatable, Sendable {
    public enum Transform: String, Codable, Sendable {
        /// (column − mean) / std
        case standardize
        /// the column as is (a 0/1 indicator)
        case identity
        /// the weight of evidence of the attribute's level (0 for a level unseen in training)
        case woe
    }

    /// The model feature's name (the key of its coefficient).
    public var name: String
    public var transform: Transform
    /// The input column (standardize, identity) or the attribute (woe).
    public var source: String
    public var mean: Double?
    public var std: Double?

    public init(name: String, transform: Transform, source: String, mean: Double? = nil, std: Double? = nil) {
        self.name = name
        self.transform = transform
        self.source = source
        self.mean = mean
        self.std = std
    }
}

public struct TrainingSummary: Codable, Equatable, Sendable {
    public var rows: Int
    public var positives: Int
    public var l2: Double
    public var maxIter: Int
    public var tol: Double
    public var objective: Double
    public var logLoss: Double
    public var gradientMaxAbs: Double

    enum CodingKeys: String, CodingKey {
        case rows, positives, l2, tol, objective
        case maxIter = "max_iter"
        case logLoss = "log_loss"
        case gradientMaxAbs = "gradient_max_abs"
    }
}

public struct ScoringModel: Codable, Equatable, Sendable {
    public var formatVersion: Int = 1
    public var modelType: String = "logistic_regression_l2_irls"
    /// What p = 1 means.
    public var target: String
    /// "onehot" or "woe".
    public var categoricalEncoding: String
    /// Model feature names, in the order of `specs`.
    public var features: [String]
    public var specs: [FeatureSpec]
    public var coefficients: [String: Double]
    public var intercept: Double
    public var threshold: Double
    /// attribute → level → weight of evidence (woe encoding only).
    public var woe: [String: [String: Double]]
    /// attribute → the level left out as reference (onehot encoding with a reference level only).
    public var referenceLevels: [String: String]
    public var iterations: Int
    public var converged: Bool
    public var training: TrainingSummary

    enum CodingKeys: String, CodingKey {
        case features, specs, coefficients, intercept, threshold, woe, iterations, converged, training, target
        case formatVersion = "format_version"
        case modelType = "model_type"
        case categoricalEncoding = "categorical_encoding"
        case referenceLevels = "reference_levels"
    }

    public init(target: String, categoricalEncoding: String, specs: [FeatureSpec], coefficients: [String: Double],
                intercept: Double, threshold: Double, woe: [String: [String: Double]],
                referenceLevels: [String: String], iterations: Int, converged: Bool, training: TrainingSummary) {
        self.target = target
        self.categoricalEncoding = categoricalEncoding
        self.features = specs.map(\.name)
        self.specs = specs
        self.coefficients = coefficients
        self.intercept = intercept
        self.threshold = threshold
        self.woe = woe
        self.referenceLevels = referenceLevels
        self.iterations = iterations
        self.converged = converged
        self.training = training
    }

    public static func read(_ path: String) throws -> ScoringModel {
        try Artefacts.readJSON(ScoringModel.self, from: path)
    }

    /// The model's design matrix for `table` (one row per table row, one column per model feature).
    public func design(_ table: FeatureTable) throws -> [[Double]] {
        var index: [String: Int] = [:]
        for (j, name) in table.featureNames.enumerated() { index[name] = j }
        // For WoE: attribute → [(level, column)].
        var levelColumns: [String: [(String, Int)]] = [:]
        for group in table.groups() {
            if case .indicators(let indicators) = group.kind {
                levelColumns[group.attribute] = indicators.map { ($0.level, $0.column) }
            }
        }
        var columns: [[Double]] = []
        for spec in specs {
            switch spec.transform {
            case .standardize, .identity:
                guard let j = index[spec.source] else {
                    throw ArtefactError("the feature table lacks the model's input column `\(spec.source)`")
                }
                if spec.transform == .identity {
                    columns.append(table.rows.map { $0[j] })
                } else {
                    let mean = spec.mean ?? 0, std = (spec.std ?? 1) == 0 ? 1 : (spec.std ?? 1)
                    columns.append(table.rows.map { ($0[j] - mean) / std })
                }
            case .woe:
                guard let levels = levelColumns[spec.source], let woeTable = woe[spec.source] else {
                    throw ArtefactError("the feature table lacks the indicator columns of `\(spec.source)`")
                }
                columns.append(table.rows.map { row in
                    for (level, j) in levels where row[j] == 1 { return woeTable[level] ?? 0 }
                    return 0
                })
            }
        }
        return (0..<table.rowCount).map { i in columns.map { $0[i] } }
    }

    /// p(bad) for every row of `table`.
    public func score(_ table: FeatureTable) throws -> [Double] {
        let x = try design(table)
        let w = features.map { coefficients[$0] ?? 0 }
        return x.map { row in
            var eta = intercept
            for j in 0..<w.count { eta += w[j] * row[j] }
            return eta >= 0 ? 1 / (1 + exp(-eta)) : exp(eta) / (1 + exp(eta))
        }
    }
}
