import Foundation

/// Runs a short-lived helper program (a scheduler's `sbatch`, `squeue`, …) to completion and
/// captures what it printed. Not for stage commands: those go through an `Executor`.
public struct ProcessRunner: Sendable {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status == 0 }
        /// stderr (else stdout), trimmed: what to show when the program failed.
        public var message: String {
            let e = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return e.isEmpty ? stdout.trimmingCharacters(in: .whitespacesAndNewlines) : e
        }
    }

    /// Extra environment on top of this process's own.
    public var environment: [String: String]

    public init(environment: [String: String] = [:]) { self.environment = environment }

    /// Runs `program` (looked up in PATH) with `arguments`; throws only when it cannot be started.
    public func run(_ program: String, _ arguments: [String]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + arguments
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes concurrently so neither fills up and blocks the program.
        let errData = Protected(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let d = err.fileHandleForReading.readDataToEndOfFile()
            errData.withLock { $0 = d }
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.snapshot, as: UTF8.self))
    }

    /// Whether `program` is found in PATH.
    public static func exists(_ program: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }
}
