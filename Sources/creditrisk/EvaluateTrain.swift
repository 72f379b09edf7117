// evaluate_train — scores data/processed/train.csv with models/model.json and writes
// reports/metrics.json and reports/plots/roc_train.json (fields: see Evaluation).
import CreditRisk

enum EvaluateTrain {
    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("evaluate", as: EvaluationParams.self)
        let model = try ScoringModel.read(ProjectPaths.model)
        let table = try FeatureTable.read(ProjectPaths.train)
        let (report, plot) = Evaluation.evaluate(
            dataset: "train", scores: try model.score(table), labels: table.labels, threshold: model.threshold,
            costs: params.costs)
        try Artefacts.writeJSON(report, to: ProjectPaths.trainMetrics)
        try Artefacts.writeJSON(plot, to: ProjectPaths.rocTrain)
        print(report.summary(stage: "evaluate_train"))
        print("  wrote \(ProjectPaths.trainMetrics) and \(ProjectPaths.rocTrain)")
        return 0
    }
}
