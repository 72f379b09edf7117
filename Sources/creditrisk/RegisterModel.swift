// register_model — records models/model.json (by its SHA-256) in the file-based registry
// models/registry.json with its test metrics, validation status and a lineage reference, promoting
// it to Production when its test AUC reaches register.promotion_auc (Staging otherwise); writes
// reports/registry_transition.json. Re-registering the same model changes nothing.
import CreditRisk
import Foundation

enum RegisterModel {
    struct Params: Decodable {
        let modelName: String
        let promotionAUC: Double

        enum CodingKeys: String, CodingKey {
            case modelName = "model_name"
            case promotionAUC = "promotion_auc"
        }
    }

    struct MetricsFields: Decodable {
        let auc: Double
        let gini: Double
        let ks: Double
    }
    struct ValidationFields: Decodable { let status: String }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("register", as: Params.self)
        let validation = try Artefacts.readJSON(ValidationFields.self, from: ProjectPaths.validationReport)
        guard validation.status != "failed" else {
            FileHandle.standardError.write(Data(
                "register_model: \(ProjectPaths.validationReport) says `failed`; refusing to register\n".utf8))
            return 1
        }
        let modelBytes = try Artefacts.readData(ProjectPaths.model)
        let hash = SHA256.hex(modelBytes)
        let test = try Artefacts.readJSON(MetricsFields.self, from: ProjectPaths.testMetrics)
        let train = try Artefacts.readJSON(MetricsFields.self, from: ProjectPaths.trainMetrics)
        let metrics = ["test_auc": test.auc, "test_gini": test.gini, "test_ks": test.ks, "train_auc": train.auc]

        var registry = try ModelRegistry.load(ProjectPaths.registry, modelName: params.modelName)
        guard registry.modelName == params.modelName else {
            throw ArtefactError("\(ProjectPaths.registry) holds model `\(registry.modelName)`, "
                                + "not `\(params.modelName)`")
        }
        let transition = registry.register(
            modelSHA256: hash, modelPath: ProjectPaths.model, metrics: metrics,
            validationStatus: validation.status, lineage: ProjectPaths.lineage,
            testAUC: test.auc, promotionAUC: params.promotionAUC)
        try Artefacts.writeJSON(registry, to: ProjectPaths.registry)
        try Artefacts.writeJSON(transition, to: ProjectPaths.registryTransition)

        if transition.action == "registered" {
            var line = "register_model: `\(params.modelName)` version \(transition.version) "
                + "(sha256 \(hash.prefix(12))…) → \(transition.toStage): \(transition.reason)"
            if !transition.archivedVersions.isEmpty {
                line += "; archived version(s) \(transition.archivedVersions.map(String.init).joined(separator: ", "))"
            }
            print(line)
        } else {
            print("register_model: unchanged: \(transition.reason) (\(transition.toStage))")
        }
        print("  registry holds \(registry.versions.count) version(s); wrote \(ProjectPaths.registry) "
              + "and \(ProjectPaths.registryTransition)")
        return 0
    }
}
