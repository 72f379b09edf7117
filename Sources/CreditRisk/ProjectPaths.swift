// ProjectPaths — where the pipeline's files live, relative to the repository root (every stage runs
// with the root as its working directory). pipeline.yaml's deps and outs name the same paths.

public enum ProjectPaths {
    public static let params = "params.yaml"

    public static let rawData = "data/raw/germancredit.csv"
    public static let applications = "data/interim/applications.csv"
    public static let features = "data/processed/features.csv"
    public static let train = "data/processed/train.csv"
    public static let test = "data/processed/test.csv"

    public static let model = "models/model.json"
    public static let registry = "models/registry.json"

    public static let dataContractReport = "reports/data_contract.json"
    public static let trainMetrics = "reports/metrics.json"
    public static let testMetrics = "reports/test_metrics.json"
    public static let rocTrain = "reports/plots/roc_train.json"
    public static let rocTest = "reports/plots/roc_test.json"
    public static let validationReport = "reports/post_training_validation.json"
    public static let registryTransition = "reports/registry_transition.json"
    public static let driftReport = "reports/drift_report.json"
    /// Written by crx, not by a stage: the registry only refers to it.
    public static let lineage = "reports/lineage.json"
}
