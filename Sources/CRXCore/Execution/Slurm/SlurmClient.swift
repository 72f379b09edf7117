import Foundation

/// Talks to a Slurm cluster through its own commands — `sbatch`, `squeue`, `scontrol`, `sacct`,
/// `scancel` — exactly as a user at the login node would (they find the cluster through
/// `SLURM_CONF` or the site's configuration). Parsing of their output is static and unit-tested.
public struct SlurmClient: Sendable {
    public let runner: ProcessRunner

    public init(runner: ProcessRunner = ProcessRunner()) { self.runner = runner }

    /// States after which a job never runs again.
    public static let terminalStates: Set<String> = [
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE",
        "REVOKED", "SPECIAL_EXIT",
    ]

    /// Whether the Slurm client commands are installed here.
    public static var isInstalled: Bool { ["sbatch", "squeue", "scontrol", "scancel"].allSatisfy(ProcessRunner.exists) }

    /// `sbatch --parsable OPTIONS SCRIPT`; the job id.
    public func submit(script: String, options: [String]) throws -> String {
        let out: ProcessRunner.Output
        do {
            out = try runner.run("sbatch", ["--parsable"] + options + [script])
        } catch {
            throw SlurmError("cannot run sbatch (\(error)); is Slurm installed on this machine?")
        }
        guard out.succeeded else { throw SlurmError("sbatch refused the job: \(out.message) (script \(script))") }
        guard let id = Self.parseSubmission(out.stdout) else {
            throw SlurmError("sbatch printed no job id: '\(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines))'")
        }
        return id
    }

    /// `sbatch --parsable` prints `ID` or `ID;CLUSTER`.
    static func parseSubmission(_ text: String) -> String? {
        let line = text.split(separator: "\n").last.map { String($0) }?.trimmingCharacters(in: .whitespaces) ?? ""
        let id = line.split(separator: ";").first.map(String.init) ?? ""
        return !id.isEmpty && id.allSatisfy({ $0.isNumber || $0 == "_" }) ? id : nil
    }

    /// The states of `ids` the controller still knows (finished jobs stay for `MinJobAge`).
    /// nil when squeue itself failed (controller unreachable): the caller retries.
    public func states(_ ids: [String]) -> [String: String]? {
        guard !ids.isEmpty else { return [:] }
        guard let out = try? runner.run("squeue", ["-h", "-t", "all", "-j", ids.joined(separator: ","), "-o", "%i|%T"]) else { return nil }
        if !out.succeeded {
            // One unknown id in a list is not an error; a list of only unknown ids is.
            return out.stderr.contains("Invalid job id") ? [:] : nil
        }
        return Self.parseStates(out.stdout)
    }

    static func parseStates(_ text: String) -> [String: String] {
        var states: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            states[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return states
    }

    /// What the cluster knows of a job: `scontrol show job` while the controller keeps it, else
    /// accounting (`sacct`) when the site has it.
    public func details(_ id: String) -> [String: String]? {
        if let out = try? runner.run("scontrol", ["show", "job", "-o", id]), out.succeeded {
            let fields = Self.parseScontrol(out.stdout)
            if fields["JobState"] != nil { return fields }
        }
        if let out = try? runner.run("sacct", ["-j", id, "-n", "-P", "-X", "-o", "JobID,State,ExitCode,NodeList,Submit,Start,End"]),
           out.succeeded, let fields = Self.parseSacct(out.stdout) {
            return fields
        }
        return nil
    }

    /// `scontrol show job -o`: one line of `Key=Value` pairs; values may contain spaces
    /// (`Command=/a b/script`), so a pair ends where the next ` Key=` begins.
    static func parseScontrol(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        let chars = Array(line)
        var keyStarts: [Int] = []
        var i = 0
        while i < chars.count {
            if i == 0 || chars[i - 1] == " " {
                var j = i
                while j < chars.count, chars[j] != "=", chars[j] != " " { j += 1 }
                if j < chars.count, chars[j] == "=", j > i { keyStarts.append(i) }
            }
            i += 1
        }
        for (n, start) in keyStarts.enumerated() {
            let end = n + 1 < keyStarts.count ? keyStarts[n + 1] - 1 : chars.count
            let pair = String(chars[start ..< max(start, end)])
            guard let eq = pair.firstIndex(of: "=") else { continue }
            fields[String(pair[..<eq])] = String(pair[pair.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// `sacct -P -X -o JobID,State,ExitCode,NodeList,Submit,Start,End` → scontrol's key names.
    static func parseSacct(_ text: String) -> [String: String]? {
        guard let line = text.split(separator: "\n").first else { return nil }
        let p = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard p.count >= 7 else { return nil }
        // "CANCELLED by 0" → "CANCELLED"
        let state = p[1].split(separator: " ").first.map(String.init) ?? p[1]
        return ["JobId": p[0], "JobState": state, "ExitCode": p[2], "NodeList": p[3], "SubmitTime": p[4], "StartTime": p[5], "EndTime": p[6]]
    }

    /// `scancel ID…`; failures are ignored (the job may have ended meanwhile).
    public func cancel(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        _ = try? runner.run("scancel", ids)
    }

    /// Slurm's `ExitCode=CODE:SIGNAL`.
    static func parseExitCode(_ text: String?) -> (code: Int32?, signal: Int32?) {
        guard let text else { return (nil, nil) }
        let parts = text.split(separator: ":")
        let code = parts.first.flatMap { Int32($0) }
        let signal = parts.count > 1 ? Int32(parts[1]) : nil
        return (code, signal == 0 ? nil : signal)
    }

    /// Slurm's times (`2026-11-22T12:03:15`, the controller's local time); nil for Unknown/None.
    static func parseTime(_ text: String?) -> Date? {
        guard let text, text.count >= 19, text.first?.isNumber == true else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.date(from: String(text.prefix(19)))
    }

    /// Turns the fields of `details` into a `BatchJob`.
    static func job(id: String, fields: [String: String]?, fallbackState: String, logPath: String, scriptPath: String,
                    options: [String]) -> BatchJob {
        let f = fields ?? [:]
        let (code, signal) = parseExitCode(f["ExitCode"])
        var node = f["BatchHost"] ?? f["NodeList"]
        if node == "(null)" || node == "None assigned" || node?.isEmpty == true { node = nil }
        return BatchJob(scheduler: "slurm", id: id, state: f["JobState"] ?? fallbackState, exitCode: code, signal: signal,
                        node: node, submitted: parseTime(f["SubmitTime"]), started: parseTime(f["StartTime"]),
                        ended: parseTime(f["EndTime"]), logPath: logPath, scriptPath: scriptPath, options: options)
    }
}

/// A problem talking to Slurm (crx exits 1 for the stage; the message says what to do).
public struct SlurmError: CRXError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var exitCode: ExitStatus { .failure }
}
