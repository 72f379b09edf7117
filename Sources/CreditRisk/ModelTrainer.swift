// ModelTrainer — fits a ScoringModel on the training split: the preprocessing (standardisation of
// numeric features, a reference level per one-hot attribute or WoE tables) and then the logistic
// regression. Everything learnt comes from the training rows only, so test metrics are honest.
//
// Numeric features: standardised with the training mean and population standard deviation.
// onehot: every indicator kept but the reference level's (the most frequent level in training,
//   ties to the earlier level) when `dropReferenceLevel`; levels never seen in training are dropped.
// woe: one feature `attribute_woe` per categorical attribute, from WeightOfEvidence on training rows.
import Foundation

public struct TrainerOptions: Equatable, Sendable {
    public enum Encoding: String, Sendable {
        case onehot
        case woe
    }

    public var encoding: Encoding
    public var dropReferenceLevel: Bool
    public var woeSmoothing: Double
    public var standardize: Bool
    public var regression: LogisticRegressionOptions
    public var threshold: Double

    public init(encoding: Encoding, dropReferenceLevel: Bool, woeSmoothing: Double, standardize: Bool,
                regression: LogisticRegressionOptions, threshold: Double) {
        self.encoding = encoding
        self.dropReferenceLevel = dropReferenceLevel
        self.woeSmoothing = woeSmoothing
        self.standardize = standardize
        self.regression = regression
        self.threshold = threshold
    }
}

public enum ModelTrainer {
    public static func fit(_ train: FeatureTable, target: String, options: TrainerOptions) throws -> ScoringModel {
        guard train.rowCount > 0 else { throw ArtefactError("the training table is empty") }
        guard options.threshold > 0, options.threshold < 1 else { throw ArtefactError("threshold must be in (0, 1)") }
        let round = { (x: Double) in NumberFormat.rounded(x, places: NumberFormat.modelDecimals) }
        var specs: [FeatureSpec] = []
        var woe: [String: [String: Double]] = [:]
        var references: [String: String] = [:]

        for group in train.groups() {
            switch group.kind {
            case .numeric(let j):
                if options.standardize {
                    let values = train.column(j)
                    let mean = values.reduce(0, +) / Double(values.count)
                    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
                    let std = variance > 0 ? variance.squareRoot() : 1
                    specs.append(FeatureSpec(name: group.attribute, transform: .standardize, source: group.attribute,
                                             mean: round(mean), std: round(std)))
                } else {
                    specs.append(FeatureSpec(name: group.attribute, transform: .identity, source: group.attribute))
                }
            case .indicators(let indicators):
                let counts = indicators.map { ind in train.rows.reduce(0) { $0 + ($1[ind.column] == 1 ? 1 : 0) } }
                switch options.encoding {
                case .onehot:
                    var reference: Int? = nil
                    if options.dropReferenceLevel, let top = counts.max(), top > 0 {
                        reference = counts.firstIndex(of: top)
                        references[group.attribute] = indicators[reference!].level
                    }
                    for (k, ind) in indicators.enumerated() where k != reference && counts[k] > 0 {
                        let name = FeatureTable.indicatorName(attribute: group.attribute, level: ind.level)
                        specs.append(FeatureSpec(name: name, transform: .identity, source: name))
                    }
                case .woe:
                    let observed = train.rows.map { row -> String in
                        indicators.first { row[$0.column] == 1 }?.level ?? ""
                    }
                    let fitted = WeightOfEvidence.fit(levels: indicators.map(\.level), observed: observed,
                                                      labels: train.labels, smoothing: options.woeSmoothing)
                    woe[group.attribute] = fitted.woe.mapValues(round)
                    specs.append(FeatureSpec(name: group.attribute + "_woe", transform: .woe, source: group.attribute))
                }
            }
        }

        // Build the design matrix through the model's own scoring path, so training and scoring agree.
        var draft = ScoringModel(target: target, categoricalEncoding: options.encoding.rawValue, specs: specs,
                                 coefficients: [:], intercept: 0, threshold: options.threshold, woe: woe,
                                 referenceLevels: references, iterations: 0, converged: false,
                                 training: TrainingSummary(rows: 0, positives: 0, l2: 0, maxIter: 0, tol: 0,
                                                           objective: 0, logLoss: 0, gradientMaxAbs: 0))
        let x = try draft.design(train)
        let fit = try LogisticRegression.fit(x: x, y: train.labels, options: options.regression)
        var coefficients: [String: Double] = [:]
        for (spec, w) in zip(specs, fit.weights) { coefficients[spec.name] = round(w) }
        draft.coefficients = coefficients
        draft.intercept = round(fit.intercept)
        draft.iterations = fit.iterations
        draft.converged = fit.converged
        draft.training = TrainingSummary(
            rows: train.rowCount, positives: train.labels.reduce(0, +), l2: options.regression.l2,
            maxIter: options.regression.maxIterations, tol: options.regression.tolerance,
            objective: NumberFormat.rounded(fit.objective), logLoss: NumberFormat.rounded(fit.logLoss),
            gradientMaxAbs: NumberFormat.rounded(fit.gradientMaxAbs, places: NumberFormat.modelDecimals))
        return draft
    }
}
