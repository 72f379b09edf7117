import Foundation
import Testing
@testable import CRXCore

/// The line parser of `pipeline.lock` must give exactly the values the YAML composer gives, for
/// every lock `Lockfile.render` writes, and step aside (nil) for anything else.
@Suite struct LockfileLineParserTests {
    static let odd = [
        "plain/path.csv", "with space.csv", "quote\"inside", "back\\slash", "tab\there", "new\nline", "cr\rhere",
        "colon: space", "colon:nospace", "#hash", "a # comment", "yes", "No", "null", "~", "true", "0123", "1.5", "-dash",
        ".hidden", "@at", "+plus", "ünïcödé/ファイル", "emoji 😀", "ctrl\u{01}\u{7F}", "{braces}", "[brackets]", "'single'",
        "trailing ", " leading", "a,b", "percent%", "amp&", "star*", "bang!", "pipe|", "gt>", "x=1",
    ]

    static func digest(_ s: String) -> Digest { XXH3Hasher.digest(s) }

    static func sample() -> Lockfile {
        var stages: [String: Lockfile.StageRecord] = [:]
        for (i, name) in odd.enumerated() {
            let deps = odd.shuffledDeterministically(seed: i).prefix(3).map {
                Lockfile.Entry(path: "d/\($0)", hash: PathDigest(digest: digest($0), size: Int64(i * 1000)))
            }
            let outs = [Lockfile.Entry(path: "o/\(name)", hash: PathDigest(digest: digest(name), size: 0, nfiles: i % 2 == 0 ? i : nil))]
            let params: [String: [String: ParamValue]] = i % 3 == 0 ? [:] : [
                "params.yaml": [name: .string(name), "int": .int(-42), "zero": .int(0), "big": .int(Int.max),
                                "f": .double(0.1), "e": .double(1e-05), "E": .double(1e+300), "nan": .double(.nan),
                                "inf": .double(-.infinity), "b": .bool(i % 2 == 0), "n": .null,
                                "l": .list([.int(1), .string("two"), .double(3.5), .list([]), .dict(["k": .null])]),
                                "d": .dict(["z": .string("yes"), "a b": .int(1)]), "s.dotted": .string("no")],
                "conf/\(name).toml": [:],
            ]
            let cmd = i % 4 == 0 ? ["echo \(name)", "cat \"x\" > y"] : ["run --name \(name)"]
            stages[name] = .init(cmd: cmd, deps: Array(deps), params: params, outs: i % 5 == 0 ? [] : outs)
        }
        stages["plain_stage"] = .init(cmd: ["plain"], deps: [], params: [:], outs: [])
        return Lockfile(stages: stages)
    }

    @Test func readsEveryRenderedLockAsTheYAMLComposerDoes() throws {
        let lock = Self.sample()
        let text = lock.render(order: Self.odd.reversed())
        let fast = try #require(LockfileLineParser.parse(text), "the line parser must accept what render writes")
        let yaml = try Lockfile.parseYAML(text, file: "pipeline.lock")
        #expect(fast == yaml)
        #expect(fast == lock)
        #expect(try Lockfile.parse(Data(text.utf8), file: "pipeline.lock") == lock)
        #expect(fast.render(order: Self.odd.reversed()) == text)
    }

    @Test func readsTheExampleProjectsLock() throws {
        // The repository's own lock (the credit-risk example): real paths, params and digests.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("pipeline.lock")
        let text = try String(contentsOf: url, encoding: .utf8)
        let fast = try #require(LockfileLineParser.parse(text))
        #expect(fast == (try Lockfile.parseYAML(text, file: "pipeline.lock")))
        #expect(!fast.stages.isEmpty)
    }

    @Test func emptyLock() throws {
        let text = Lockfile().render(order: [])
        #expect(LockfileLineParser.parse(text) == Lockfile())
    }

    @Test func randomLocksRoundTrip() throws {
        var rng = SplitMix(seed: 7)
        for round in 0..<40 {
            var stages: [String: Lockfile.StageRecord] = [:]
            for s in 0..<Int(rng.next() % 6) {
                func word() -> String {
                    String((0..<Int(rng.next() % 8)).map { _ in Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))] })
                }
                func entries() -> [Lockfile.Entry] {
                    (0..<Int(rng.next() % 3)).map { _ in
                        .init(path: word() + "/\(s)", hash: PathDigest(digest: Digest(high: rng.next(), low: rng.next()),
                                                                        size: Int64(rng.next() % 1_000_000),
                                                                        nfiles: rng.next() % 2 == 0 ? nil : Int(rng.next() % 50)))
                    }
                }
                var params: [String: ParamValue] = [:]
                for _ in 0..<Int(rng.next() % 3) { params[word()] = rng.next() % 2 == 0 ? .string(word()) : .int(Int(rng.next() % 100)) }
                let cmd = rng.next() % 3 == 0 ? [word(), word()] : [word() + " x"]
                stages["st\(s)" + word()] = .init(cmd: cmd, deps: entries(), params: params.isEmpty ? [:] : ["p.yaml": params],
                                                  outs: entries())
            }
            let lock = Lockfile(stages: stages)
            let text = lock.render(order: [])
            let fast = try #require(LockfileLineParser.parse(text), "round \(round)")
            #expect(fast == lock, "round \(round)")
            #expect(fast == (try Lockfile.parseYAML(text, file: "pipeline.lock")), "round \(round)")
        }
    }

    static let alphabet: [Character] = Array("ab Z09-_./:#\"\\'\t\n{}[],&*!|>%@üé😀")

    @Test func anythingElseIsLeftToTheYAMLComposer() throws {
        let text = Self.sample().render(order: [])
        let variants = [
            text.replacingOccurrences(of: "\n", with: "\r\n"),
            "# a comment\n" + text,
            text + "\n",
            text + "extra: 1\n",
            text.replacingOccurrences(of: "schema: crx-lock/1\n", with: "schema: crx-lock/1 # v1\n"),
            text.replacingOccurrences(of: "      size: ", with: "      size: +"),
            text.replacingOccurrences(of: "      size: 0\n", with: "      size: 00\n"),
            text.replacingOccurrences(of: "xxh128:", with: "XXH128:"),
            String(text.dropLast()),   // no final newline
        ]
        for v in variants {
            #expect(LockfileLineParser.parse(v) == nil, "\(v.prefix(80))")
            // Whatever the composer makes of it, Lockfile.parse agrees with it.
            let viaParse = Result(catching: { try Lockfile.parse(Data(v.utf8), file: "pipeline.lock") })
            let viaYAML = Result(catching: { try Lockfile.parseYAML(v, file: "pipeline.lock") })
            switch (viaParse, viaYAML) {
            case let (.success(a), .success(b)): #expect(a == b)
            case let (.failure(a as LockfileError), .failure(b as LockfileError)): #expect(a == b)
            default: Issue.record("parse and parseYAML disagree on \(v.prefix(80))")
            }
        }
        // Another key order: still read (by the composer), same values.
        let reordered = "schema: crx-lock/1\nstages:\n  a:\n    outs:\n    - path: o\n      size: 3\n      hash: xxh128:\(String(repeating: "0", count: 32))\n    cmd: x\n"
        #expect(LockfileLineParser.parse(reordered) == nil)
        #expect(try Lockfile.parse(Data(reordered.utf8), file: "pipeline.lock").stages["a"]?.outs.first?.hash.size == 3)
    }

    @Test func duplicateStagesKeepTheComposersError() throws {
        let text = "schema: crx-lock/1\nstages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n"
        #expect(LockfileLineParser.parse(text) == nil)
        do {
            _ = try Lockfile.parse(Data(text.utf8), file: "pipeline.lock")
            Issue.record("a duplicate stage must not parse")
        } catch let error as LockfileError {
            #expect(error.message.contains("duplicate"))
            #expect(error.location?.file == "pipeline.lock")
        }
    }
}

/// A small deterministic generator for tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array {
    func shuffledDeterministically(seed: Int) -> [Element] {
        var rng = SplitMix(seed: UInt64(seed) + 1)
        var copy = self
        for i in stride(from: copy.count - 1, to: 0, by: -1) { copy.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return copy
    }
}
