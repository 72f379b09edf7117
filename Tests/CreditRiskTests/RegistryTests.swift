import Foundation
import Testing
@testable import CreditRisk

struct SHA256Tests {
    @Test func publishedVectors() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Two blocks (FIPS 180-2, appendix B.2).
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a' (FIPS 180-2, appendix B.3).
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

struct RegistryTests {
    func register(_ registry: inout ModelRegistry, _ hash: String, auc: Double) -> RegistryTransition {
        registry.register(modelSHA256: hash, modelPath: "models/model.json", metrics: ["test_auc": auc],
                          validationStatus: "passed", lineage: "reports/lineage.json", testAUC: auc, promotionAUC: 0.75)
    }

    @Test func reRegisteringTheSameHashIsIdempotent() throws {
        var registry = ModelRegistry(modelName: "m")
        let first = register(&registry, "aaa", auc: 0.78)
        #expect(first.action == "registered" && first.version == 1 && first.toStage == "Production")
        let bytes = try Artefacts.jsonData(registry)
        let again = register(&registry, "aaa", auc: 0.78)
        #expect(again.action == "unchanged" && again.version == 1)
        #expect(registry.versions.count == 1)
        #expect(try Artefacts.jsonData(registry) == bytes)
    }

    @Test func promotionArchivesThePreviousProductionVersion() {
        var registry = ModelRegistry(modelName: "m")
        _ = register(&registry, "aaa", auc: 0.78)
        let weak = register(&registry, "bbb", auc: 0.73)
        #expect(weak.toStage == "Staging" && weak.version == 2)
        #expect(registry.productionVersion == 1)
        let strong = register(&registry, "ccc", auc: 0.80)
        #expect(strong.toStage == "Production" && strong.archivedVersions == [1])
        #expect(registry.versions.map(\.stage) == ["Archived", "Staging", "Production"])
        #expect(registry.productionVersion == 3)
        #expect(registry.versions.allSatisfy { $0.lineage == "reports/lineage.json" })
    }

    @Test func governanceGates() {
        let t = GateThresholds(minTestAUCCritical: 0.70, minTestAUCWarning: 0.72, maxAUCGap: 0.10)
        let ok = GovernanceGates.evaluate(trainAUC: 0.80, testAUC: 0.78, missingMetrics: [], converged: true, thresholds: t)
        #expect(ok.status == "passed" && !ok.blocksRegistration)
        let warn = GovernanceGates.evaluate(trainAUC: 0.75, testAUC: 0.71, missingMetrics: [], converged: true, thresholds: t)
        #expect(warn.status == "passed_with_warnings" && warn.warnings == 1)
        let low = GovernanceGates.evaluate(trainAUC: 0.72, testAUC: 0.69, missingMetrics: [], converged: true, thresholds: t)
        #expect(low.status == "failed" && low.gates.contains { $0.name == "test_auc_minimum" && !$0.passed })
        let gap = GovernanceGates.evaluate(trainAUC: 0.95, testAUC: 0.78, missingMetrics: [], converged: true, thresholds: t)
        #expect(gap.blocksRegistration && gap.gates.contains { $0.name == "train_test_auc_gap" && !$0.passed })
        let missing = GovernanceGates.evaluate(trainAUC: nil, testAUC: 0.78, missingMetrics: ["reports/metrics.json"],
                                               converged: true, thresholds: t)
        #expect(missing.status == "failed")
    }

    @Test func deterministicJSONAndNumbers() throws {
        struct S: Encodable { let b: Double; let a: String }
        let text = String(decoding: try Artefacts.jsonData(S(b: NumberFormat.rounded(0.1234567), a: "x/y")), as: UTF8.self)
        #expect(text == "{\n  \"a\" : \"x/y\",\n  \"b\" : 0.123457\n}\n")
        #expect(NumberFormat.fixed(-0.000000001) == "0.00000000")
        #expect(NumberFormat.fixed(2.5, places: 2) == "2.50")
        #expect(NumberFormat.compact(3) == "3")
        #expect(NumberFormat.rounded(-0.0000001) == 0)
    }
}
