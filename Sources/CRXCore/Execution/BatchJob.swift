import Foundation

/// A job a cluster scheduler ran for a stage, as the scheduler reported it: kept in the stage's
/// run record and in lineage (`runs[].job`), shown when the stage failed.
public struct BatchJob: Sendable, Equatable {
    /// "slurm".
    public var scheduler: String
    public var id: String
    /// The scheduler's final state: COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, …
    public var state: String
    /// The batch script's exit code, and the signal that ended it when one did.
    public var exitCode: Int32?
    public var signal: Int32?
    /// Where it ran.
    public var node: String?
    public var submitted: Date?
    public var started: Date?
    public var ended: Date?
    /// The job's stdout+stderr, as the scheduler wrote it.
    public var logPath: String
    /// The generated batch script.
    public var scriptPath: String
    /// The options the job was submitted with (e.g. `--cpus-per-task=4`).
    public var options: [String]

    public init(scheduler: String, id: String, state: String, exitCode: Int32? = nil, signal: Int32? = nil, node: String? = nil,
                submitted: Date? = nil, started: Date? = nil, ended: Date? = nil, logPath: String, scriptPath: String,
                options: [String] = []) {
        self.scheduler = scheduler
        self.id = id
        self.state = state
        self.exitCode = exitCode
        self.signal = signal
        self.node = node
        self.submitted = submitted
        self.started = started
        self.ended = ended
        self.logPath = logPath
        self.scriptPath = scriptPath
        self.options = options
    }

    public var succeeded: Bool { state == "COMPLETED" && (exitCode ?? 0) == 0 && signal == nil }

    /// One line for a failure message: "Slurm job 42 FAILED with exit code 3 on node n1".
    public var summary: String {
        var s = "\(scheduler == "slurm" ? "Slurm" : scheduler) job \(id) \(state)"
        if let signal, signal != 0 {
            s += " (signal \(signal))"
        } else if let exitCode, exitCode != 0 || state == "COMPLETED" || state == "FAILED" {
            s += " with exit code \(exitCode)"
        }
        if let node, !node.isEmpty { s += " on node \(node)" }
        return s
    }

    var json: [String: Any] {
        ["scheduler": scheduler, "job_id": id, "state": state,
         "exit_code": JSONReport.orNull(exitCode.map { Int($0) }), "signal": JSONReport.orNull(signal.map { Int($0) }),
         "node": JSONReport.orNull(node),
         "submitted_at": JSONReport.orNull(submitted.map(AuditClock.iso)), "started_at": JSONReport.orNull(started.map(AuditClock.iso)),
         "ended_at": JSONReport.orNull(ended.map(AuditClock.iso)), "log": logPath, "script": scriptPath, "options": options]
    }

    init?(json: [String: Any]) {
        guard let scheduler = json["scheduler"] as? String, let id = json["job_id"] as? String,
              let state = json["state"] as? String else { return nil }
        self.init(scheduler: scheduler, id: id, state: state, exitCode: (json["exit_code"] as? Int).map(Int32.init),
                  signal: (json["signal"] as? Int).map(Int32.init), node: json["node"] as? String,
                  submitted: (json["submitted_at"] as? String).flatMap(AuditClock.parse),
                  started: (json["started_at"] as? String).flatMap(AuditClock.parse),
                  ended: (json["ended_at"] as? String).flatMap(AuditClock.parse),
                  logPath: json["log"] as? String ?? "", scriptPath: json["script"] as? String ?? "",
                  options: json["options"] as? [String] ?? [])
    }
}
