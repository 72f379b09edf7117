import ArgumentParser
import CRXCore

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show which stages are stale and why (reads only; never waits for the project lock).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Stages to check, with their upstream (default: all).")
    var targets: [String] = []

    @Flag(help: "Print a JSON object: stage → list of reasons ({} when everything is up to date).")
    var json = false

    @Flag(name: .customLong("exit-code"), help: "Exit 1 when any stage is stale (for CI gates).")
    var exitCode = false

    @Flag(help: "Show which outputs are missing from the local cache or the remote (see -r).")
    var remote = false

    @Option(name: .customShort("r"), help: "With --remote: the remote (default: the default remote); `--remote NAME` works too.")
    var remoteName: String?

    func run() throws {
        try runReportingErrors {
            let workspace = try global.workspace()
            if remote {
                var targets = targets
                var name = remoteName
                if name == nil, let first = targets.first, (try? RemoteConfig.merged(workspace).remotes[first]) != nil,
                   (try? workspace.loadPipeline()[first]) == nil {
                    name = targets.removeFirst()
                }
                return try RemoteStatus.run(workspace, remote: name, targets: targets, json: json, exitCode: exitCode)
            }
            // The state cache and the lock are read on other threads while the pipeline loads.
            let state = workspace.stateCache()
            let lock = BackgroundValue { Result { try workspace.loadLockWithIdentity() } }
            let pipeline = try workspace.loadPipeline()
            let reproducer = try Reproducer(workspace: workspace, pipeline: pipeline, state: state, lock: try lock.take().get())
            var options = Reproducer.Options()
            options.targets = targets
            let report = try reproducer.plan(options)
            reproducer.saveState()
            var stale: [String: [[String: Any]]] = [:]
            var lines: [String] = []
            for name in report.stages {
                switch report.outcomes[name] {
                case .wouldRun?:
                    let reasons = report.reasons[name] ?? []
                    stale[name] = reasons.map(Printer.reasonObject)
                    lines.append("\(name):")
                    lines += reasons.map { "    \($0)" }
                case .wouldRestore?:
                    stale[name] = [["kind": "out_missing_in_workspace",
                                    "message": "outputs missing from the workspace; in the cache (crx checkout restores them)"]]
                    lines.append("\(name):")
                    lines.append("    outputs missing from the workspace; in the cache (crx checkout restores them)")
                default: break
                }
            }
            if json {
                Printer.json(stale)
            } else if stale.isEmpty {
                Printer.out("Everything is up to date.")
            } else {
                for line in lines { Printer.out(line) }
            }
            if exitCode && !stale.isEmpty { throw ExitCode(1) }
        }
    }
}
