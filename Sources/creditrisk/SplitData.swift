// split_data — a deterministic stratified train/test split of data/processed/features.csv
// (SplitMix64 seeded from params), checked disjoint, written to data/processed/train.csv and
// data/processed/test.csv (rows in applicant_id order).
import CreditRisk

enum SplitData {
    struct Params: Decodable {
        let seed: UInt64
        let testRatio: Double

        enum CodingKeys: String, CodingKey {
            case seed
            case testRatio = "test_ratio"
        }
    }

    static func run(paramsPath: String) throws -> Int32 {
        let params = try ParamsFile(path: paramsPath).section("split", as: Params.self)
        let features = try FeatureTable.read(ProjectPaths.features)
        let split = try StratifiedSplit.split(ids: features.applicantIDs, labels: features.labels,
                                              testRatio: params.testRatio, seed: params.seed)
        let train = features.subset(Set(split.trainIDs))
        let test = features.subset(Set(split.testIDs))
        // Belt and braces: the written tables themselves must not share an applicant.
        guard Set(train.applicantIDs).isDisjoint(with: test.applicantIDs),
              train.rowCount + test.rowCount == features.rowCount else {
            throw ArtefactError("split_data: train and test overlap or lose rows")
        }
        try train.write(to: ProjectPaths.train)
        try test.write(to: ProjectPaths.test)

        func describe(_ t: FeatureTable) -> String {
            let bads = t.labels.reduce(0, +)
            return "\(t.rowCount) rows, \(bads) bad (\(NumberFormat.fixed(Double(bads) / Double(max(t.rowCount, 1)), places: 3)))"
        }
        print("split_data: seed \(params.seed), test_ratio \(params.testRatio): train \(describe(train)); "
              + "test \(describe(test)); no applicant in both")
        print("  wrote \(ProjectPaths.train) and \(ProjectPaths.test)")
        return 0
    }
}
