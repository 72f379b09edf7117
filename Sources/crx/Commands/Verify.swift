import ArgumentParser
import CRXCore

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Decompress and re-hash cache objects; report corrupt or missing ones (exit 1 if any).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Check only the objects these stages' outputs use (default: every object in the cache).")
    var stages: [String] = []

    @Flag(help: "Print a JSON report.") var json = false

    func run() throws {
        try runReportingErrors {
            let workspace = try global.workspace()
            let store = workspace.objectStore()
            let verifier = Verifier(store: store)
            let result: Verifier.Result
            if stages.isEmpty {
                store.removeStaleTemporaries()
                var all = try verifier.verifyAll()
                // Objects the lock needs but the cache lacks are problems too.
                if let pipeline = try? workspace.loadPipeline() {
                    let needed = verifier.verify(lock: try workspace.loadLock(), stages: pipeline.stages.map(\.name), pipeline: pipeline)
                    // Name the stage and path a damaged object stands for, when the lock knows it.
                    let owners = Dictionary(needed.problems.map { ($0.digest, $0) }) { first, _ in first }
                    all.problems = all.problems.map { problem in
                        guard let owner = owners[problem.digest] else { return problem }
                        var named = problem
                        named.stage = owner.stage
                        named.path = owner.path
                        return named
                    }
                    all.problems += needed.problems.filter { $0.health == .missing }
                }
                result = all
            } else {
                let pipeline = try workspace.loadPipeline()
                let names = try pipeline.resolve(targets: stages).map { pipeline.stages[$0].name }
                result = verifier.verify(lock: try workspace.loadLock(), stages: names, pipeline: pipeline)
            }
            if json {
                Printer.json(["checked": result.checked, "problems": result.problems.map {
                    ["digest": $0.digest.description, "path": $0.path as Any, "stage": $0.stage as Any, "problem": "\($0.health)"]
                }])
            } else {
                for p in result.problems { Printer.err("crx: \(p)") }
                Printer.out("\(result.checked) object(s) checked, \(result.problems.count) problem(s)")
                if !result.problems.isEmpty {
                    Printer.err("Recover with `crx repro --force STAGE` for the stages named above (the rebuild replaces a damaged object).")
                }
            }
            if !result.problems.isEmpty { throw ExitCode(1) }
        }
    }
}
