// StratifiedSplit — a deterministic train/test split that keeps the bad rate of both parts equal.
//
// Per class (label 0 and 1): the applicant ids, sorted, are shuffled by SplitMix64(seed) — one
// generator, the classes taken in label order — and the first round(n_class × test_ratio) go to test.
// The result does not depend on the order of the input rows.

public struct StratifiedSplit: Equatable, Sendable {
    public let trainIDs: [Int]
    public let testIDs: [Int]

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Splits `ids` (with their 0/1 `labels`); both lists of the result are sorted ascending.
    public static func split(ids: [Int], labels: [Int], testRatio: Double, seed: UInt64) throws -> StratifiedSplit {
        guard ids.count == labels.count else { throw Failure(message: "ids and labels differ in length") }
        guard testRatio > 0, testRatio < 1 else { throw Failure(message: "test_ratio must be in (0, 1)") }
        guard Set(ids).count == ids.count else { throw Failure(message: "applicant ids are not unique") }
        var rng = SplitMix64(seed: seed)
        var train: [Int] = []
        var test: [Int] = []
        for label in Set(labels).sorted() {
            var members = zip(ids, labels).filter { $0.1 == label }.map(\.0).sorted()
            rng.shuffle(&members)
            let nTest = Int((Double(members.count) * testRatio).rounded(.toNearestOrAwayFromZero))
            test += members.prefix(nTest)
            train += members.dropFirst(nTest)
        }
        let result = StratifiedSplit(trainIDs: train.sorted(), testIDs: test.sorted())
        try result.checkDisjoint(covering: ids)
        return result
    }

    /// Fails unless train and test are disjoint and together hold exactly `ids`.
    public func checkDisjoint(covering ids: [Int]) throws {
        let train = Set(trainIDs), test = Set(testIDs)
        let both = train.intersection(test)
        guard both.isEmpty else {
            throw Failure(message: "applicants in both train and test: \(both.sorted().prefix(10).map(String.init).joined(separator: ", "))")
        }
        guard train.union(test) == Set(ids), trainIDs.count + testIDs.count == ids.count else {
            throw Failure(message: "train and test together do not cover the table exactly")
        }
    }
}
