#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs each stage as a Slurm batch job (`crx repro --executor slurm`). crx stays the orchestrator:
/// the reproducer decides what runs and records the outputs once a job completed; this executor
/// only submits (`sbatch`), follows (`squeue`, then `scontrol`/`sacct`) and cancels (`scancel`).
///
/// Assumes, as HPC sites do, that the project directory is on a filesystem shared by the login
/// node and the compute nodes: jobs read their deps and write their outs in place, and crx hashes
/// and caches the outs from the submitting machine after the job completed.
///
/// Concurrency: `run` is called on one thread per stage (at most `-j` at once); the set of jobs in
/// flight is guarded by its own mutex so `cancelAll` (Ctrl-C) can `scancel` every one of them.
///
/// The jobs in flight are also kept in `.crx/slurm/in-flight` (rewritten atomically as jobs are
/// submitted and end): if crx is killed outright (SIGKILL, OOM, a lost login session), the next
/// `crx repro` — holding the project lock, so no other crx of this project runs — cancels the jobs
/// that dead run left behind (`cancelOrphans`) before it submits its own.
public final class SlurmExecutor: Executor, @unchecked Sendable {
    private let client: SlurmClient
    private let settings: SlurmSettings
    private let scriptDirectory: String
    private let sink: OutputSink
    private let monitor: SlurmJobMonitor
    private let inFlight = Protected<Set<String>>([])
    private let cancelled = Protected(false)

    /// `scriptDirectory`: where the generated batch scripts go (`.crx/slurm/`).
    public init(settings: SlurmSettings, scriptDirectory: String, sink: OutputSink, client: SlurmClient = SlurmClient()) {
        self.client = client
        self.settings = settings
        self.scriptDirectory = scriptDirectory
        self.sink = sink
        monitor = SlurmJobMonitor(client: client, pollInterval: settings.pollInterval)
    }

    public var sharesLocalCores: Bool { false }

    /// The jobs submitted and not yet finished.
    public var jobsInFlight: [String] { inFlight.snapshot.sorted() }

    var inFlightFile: String { scriptDirectory + "/in-flight" }

    /// Records the jobs in flight on disk (a failure to write only loses the orphan clean-up).
    private func track(_ change: (inout Set<String>) -> Void) {
        inFlight.withLock { ids in
            change(&ids)
            try? LocalFileSystem().createDirectory(scriptDirectory)
            let text = ids.sorted().map { $0 + "\n" }.joined()
            try? LocalFileSystem().writeAtomically(Array(text.utf8), to: inFlightFile)
        }
    }

    /// Cancels the jobs a killed crx of this project left running or pending; returns their ids.
    /// Call it while holding the project lock, before submitting anything.
    public func cancelOrphans() -> [String] {
        guard let data = FileManager.default.contents(atPath: inFlightFile) else { return [] }
        let ids = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !ids.isEmpty, let states = client.states(ids) else { return [] }
        let alive = ids.filter { id in states[id].map { !SlurmClient.terminalStates.contains($0) } ?? false }
        client.cancel(alive)
        try? LocalFileSystem().remove(inFlightFile)
        return alive
    }

    public func cancelAll(signal: Int32) {
        cancelled.withLock { $0 = true }
        client.cancel(jobsInFlight)
    }

    public func run(_ job: StageJob) -> ExecutionResult {
        let submittedAt = Date()
        func failure(_ message: String, code: Int32 = 1, signal: Int32? = nil) -> ExecutionResult {
            sink.write(stage: job.stage, message + "\n", toStderr: true)
            return ExecutionResult(exitCode: code, signal: signal, failedCommand: nil, stderrTail: [message],
                                   started: submittedAt, finished: Date())
        }
        if cancelled.snapshot { return failure("interrupted", code: 130, signal: SIGINT) }

        let script = SlurmScript.make(job, settings: settings)
        let scriptPath = scriptDirectory + "/\(job.stage).sbatch"
        let fs = LocalFileSystem()
        do {
            try fs.createDirectory(scriptDirectory)
            try fs.createDirectory((job.logPath as NSString).deletingLastPathComponent)
            try fs.writeAtomically(Array(script.text.utf8), to: scriptPath, mode: 0o755)
            // Slurm appends to nothing: the log is the job's alone (a stale one would mislead).
            try fs.remove(job.logPath)
        } catch {
            return failure("cannot write the batch script \(scriptPath): \(error)")
        }

        let id: String
        do {
            id = try client.submit(script: scriptPath, options: script.commandLine)
        } catch {
            return failure("\(error)")
        }
        track { _ = $0.insert(id) }
        // Ctrl-C may have come while sbatch ran: this job must not outlive the run either.
        if cancelled.snapshot { client.cancel([id]) }
        sink.write(stage: job.stage, "submitted Slurm job \(id) (\(script.options.isEmpty ? "default resources" : script.options.joined(separator: " ")))\n",
                   toStderr: false)

        let finalState = monitor.wait(for: id)
        track { _ = $0.remove(id) }
        var batch = SlurmClient.job(id: id, fields: client.details(id), fallbackState: finalState, logPath: job.logPath,
                                    scriptPath: scriptPath, options: script.options)
        if batch.state == "ENDED" || batch.state == "LOST" {
            // Neither the controller nor accounting remembers it: the log is all there is.
            batch.state = finalState == "LOST" ? "LOST" : "UNKNOWN"
        }

        // Show the job's output as the local executor would have streamed it (in chunks: a log may be large).
        let tail = Self.replay(log: job.logPath, stage: job.stage, to: sink)

        var code = batch.exitCode ?? (batch.state == "COMPLETED" ? 0 : 1)
        if !batch.succeeded && code == 0 && batch.signal == nil { code = 1 }
        var result = ExecutionResult(exitCode: batch.succeeded ? 0 : code, signal: batch.succeeded ? nil : batch.signal,
                                     failedCommand: batch.succeeded ? nil : SlurmScript.failedCommand(inLogTail: tail),
                                     stderrTail: tail, started: batch.started ?? submittedAt, finished: batch.ended ?? Date())
        result.timedOut = batch.state == "TIMEOUT" || batch.state == "DEADLINE"
        result.batchJob = batch
        return result
    }
}

extension SlurmExecutor {
    /// Writes the log to the sink 64 KiB at a time; returns its last 20 non-empty lines.
    static func replay(log path: String, stage: String, to sink: OutputSink) -> [String] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var last: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            buffer.withUnsafeBytes { sink.write(stage: stage, UnsafeRawBufferPointer(rebasing: $0[..<n]), toStderr: false) }
            last = Array((last + buffer[..<n]).suffix(64 * 1024))
        }
        return Array(String(decoding: last, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.suffix(20))
    }
}

extension OutputSink {
    func write(stage: String, _ text: String, toStderr: Bool) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { write(stage: stage, UnsafeRawBufferPointer($0), toStderr: toStderr) }
    }
}
