// creditrisk — the stage programs of the example credit-risk pipeline (pipeline.yaml).
//
//   creditrisk <stage> [--params PATH]     run one stage from the repository root
//   creditrisk --list                      list the stages
//
// Each stage lives in its own file here (IngestData.swift, …) and reads its own section of the
// params file (default params.yaml). Exit status: 0 success, 1 the stage failed (a contract
// violation, a critical governance gate, an error), 2 usage error.
import CreditRisk
import Foundation

typealias Stage = (name: String, summary: String, run: (String) throws -> Int32)

/// name, summary, entry point (takes the params path, returns the exit status) — in DAG order.
func stageTable() -> [Stage] { [
    ("ingest_data", "validate the raw CSV against the data contract", IngestData.run),
    ("build_feature_store", "one-hot / numeric transforms into data/processed/features.csv", BuildFeatureStore.run),
    ("split_data", "stratified train/test split", SplitData.run),
    ("fit_model", "L2 logistic regression by IRLS", FitModel.run),
    ("evaluate_train", "metrics and ROC on the training split", EvaluateTrain.run),
    ("evaluate_test", "metrics and ROC on the test split", EvaluateTest.run),
    ("validate_model", "governance gates on the metrics", ValidateModel.run),
    ("register_model", "record the model in models/registry.json", RegisterModel.run),
    ("monitor_drift", "PSI / KS drift between train and test", MonitorDrift.run),
] }

func usage() -> String {
    var text = "usage: creditrisk <stage> [--params PATH]\n\nstages:\n"
    for stage in stageTable() {
        text += "  " + stage.name.padding(toLength: 22, withPad: " ", startingAt: 0) + stage.summary + "\n"
    }
    return text
}

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(status)
}

let stages = stageTable()
var args = Array(CommandLine.arguments.dropFirst())
if args.isEmpty || args == ["--help"] || args == ["-h"] {
    print(usage(), terminator: "")
    exit(args.isEmpty ? 2 : 0)
}
if args == ["--list"] {
    for stage in stages { print(stage.name) }
    exit(0)
}
let stageName = args.removeFirst()
var paramsPath = ProjectPaths.params
while !args.isEmpty {
    let arg = args.removeFirst()
    if arg == "--params", !args.isEmpty {
        paramsPath = args.removeFirst()
    } else if arg.hasPrefix("--params=") {
        paramsPath = String(arg.dropFirst("--params=".count))
    } else {
        fail("creditrisk: unexpected argument `\(arg)`\n" + usage(), status: 2)
    }
}
guard let stage = stages.first(where: { $0.name == stageName }) else {
    fail("creditrisk: unknown stage `\(stageName)`\n" + usage(), status: 2)
}
do {
    let status = try stage.run(paramsPath)
    exit(status)
} catch {
    fail("creditrisk \(stageName): error: \(error)", status: 1)
}
