// A real one-node Slurm cluster for the Slurm executor tests, started once per test process by
// `scripts/slurm-cluster.sh start DIR` (munged + slurmctld + slurmd, every file under DIR) and stopped
// by a watchdog as soon as the test process is gone.
//
//   guard let cluster = SlurmCluster.shared else { return }   // nil, with a printed notice, when it cannot start
//   p.crx(["repro", "--executor", "slurm"], environment: cluster.environment)
//   cluster.job("42")                                          // `scontrol show job 42`, as key → value
#if canImport(Glibc)
import Glibc
#endif
import Foundation

final class SlurmCluster: @unchecked Sendable {
    let directory: String
    var conf: String { directory + "/slurm.conf" }
    var environment: [String: String] { ["SLURM_CONF": conf] }

    static let shared: SlurmCluster? = {
        do {
            return try SlurmCluster()
        } catch {
            print("notice: SKIPPING the Slurm executor tests: \(error)")
            return nil
        }
    }()

    static var script: String {
        ExamplePipelineTests.packageRoot.appendingPathComponent("scripts/slurm-cluster.sh").path
    }

    private init() throws {
        guard getuid() == 0 else { throw TestFailure("a test cluster needs root (slurmd starts jobs as their user)") }
        for tool in ["munged", "slurmctld", "slurmd", "sbatch"] where findExecutable(tool, extra: ["/usr/sbin"]) == nil {
            throw TestFailure("'\(tool)' is not installed (apt-get install slurm-wlm munge; .ci/run does)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crx-slurm-\(getpid())").path
        let (status, output) = Self.run(["/bin/bash", Self.script, "start", directory])
        guard status == 0 else {
            throw TestFailure("scripts/slurm-cluster.sh start failed (exit \(status)): \(output.suffix(2000))")
        }
        // Stops the daemons when this test process ends, however it ends.
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = ["-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; /bin/bash \"$0\" stop \"$1\"; rm -rf \"$1\"",
                              Self.script, directory]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try watchdog.run()
    }

    /// A Slurm client command against this cluster (stdout + stderr).
    func command(_ arguments: [String]) -> (status: Int32, output: String) {
        Self.run(arguments, environment: environment)
    }

    /// `scontrol show job -o ID` as key → value (empty when the controller does not know the job).
    func job(_ id: String) -> [String: String] {
        let (status, output) = command(["scontrol", "show", "job", "-o", id])
        guard status == 0 else { return [:] }
        var fields: [String: String] = [:]
        for pair in output.split(separator: " ") {
            guard let eq = pair.firstIndex(of: "=") else { continue }
            fields[String(pair[..<eq])] = String(pair[pair.index(after: eq)...]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return fields
    }

    /// Ids of the jobs whose name is `name`, in any state.
    func jobs(named name: String) -> [String] {
        let (_, output) = command(["squeue", "-h", "-t", "all", "-n", name, "-o", "%i"])
        return output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Runs a program to completion with posix_spawn + waitpid, its stdout and stderr in a file.
    /// (Not Foundation's Process: the daemons the start script leaves behind made its exit
    /// monitoring miss the script's own exit.)
    static func run(_ arguments: [String], environment: [String: String] = [:]) -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("crx-slurm-out-\(UUID().uuidString)").path
        defer { unlink(file) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawned = withCStringArray(["/usr/bin/env"] + arguments) { argv in
            withCStringArray(env) { envp in posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp) }
        }
        guard spawned == 0 else { return (127, "cannot start \(arguments.first ?? ""): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }
}
