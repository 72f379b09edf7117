// A deterministic fuzzer for crx's parsers, in process: valid pipeline files, locks, state caches and
// directory manifests are mutated (byte flips, YAML-significant bytes, deletions, duplications,
// splices from other inputs, line swaps, token insertions) with a seeded PRNG. Every case must parse
// or be rejected with a crx error carrying a location — no crash, no hang, no other error type.
//
// Counts: CRX_FUZZ_ITERATIONS cases per target (default 1,500; CRX_RELIABILITY_FULL=1: 25,000), seed
// CRX_FUZZ_SEED (default 1). A failing case prints its seed, iteration and bytes.
#if canImport(Glibc)
import Glibc
#endif
import CRXCore
import Foundation
import Testing

let fuzzPipelineSeeds: [String] = [
    """
    # a realistic file
    stages:
      prepare:
        desc: Clean the raw data
        cmd: python prepare.py --in data/raw.csv
        deps:
          - data/raw.csv
          - prepare.py
        params:
          - prepare.split
          - prepare.seed,prepare.ratio
          - config/other.yaml: [model.depth]
        outs:
          - data/clean.csv
          - data/cache:
              cache: false
              persist: true
      train:
        cmd:
          - python train.py
          - echo "done" > models/done.txt
        wdir: .
        deps: [data/clean.csv, train.py]
        params: [train.lr]
        outs: [models/model.json, models/done.txt]
        metrics:
          - reports/metrics.json: {cache: false}
        plots:
          - reports/roc.json:
              cache: false
              x: fpr
              y: tpr
        frozen: false
        always_changed: false
        meta: {owner: team, tags: [a, b]}
    plots:
      - reports/roc.json
    """,
    """
    stages:
      a: {cmd: 'echo a > a.txt', outs: [a.txt]}
      b: {cmd: "cat a.txt > b.txt", deps: [a.txt], outs: [b.txt]}
      c:
        cmd: cat b.txt a.txt > c.txt
        deps:
        - a.txt
        - b.txt
        outs:
        - c.txt
    sources:
      raw:
        path: a.txt
        checksum: md5:d41d8cd98f00b204e9800998ecf8427e
        origin: "somewhere"
        freshness: {warn_after: 24h, error_after: 7d}
    """,
    """
    defaults: &defaults
      cmd: echo base
      always_changed: true
    stages:
      x:
        <<: *defaults
        outs: [x.txt]
      "quoted name": {cmd: "printf 'tab\\there'", outs: ["dir with space/ü.txt"]}
      y:
        cmd: >
          folded
          command
        outs: [y.txt]
        deps: [x.txt]
    """,
]

let fuzzLockSeed: String = {
    var lock = Lockfile()
    let h1 = Digest(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
    let h2 = Digest(high: 0x1111_2222_3333_4444, low: 0x5555_6666_7777_8888)
    lock.stages["prepare"] = .init(cmd: ["python prepare.py"], deps: [.init(path: "data/raw.csv", hash: .init(digest: h1, size: 1024))],
                                   params: ["params.yaml": ["prepare.split": .double(0.2), "prepare.name": .string("x y"),
                                                            "prepare.list": .list([.bool(true), .null])]],
                                   outs: [.init(path: "data/clean.csv", hash: .init(digest: h2, size: 99)),
                                          .init(path: "data/dir", hash: .init(digest: h1, size: 5000, nfiles: 3))])
    lock.stages["train"] = .init(cmd: ["a", "b \"quoted\""], deps: [.init(path: "data/clean.csv", hash: .init(digest: h2, size: 99))],
                                 params: ["other.yaml": [:]], outs: [.init(path: "new\nline.txt", hash: .init(digest: h1, size: 0))])
    return lock.render(order: ["prepare", "train"])
}()

/// Byte sequences a YAML parser reacts to.
let yamlTokens: [[UInt8]] = [
    ":", "-", " ", "\t", "\n", "[", "]", "{", "}", "&a ", "*a", "! ", "!!str ", "!!binary ", "!!map ", "<<: *a\n", "? ", "---\n", "...\n",
    "#", "|", ">", "'", "\"", "%YAML 1.1\n", "\\", "@", "`", ",", "~", "null", ".nan", "0x1F", "1e999", "${x}", "xxh128:", "\r\n",
].map { Array($0.utf8) } + [[0x00], [0xFF], [0xC3], [0xE2, 0x80, 0xA8], [0xEF, 0xBB, 0xBF]]

struct Mutator {
    var rng: SeededRandom
    let corpus: [[UInt8]]

    mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0 ... int(4) {
            let at = int(bytes.count + 1)
            switch int(8) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] ^= UInt8(1 << int(8))                    // bit flip
            case 1 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = UInt8(truncatingIfNeeded: rng.next())  // random byte
            case 2: bytes.removeSubrange(at ..< min(bytes.count, at + 1 + int(40)))                                   // deletion
            case 3:                                                                                                   // duplication
                let end = min(bytes.count, at + 1 + int(200))
                bytes.insert(contentsOf: Array(bytes[at ..< end]), at: int(bytes.count + 1))
            case 4:                                                                                                   // splice
                let other = corpus[int(corpus.count)]
                let from = int(other.count)
                bytes.insert(contentsOf: other[from ..< min(other.count, from + int(300))], at: at)
            case 5: bytes.insert(contentsOf: yamlTokens[int(yamlTokens.count)], at: at)                              // token
            case 6:                                                                                                   // line swap
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if lines.count > 2 { lines.swapAt(int(lines.count), int(lines.count)) }
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default: bytes = Array(bytes.prefix(at))                                                                  // truncation
            }
        }
        return bytes
    }
}

/// Runs `cases` mutations of `seeds` through `parse` on a worker thread with a watchdog. Returns the
/// failures (crashes cannot be caught: they end the test process, with the seed printed just before).
func fuzz(_ target: String, seeds: [String], cases: Int, perCaseLimit: Double = 2.0,
          parse: @escaping @Sendable ([UInt8]) throws -> Void, accept: @escaping @Sendable (Error) -> String?) -> (failures: [String], rejected: Int, slowest: Double) {
    let seed = UInt64(Reliability.environment["CRX_FUZZ_SEED"] ?? "") ?? 1
    let corpus = seeds.map { Array($0.utf8) }
    final class Box: @unchecked Sendable {
        var failures: [String] = []
        var rejected = 0
        var slowest = 0.0
        var done = 0
        var current: [UInt8] = []
        let lock = NSLock()
    }
    let box = Box()
    let finished = DispatchSemaphore(value: 0)
    let thread = Thread {
        var mutator = Mutator(rng: SeededRandom(seed: seed &* 0x9E37 &+ UInt64(target.utf8.count)), corpus: corpus)
        for i in 0 ..< cases {
            let input = mutator.mutate(corpus[i % corpus.count])
            box.lock.lock(); box.current = input; box.lock.unlock()
            let started = Date()
            do {
                try parse(input)
            } catch {
                box.lock.lock(); box.rejected += 1; box.lock.unlock()
                if let problem = accept(error) {
                    box.lock.lock()
                    box.failures.append("\(target) case \(i) (seed \(seed)): \(problem)\n  input: \(String(decoding: input.prefix(600), as: UTF8.self).debugDescription)")
                    box.lock.unlock()
                }
            }
            let took = Date().timeIntervalSince(started)
            box.lock.lock()
            box.slowest = max(box.slowest, took)
            if took > perCaseLimit { box.failures.append("\(target) case \(i) took \(took) s:\n  input: \(String(decoding: input.prefix(600), as: UTF8.self).debugDescription)") }
            box.done = i + 1
            box.lock.unlock()
        }
        finished.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    // Watchdog: a hang is a failure (the worker is abandoned).
    let budget = max(60, Double(cases) * 0.05)
    if finished.wait(timeout: .now() + budget) == .timedOut {
        box.lock.lock(); defer { box.lock.unlock() }
        return (box.failures + ["\(target): hung after \(box.done) cases on input: \(String(decoding: box.current.prefix(600), as: UTF8.self).debugDescription)"], box.rejected, box.slowest)
    }
    return (box.failures, box.rejected, box.slowest)
}

/// A crx error with a location is an acceptable rejection; anything else is reported.
@Sendable func requireLocatedCRXError(_ error: Error) -> String? {
    guard let e = error as? CRXError else { return "not a crx error: \(type(of: error)): \(error)" }
    guard let location = e.location else { return "no location: \(e)" }
    if location.line < 1 || location.column < 1 { return "bad location \(location): \(e)" }
    if e.message.isEmpty { return "empty message" }
    return nil
}

extension CRXReliabilityTests {
    @Suite("Fuzz") struct ReliabilityFuzzTests {
        static let cases = Reliability.iterations("CRX_FUZZ_ITERATIONS", light: 1500, full: 25_000)
        static let root = FileManager.default.temporaryDirectory.appendingPathComponent("crx-fuzz-root").path

        @Test func fuzzedPipelineFiles() {
            let root = Self.root
            let result = fuzz("pipeline.yaml", seeds: fuzzPipelineSeeds, cases: Self.cases, parse: { bytes in
                guard let text = String(bytes: bytes, encoding: .utf8) else { return }   // crx refuses non-UTF-8 first (tested end to end)
                let definition = try PipelineParser(file: "pipeline.yaml", root: root).parseDefinition(text)
                _ = try Pipeline(file: "pipeline.yaml", stages: definition.stages, sources: definition.sources)
            }, accept: requireLocatedCRXError)
            print("reliability: fuzzed pipeline files: \(Self.cases) (\(result.rejected) rejected), slowest \(String(format: "%.3f", result.slowest)) s")
            #expect(result.failures.isEmpty, "\(result.failures.prefix(5).joined(separator: "\n"))")
        }

        @Test func fuzzedLockFiles() {
            let result = fuzz("pipeline.lock", seeds: [fuzzLockSeed], cases: Self.cases, parse: { bytes in
                _ = try Lockfile.parse(Data(bytes), file: "pipeline.lock")
            }, accept: requireLocatedCRXError)
            print("reliability: fuzzed lock files: \(Self.cases) (\(result.rejected) rejected), slowest \(String(format: "%.3f", result.slowest)) s")
            #expect(result.failures.isEmpty, "\(result.failures.prefix(5).joined(separator: "\n"))")
        }

        /// What crx writes it reads back identically, whatever the names and values (random locks).
        @Test func randomLocksRoundTrip() throws {
            var rng = SeededRandom(seed: UInt64(Reliability.environment["CRX_FUZZ_SEED"] ?? "") ?? 1)
            let alphabet: [String] = ["a", "Z", "0", "9", " ", "\t", "\n", "\"", "'", ":", "-", "#", "&", "*", "!", "[", "{", ",", "%", "@", "`",
                                      "\\", "ü", "日", "😀", "true", "null", "0x1", "1e3", ".nan", "~", "yes", "- ", ": ", " #"]
            func text(_ max: Int) -> String {
                (0 ..< 1 + Int(rng.next() % UInt64(max))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
            }
            func value(_ depth: Int) -> ParamValue {
                switch rng.next() % (depth > 2 ? 5 : 7) {
                case 0: return .null
                case 1: return .bool(rng.next() % 2 == 0)
                case 2: return .int(Int(truncatingIfNeeded: rng.next()))
                case 3: return .double([0.1, -2.5e-300, 1e300, .nan, .infinity, 3.0][Int(rng.next() % 6)])
                case 4: return .string(text(6))
                case 5: return .list((0 ..< rng.next() % 4).map { _ in value(depth + 1) })
                default: return .dict(Dictionary((0 ..< rng.next() % 4).map { _ in (text(4), value(depth + 1)) }) { a, _ in a })
                }
            }
            func digest() -> Digest { Digest(high: rng.next(), low: rng.next()) }
            let n = max(50, Self.cases / 4)
            var failures: [String] = []
            for i in 0 ..< n {
                var lock = Lockfile()
                for _ in 0 ..< 1 + rng.next() % 3 {
                    let entry = { Lockfile.Entry(path: text(5), hash: .init(digest: digest(), size: Int64(rng.next() % 1_000_000),
                                                                             nfiles: rng.next() % 3 == 0 ? Int(rng.next() % 100) : nil)) }
                    var params: [String: [String: ParamValue]] = [:]
                    for _ in 0 ..< rng.next() % 3 { params[text(4)] = Dictionary((0 ..< rng.next() % 3).map { _ in (text(4), value(0)) }) { a, _ in a } }
                    lock.stages[text(4)] = .init(cmd: (0 ..< 1 + rng.next() % 2).map { _ in text(8) }, deps: (0 ..< rng.next() % 3).map { _ in entry() },
                                                 params: params, outs: (0 ..< rng.next() % 3).map { _ in entry() })
                }
                let rendered = lock.render(order: [])
                do {
                    let back = try Lockfile.parse(Data(rendered.utf8), file: "pipeline.lock")
                    if back != lock { failures.append("case \(i): read back differently:\n\(rendered)") }
                } catch {
                    failures.append("case \(i): crx cannot read its own lock: \(error)\n\(rendered)")
                }
            }
            print("reliability: random locks written and read back: \(n)")
            #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n"))")
        }

        @Test func fuzzedStateCachesAndManifests() throws {
            // crx's own line formats: any damage reads as fewer entries (state) or no manifest, never a crash.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crx-fuzz-state-\(getpid())-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let stateFile = dir + "/state.v1"
            let state = StateCache(file: stateFile)
            for i in 0 ..< 20 {
                state.record("dir/file \(i)\t\n.txt", stat: FileStat(kind: .file, inode: UInt64(i), size: Int64(i * 10), mtimeNs: 1_000_000_000 * Int64(i)),
                             digest: XXH3Hasher.digest("content \(i)"), extra: i % 2 == 0 ? ["sha256": "ab", "lines": "3"] : [:], trusted: true)
            }
            try state.save()
            let stateSeed = try String(contentsOfFile: stateFile, encoding: .utf8)
            let manifestSeed = String(decoding: DirectoryManifest(entries: (0 ..< 10).map {
                .init(path: "sub/f\($0)\\\t.txt", digest: XXH3Hasher.digest("\($0)"), size: Int64($0))
            }).bytes, as: UTF8.self)
            let n = max(100, Self.cases / 4)
            let result = fuzz("state/manifest", seeds: [stateSeed, manifestSeed], cases: n, parse: { bytes in
                let path = dir + "/case"
                FileManager.default.createFile(atPath: path, contents: Data(bytes))
                _ = StateCache(file: path).count
                _ = DirectoryManifest(bytes: bytes)?.entries.count
            }, accept: { "threw \($0)" })
            print("reliability: fuzzed state caches and manifests: \(n)")
            #expect(result.failures.isEmpty, "\(result.failures.prefix(5).joined(separator: "\n"))")
        }
    }
}
