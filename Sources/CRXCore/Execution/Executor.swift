import Foundation

/// The seam between crx's orchestration and whatever runs a stage's commands: the local machine
/// today (`LocalExecutor`), a cluster scheduler tomorrow. The reproducer decides *what* runs; an
/// executor only runs it and reports how it went.
public protocol Executor: Sendable {
    /// Runs `stage.cmd` in order in `workingDirectory`; returns when they finished or one failed.
    func run(_ job: StageJob) -> ExecutionResult
    /// Stops every running job (SIGINT / SIGTERM arrived).
    func cancelAll(signal: Int32)
    /// True when stages run on this machine's cores: the scheduler then treats `-j` as a budget of
    /// cores that each stage's `resources.cpus` draws on. A cluster executor counts jobs instead.
    var sharesLocalCores: Bool { get }
}

extension Executor {
    public var sharesLocalCores: Bool { true }
}

/// What an executor is asked to run.
public struct StageJob: Sendable {
    public var stage: String
    public var commands: [String]
    public var workingDirectory: String
    public var logPath: String
    public var environment: [String: String]
    /// Seconds all commands together may run; then the process group is stopped (TERM, then KILL).
    public var timeout: Double? = nil
    /// What the stage asked for (`resources:`); a cluster executor turns it into its job's options.
    public var resources = StageResources()

    public init(stage: String, commands: [String], workingDirectory: String, logPath: String, environment: [String: String] = [:]) {
        self.stage = stage
        self.commands = commands
        self.workingDirectory = workingDirectory
        self.logPath = logPath
        self.environment = environment
    }
}

public struct ExecutionResult: Sendable {
    public var exitCode: Int32
    /// The signal that ended the command, if one did.
    public var signal: Int32?
    /// The command that failed (index into `commands`), when one did.
    public var failedCommand: Int?
    /// The last lines the command wrote to stderr.
    public var stderrTail: [String]
    public var started: Date
    public var finished: Date
    /// The stage's `timeout` expired and its commands were stopped.
    public var timedOut = false
    /// The cluster job that ran the commands (nil when they ran on this machine).
    public var batchJob: BatchJob? = nil

    public var succeeded: Bool { exitCode == 0 && signal == nil }
}

/// Where the output of stage commands goes, as it is produced.
public protocol OutputSink: Sendable {
    func write(stage: String, _ bytes: UnsafeRawBufferPointer, toStderr: Bool)
}
