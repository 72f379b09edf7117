// evaluate_test — scores data/processed/test.csv with models/model.json and writes
// reports/test_metrics.json and reports/plots/roc_test.json (fields: see Evaluation).
import CreditRisk

enum EvaluateTest {
    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("evaluate", as: EvaluationParams.self)
        let model = try ScoringModel.read(ProjectPaths.model)
        let table = try FeatureTable.read(ProjectPaths.test)
        let (report, plot) = Evaluation.evaluate(
            dataset: "test", scores: try model.score(table), labels: table.labels, threshold: model.threshold,
            costs: params.costs)
        try Artefacts.writeJSON(report, to: ProjectPaths.testMetrics)
        try Artefacts.writeJSON(plot, to: ProjectPaths.rocTest)
        print(report.summary(stage: "evaluate_test"))
        print("  wrote \(ProjectPaths.testMetrics) and \(ProjectPaths.rocTest)")
        return 0
    }
}
