import Foundation

/// The batch script crx submits for a stage, and the sbatch options it is submitted with.
///
/// ```sh
/// #!/bin/sh
/// #SBATCH --cpus-per-task=4              ← the stage's `resources`, and the site's [slurm] settings
/// #SBATCH --mem=8G
/// #SBATCH --time=02:00:00
/// # crx stage 'train' of /proj (generated; crx follows the job and records its outputs)
/// export CRX_STAGE=train CRX_ROOT=/proj CRX_CPUS=4
/// cd /proj/src || exit 1
/// printf '%s\n' '$ python train.py'
/// /bin/sh -c 'python train.py' </dev/null
/// status=$?
/// if [ "$status" -ne 0 ]; then echo "crx: command 1 of 1 exited with code $status" >&2; exit "$status"; fi
/// ```
/// Each command runs through `/bin/sh -c` in the stage's working directory, in order, stopping at the
/// first failure — exactly as the local executor runs them; the job's exit code is the failing
/// command's. The job inherits the submitting environment (sbatch's default `--export=ALL`).
/// `--job-name`, `--output` (the stage's log) and `--chdir` are passed on sbatch's command line,
/// so paths with spaces need no quoting in `#SBATCH` lines.
public struct SlurmScript: Sendable, Equatable {
    public var text: String
    /// Resource and site options, as in the script's `#SBATCH` lines.
    public var options: [String]
    /// Options given on sbatch's command line (name, log, working directory).
    public var commandLine: [String]

    /// The marker the script prints when a command fails (`crx: command K of N exited with code C`).
    static let failurePrefix = "crx: command "

    public static func make(_ job: StageJob, settings: SlurmSettings) -> SlurmScript {
        let options = Self.options(resources: job.resources, timeout: job.timeout, settings: settings)
        var lines = ["#!/bin/sh"]
        lines += options.map { "#SBATCH \($0)" }
        lines.append("# crx stage '\(job.stage)' (generated; crx follows this job and records its outputs when it completes)")
        for key in job.environment.keys.sorted() {
            lines.append("export \(key)=\(Shell.quote(job.environment[key]!))")
        }
        lines.append("cd \(Shell.quote(job.workingDirectory)) || exit 1")
        for (i, command) in job.commands.enumerated() {
            lines.append("printf '%s\\n' \(Shell.quote("$ " + command))")
            lines.append("/bin/sh -c \(Shell.quote(command)) </dev/null")
            lines.append("status=$?")
            lines.append("if [ \"$status\" -ne 0 ]; then echo \"\(failurePrefix)\(i + 1) of \(job.commands.count) exited with code $status\" >&2; exit \"$status\"; fi")
        }
        lines.append("exit 0")
        let name = "crx-" + job.stage.map { $0.isLetter || $0.isNumber || "_-.@".contains($0) ? $0 : "_" }
        return SlurmScript(text: lines.joined(separator: "\n") + "\n", options: options,
                           commandLine: ["--job-name=\(String(name))", "--output=\(job.logPath)", "--chdir=\(job.workingDirectory)"])
    }

    /// The sbatch options for a stage's resources: `cpus` → `--cpus-per-task`, `mem` → `--mem`,
    /// `gpus` → `--gpus`, `time` (else the stage's `timeout`) → `--time`, `partition` (else the
    /// site's default partition) → `--partition`; then the site's account, QoS and extra options.
    public static func options(resources: StageResources, timeout: Double?, settings: SlurmSettings) -> [String] {
        var o: [String] = []
        if let cpus = resources.cpus { o.append("--cpus-per-task=\(cpus)") }
        if let mem = resources.memoryMiB { o.append("--mem=\(StageResources.slurmMemory(mem))") }
        if let gpus = resources.gpus { o.append("--gpus=\(gpus)") }
        if let time = resources.time ?? timeout { o.append("--time=\(StageResources.slurmTime(time))") }
        if let partition = resources.partition ?? settings.partition { o.append("--partition=\(partition)") }
        if let account = settings.account { o.append("--account=\(account)") }
        if let qos = settings.qos { o.append("--qos=\(qos)") }
        o += settings.extraOptions
        return o
    }

    /// Which command failed, from the marker in the job's log.
    static func failedCommand(inLogTail lines: [String]) -> Int? {
        for line in lines.reversed() where line.hasPrefix(failurePrefix) {
            let rest = line.dropFirst(failurePrefix.count)
            if let n = rest.split(separator: " ").first.flatMap({ Int($0) }) { return n - 1 }
        }
        return nil
    }
}
