// The repository's own credit-risk pipeline, run by the built crx in a temporary copy: every report
// exists and parses, the model's test AUC lands where published results do, a second repro runs
// nothing, and one param change re-runs exactly the stages that use it and their downstream.
import Foundation
import Testing

@Suite struct ExamplePipelineTests {
    /// The package root (holds pipeline.yaml, params.yaml, data/raw, Sources/).
    static let packageRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    /// The stage programs built with the tests (`creditrisk` beside `crx`).
    static var creditriskBinary: String {
        (CRXBinary.path as NSString).deletingLastPathComponent + "/creditrisk"
    }

    /// A copy of the example: pipeline, params, raw data and the code the stages declare as deps;
    /// `bin/creditrisk` runs the already-built stage programs.
    func makeCopy() throws -> Project {
        let p = try Project()
        let fm = FileManager.default
        for item in ["pipeline.yaml", "params.yaml", "data/raw", "Sources/creditrisk", "Sources/CreditRisk"] {
            let dest = p.url(item)
            try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: Self.packageRoot.appendingPathComponent(item), to: dest)
        }
        p.write("bin/creditrisk", "#!/bin/sh\nexec '\(Self.creditriskBinary)' \"$@\"\n")
        chmod(p.absolute("bin/creditrisk"), 0o755)
        return p
    }

    @Test func wholePipelineBuildsValidatesAndStaysIncremental() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.creditriskBinary),
                     "build the stage programs first (swift build)")
        let p = try makeCopy()
        let first = try p.repro("-j", "2")
        #expect(first.exitCode == 0, "\(first)")
        let all = ["ingest_data", "build_feature_store", "split_data", "fit_model", "evaluate_train",
                   "evaluate_test", "validate_model", "register_model", "monitor_drift"]
        #expect(Set(first.ran) == Set(all))

        for report in ["reports/data_contract.json", "reports/metrics.json", "reports/test_metrics.json",
                       "reports/post_training_validation.json", "reports/drift_report.json",
                       "reports/registry_transition.json", "models/model.json", "models/registry.json"] {
            let data = try #require(p.bytes(report), "\(report) missing")
            #expect((try? JSONSerialization.jsonObject(with: data)) != nil, "\(report) is not JSON")
        }
        let testData = try #require(p.bytes("reports/test_metrics.json"))
        let test = try #require(try JSONSerialization.jsonObject(with: testData) as? [String: Any])
        let auc = try #require(Self.number(named: "auc", in: test))
        #expect(auc >= 0.75 && auc <= 0.80, "test AUC \(auc) outside the published 0.75–0.80")

        let second = try p.repro()
        #expect(second.ran.isEmpty, "\(second)")
        #expect(try p.status().staleStages.isEmpty)

        // One param of fit_model: it and exactly its downstream re-run; upstream stays.
        let params = try #require(p.read("params.yaml"))
        p.write("params.yaml", params.replacingOccurrences(of: "l2: 3.0", with: "l2: 2.0"))
        #expect(params.contains("l2: 3.0"))
        let third = try p.repro()
        #expect(third.exitCode == 0, "\(third)")
        #expect(Set(third.ran).isSuperset(of: ["fit_model", "evaluate_train", "evaluate_test", "validate_model"]))
        #expect(Set(third.ran).isSubset(of: ["fit_model", "evaluate_train", "evaluate_test", "validate_model",
                                             "register_model", "monitor_drift"]))
        for upstream in ["ingest_data", "build_feature_store", "split_data"] {
            #expect(third.upToDate.contains(upstream), "\(upstream) must not re-run: \(third)")
        }
    }

    /// Finds a number under `key` at any depth of a JSON value.
    static func number(named key: String, in value: Any) -> Double? {
        if let dict = value as? [String: Any] {
            if let n = dict[key] as? Double { return n }
            for v in dict.values { if let n = number(named: key, in: v) { return n } }
        } else if let list = value as? [Any] {
            for v in list { if let n = number(named: key, in: v) { return n } }
        }
        return nil
    }
}
