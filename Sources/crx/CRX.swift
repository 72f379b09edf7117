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
        #if canImport(Glibc)
        // Big transient buffers (the lock and run-log index rewritten during a build, the lineage
        // report, the state file) straight from mmap, so freeing one gives its memory back. glibc
        // otherwise raises this threshold to the largest buffer freed (up to 32 MiB) and serves later
        // ones from its heaps, where small long-lived records (lock entries, state entries) land
        // between them and pin the freed pages (a first repro of 10,000 stages peaked at 520 MiB, 370
        // with this, the fixed buffers and the streamed lock together).
        // Buffers up to 256 KiB (file hashing's 128 KiB chunks) stay in the heaps, reused.
        // (`mallopt` is not in Swift's Glibc module; M_MMAP_THRESHOLD is -3 in <malloc.h>.)
        if ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil, let mallopt = dlsym(nil, "mallopt") {
            _ = unsafeBitCast(mallopt, to: (@convention(c) (Int32, Int32) -> Int32).self)(-3, 256 << 10)
        }
        #endif
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
