import Foundation
import Testing
@testable import CRXCore

@Suite struct StateTests {
    func sample() -> Lockfile {
        let d = XXH3Hasher.digest("x")
        return Lockfile(stages: [
            "train": .init(cmd: ["python train.py --lr 0.1"],
                           deps: [.init(path: "data/clean.csv", hash: PathDigest(digest: d, size: 10))],
                           params: ["params.yaml": ["train.lr": .double(1e-05), "train.name": .string("yes"),
                                                    "train.layers": .list([.int(1), .int(2)]), "flag": .bool(true)]],
                           outs: [.init(path: "models", hash: PathDigest(digest: d, size: 20, nfiles: 2))]),
            "prepare": .init(cmd: ["a", "b: c"], deps: [], params: [:], outs: []),
        ])
    }

    @Test func renderIsDeterministicAndRoundTrips() throws {
        let lock = sample()
        let text = lock.render(order: ["prepare", "train"])
        #expect(text == lock.render(order: ["prepare", "train"]))
        #expect(text.hasPrefix("schema: crx-lock/1\nstages:\n  prepare:\n"))
        let parsed = try Lockfile.parse(Data(text.utf8), file: "pipeline.lock")
        #expect(parsed == lock)
        #expect(parsed.render(order: ["prepare", "train"]) == text)
    }

    @Test func corruptLockGivesAClearError() throws {
        let text = sample().render(order: ["prepare", "train"])
        let truncated = String(text.prefix(text.count / 2)) + "\n  - [broken"
        do {
            _ = try Lockfile.parse(Data(truncated.utf8), file: "pipeline.lock")
            Issue.record("a corrupt lock must not parse")
        } catch let error as LockfileError {
            #expect(error.location?.file == "pipeline.lock")
            #expect(error.message.contains("git checkout -- pipeline.lock"))
        }
        #expect(throws: LockfileError.self) { _ = try Lockfile.parse(Data("schema: crx-lock/9\n".utf8), file: "pipeline.lock") }
    }

    @Test func paramValuesAreCanonical() throws {
        let a = try #require(try YAMLDocument.compose("lr: 0.10\nname: 'x'\nn: 3\nb: true\nl: [1, 2.5]\nd: {z: 1, a: null}\n", file: "p"))
        let b = try #require(try YAMLDocument.compose("{d: {a: ~, z: 1}, l: [1, 2.50], b: yes, n: 3, name: x, lr: 1.0e-1}", file: "p"))
        #expect(ParamValue(node: a) == ParamValue(node: b))
        #expect(ParamValue(node: a).canonical == "{\"b\": true, \"d\": {\"a\": null, \"z\": 1}, \"l\": [1, 2.5], \"lr\": 0.1, \"n\": 3, \"name\": \"x\"}")
        #expect(ParamValue.double(1e-05).canonical == "1.0e-05")
        // The lock's rendering reads back as the same value.
        let back = try #require(try YAMLDocument.compose("v: \(ParamValue.double(1e-05).canonical)", file: "p"))
        #expect(ParamValue(node: back).lookup("v") == .double(1e-05))
        #expect(ParamValue(node: a).lookup("d.z") == .int(1))
        #expect(ParamValue(node: a).lookup("l.1") == .double(2.5))
        #expect(ParamValue(node: a).lookup("missing.key") == nil)
    }
}
