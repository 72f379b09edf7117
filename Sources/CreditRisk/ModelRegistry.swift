// ModelRegistry — a file-based model registry (models/registry.json) and its transitions
// (reports/registry_transition.json).
//
// A version is identified by the SHA-256 of the model file. Registering a hash already present
// changes nothing (action "unchanged"), so re-running the stage is idempotent. A new version goes to
// "Production" when its test AUC ≥ the promotion threshold — the previous Production version then
// becomes "Archived" — and to "Staging" otherwise. Versions are numbered 1, 2, … in registration
// order. No timestamps: the registry's bytes depend only on what was registered.

public struct RegistryVersion: Codable, Equatable, Sendable {
    public var version: Int
    public var modelSHA256: String
    public var modelPath: String
    public var stage: String
    public var metrics: [String: Double]
    public var validationStatus: String
    /// Where the pipeline's lineage record (written by crx) lives.
    public var lineage: String

    enum CodingKeys: String, CodingKey {
        case version, stage, metrics, lineage
        case modelSHA256 = "model_sha256"
        case modelPath = "model_path"
        case validationStatus = "validation_status"
    }

    public init(version: Int, modelSHA256: String, modelPath: String, stage: String, metrics: [String: Double],
                validationStatus: String, lineage: String) {
        self.version = version
        self.modelSHA256 = modelSHA256
        self.modelPath = modelPath
        self.stage = stage
        self.metrics = metrics
        self.validationStatus = validationStatus
        self.lineage = lineage
    }
}

public struct ModelRegistry: Codable, Equatable, Sendable {
    public var modelName: String
    public var versions: [RegistryVersion]

    enum CodingKeys: String, CodingKey {
        case versions
        case modelName = "model_name"
    }

    public init(modelName: String, versions: [RegistryVersion] = []) {
        self.modelName = modelName
        self.versions = versions
    }

    public var productionVersion: Int? {
        versions.last { $0.stage == ModelRegistry.production }?.version
    }

    public static let production = "Production"
    public static let staging = "Staging"
    public static let archived = "Archived"

    /// Reads the registry at `path`, or an empty one when the file does not exist.
    public static func load(_ path: String, modelName: String) throws -> ModelRegistry {
        guard Artefacts.exists(path) else { return ModelRegistry(modelName: modelName) }
        return try Artefacts.readJSON(ModelRegistry.self, from: path)
    }

    /// Registers a model (or recognises it); returns the transition it made.
    public mutating func register(modelSHA256: String, modelPath: String, metrics: [String: Double],
                                  validationStatus: String, lineage: String, testAUC: Double,
                                  promotionAUC: Double) -> RegistryTransition {
        if let existing = versions.first(where: { $0.modelSHA256 == modelSHA256 }) {
            return RegistryTransition(
                modelName: modelName, modelSHA256: modelSHA256, version: existing.version, action: "unchanged",
                fromStage: existing.stage, toStage: existing.stage, archivedVersions: [],
                reason: "model \(String(modelSHA256.prefix(12))) is already registered as version \(existing.version)")
        }
        let version = (versions.map(\.version).max() ?? 0) + 1
        let promote = testAUC >= promotionAUC
        var archived: [Int] = []
        if promote {
            for i in versions.indices where versions[i].stage == ModelRegistry.production {
                versions[i].stage = ModelRegistry.archived
                archived.append(versions[i].version)
            }
        }
        let stage = promote ? ModelRegistry.production : ModelRegistry.staging
        versions.append(RegistryVersion(version: version, modelSHA256: modelSHA256, modelPath: modelPath,
                                        stage: stage, metrics: metrics, validationStatus: validationStatus,
                                        lineage: lineage))
        let auc = NumberFormat.fixed(testAUC, places: 4), bar = NumberFormat.fixed(promotionAUC, places: 4)
        return RegistryTransition(
            modelName: modelName, modelSHA256: modelSHA256, version: version, action: "registered",
            fromStage: nil, toStage: stage, archivedVersions: archived,
            reason: promote ? "test AUC \(auc) ≥ promotion threshold \(bar)"
                : "test AUC \(auc) < promotion threshold \(bar)")
    }
}

public struct RegistryTransition: Codable, Equatable, Sendable {
    public var modelName: String
    public var modelSHA256: String
    public var version: Int
    /// "registered" or "unchanged".
    public var action: String
    public var fromStage: String?
    public var toStage: String
    public var archivedVersions: [Int]
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case version, action, reason
        case modelName = "model_name"
        case modelSHA256 = "model_sha256"
        case fromStage = "from_stage"
        case toStage = "to_stage"
        case archivedVersions = "archived_versions"
    }

    public init(modelName: String, modelSHA256: String, version: Int, action: String, fromStage: String?,
                toStage: String, archivedVersions: [Int], reason: String) {
        self.modelName = modelName
        self.modelSHA256 = modelSHA256
        self.version = version
        self.action = action
        self.fromStage = fromStage
        self.toStage = toStage
        self.archivedVersions = archivedVersions
        self.reason = reason
    }

    /// Like the synthesised encoder, but `from_stage` is always present (null for a new version).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelName, forKey: .modelName)
        try c.encode(modelSHA256, forKey: .modelSHA256)
        try c.encode(version, forKey: .version)
        try c.encode(action, forKey: .action)
        try c.encode(fromStage, forKey: .fromStage)
        try c.encode(toStage, forKey: .toStage)
        try c.encode(archivedVersions, forKey: .archivedVersions)
        try c.encode(reason, forKey: .reason)
    }
}
