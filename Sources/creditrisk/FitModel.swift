// fit_model — fits the preprocessing (standardisation, one-hot reference levels or WoE) and an
// L2-regularised logistic regression (Newton/IRLS) on data/processed/train.csv, and writes the
// self-contained scoring model models/model.json.
import CreditRisk

enum FitModel {
    struct Params: Decodable {
        let categoricalEncoding: String
        let dropReferenceLevel: Bool
        let woeSmoothing: Double
        let standardize: Bool
        let l2: Double
        let maxIter: Int
        let tol: Double
        let threshold: Double

        enum CodingKeys: String, CodingKey {
            case standardize, l2, tol, threshold
            case categoricalEncoding = "categorical_encoding"
            case dropReferenceLevel = "drop_reference_level"
            case woeSmoothing = "woe_smoothing"
            case maxIter = "max_iter"
        }
    }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("model", as: Params.self)
        guard let encoding = TrainerOptions.Encoding(rawValue: params.categoricalEncoding) else {
            throw ArtefactError("model.categorical_encoding must be `onehot` or `woe`, not `\(params.categoricalEncoding)`")
        }
        let train = try FeatureTable.read(ProjectPaths.train)
        let options = TrainerOptions(
            encoding: encoding, dropReferenceLevel: params.dropReferenceLevel, woeSmoothing: params.woeSmoothing,
            standardize: params.standardize,
            regression: LogisticRegressionOptions(l2: params.l2, maxIterations: params.maxIter, tolerance: params.tol),
            threshold: params.threshold)
        let model = try ModelTrainer.fit(train, target: "creditability == bad", options: options)
        try Artefacts.writeJSON(model, to: ProjectPaths.model)

        print("fit_model: logistic regression (\(encoding.rawValue), l2 \(params.l2)) on \(train.rowCount) rows, "
              + "\(model.features.count) features: \(model.converged ? "converged" : "NOT converged") "
              + "in \(model.iterations) Newton iterations, train log loss "
              + "\(NumberFormat.fixed(model.training.logLoss, places: 4)), max |gradient| "
              + "\(model.training.gradientMaxAbs == 0 ? "< 5e-11" : String(model.training.gradientMaxAbs))")
        let strongest = model.coefficients.sorted {
            abs($0.value) != abs($1.value) ? abs($0.value) > abs($1.value) : $0.key < $1.key
        }.prefix(5)
        for (name, w) in strongest {
            print("  \(w >= 0 ? "+" : "")\(NumberFormat.fixed(w, places: 3))  \(name)")
        }
        print("  wrote \(ProjectPaths.model)")
        return 0
    }
}
