import ArgumentParser
import CRXCore

/// The `crx` executable: argument parsing and printing only. Every verb lives in CRXCore.
@main
struct CRX: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "crx",
        abstract: "A reproducible, content-addressed pipeline build tool (DVC's pipelines, fast, parallel and crash-safe).",
        version: version,
        subcommands: [Repro.self, Status.self, Dag.self, Checkout.self, Verify.self, Init.self]
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
