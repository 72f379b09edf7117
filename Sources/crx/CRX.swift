import ArgumentParser
import CRXCore
import Foundation

/// The `crx` executable: argument parsing and printing only. Every verb lives in CRXCore.
@main
struct CRX: ParsableCommand {
    /// `-p FILE` may stand before the verb (`crx -p dvc.yaml repro`), as with DVC; usage errors exit 2.
    static func main() {
        // A file-size limit (`ulimit -f`) makes write() fail with EFBIG, which crx reports (and cleans
        // up after) like a full disk, instead of the process dying from SIGXFSZ mid-write.
        signal(SIGXFSZ, SIG_IGN)
        var arguments = Array(CommandLine.arguments.dropFirst())
        var moved: [String] = []
        while let first = arguments.first, ["-p", "--pipeline"].contains(first) || first.hasPrefix("--pipeline=") {
            let takesValue = !first.contains("=")
            moved += arguments.prefix(takesValue ? 2 : 1)
            arguments.removeFirst(min(arguments.count, takesValue ? 2 : 1))
        }
        if !moved.isEmpty, !arguments.isEmpty { arguments.insert(contentsOf: moved, at: 1) } else { arguments = moved + arguments }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Printer.err(fullMessage(for: error))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }

    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "crx",
        abstract: "A reproducible, content-addressed pipeline build tool (DVC's pipelines, fast, parallel and crash-safe).",
        version: version,
        subcommands: [Repro.self, Status.self, Dag.self, Checkout.self, Verify.self, Init.self,
                      Sources.self, Freshness.self, LineageCommand.self, StageCommand.self,
                      Gc.self, Params.self, Metrics.self,
                      Remote.self, Push.self, Fetch.self, Pull.self]
    )
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: [.short, .customLong("pipeline")], help: "The pipeline file (default: pipeline.yaml at the project root).")
    var pipeline: String?

    func workspace() throws -> Workspace {
        try Workspace.discover(pipeline: pipeline)
    }
}

/// Runs a command body, rendering any crx error once with the `crx: error:` prefix and its exit code.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CRXError {
        Printer.error(error.description)
        throw ExitCode(error.exitCode.rawValue)
    }
}
