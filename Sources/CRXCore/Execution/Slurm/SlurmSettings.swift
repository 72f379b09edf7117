import Foundation

/// A site's Slurm settings, from the `[slurm]` section of `.crx/config` (committed) and
/// `.crx/config.local` (this machine; wins key by key):
/// ```
/// [core]
///     executor = slurm            # `crx repro` submits to Slurm without --executor
/// [slurm]
///     partition = batch           # default partition (a stage's resources.partition wins)
///     account = credit-risk       # --account
///     qos = normal                # --qos
///     jobs = 32                   # jobs in flight at once (default 16; -j wins)
///     poll_interval = 2           # seconds between squeue polls at most (default 1)
///     sbatch_args = --constraint=avx2 --exclusive   # more sbatch options, space-separated
/// ```
public struct SlurmSettings: Sendable, Equatable {
    public var partition: String?
    public var account: String?
    public var qos: String?
    public var jobs: Int = 16
    public var pollInterval: Double = 1
    public var extraOptions: [String] = []

    public static let keys = ["partition", "account", "qos", "jobs", "poll_interval", "sbatch_args"]

    public init() {}
}

/// Which executor runs stage commands (`[core] executor` in the config; `--executor` wins), and
/// its settings.
public struct ExecutorConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case local, slurm }

    public var kind: Kind = .local
    public var slurm = SlurmSettings()

    public init() {}

    public static func load(_ workspace: Workspace) throws -> ExecutorConfig {
        try from(ConfigFile.load([RemoteConfig.committedPath(workspace), RemoteConfig.localPath(workspace)]))
    }

    static func from(_ file: ConfigFile) throws -> ExecutorConfig {
        var config = ExecutorConfig()
        for e in file.entries {
            func bad(_ what: String) -> SlurmError { SlurmError("config line \(e.line): \(e.section).\(e.key) = '\(e.value)': \(what)") }
            switch (e.section, e.key) {
            case ("core", "executor"):
                guard let kind = Kind(rawValue: e.value) else {
                    throw bad("unknown executor; use \(Kind.allCases.map(\.rawValue).joined(separator: " or "))")
                }
                config.kind = kind
            case ("slurm", "partition"):
                guard StageResources.isValidPartition(e.value) else { throw bad("not a partition name") }
                config.slurm.partition = e.value
            case ("slurm", "account"): config.slurm.account = e.value
            case ("slurm", "qos"): config.slurm.qos = e.value
            case ("slurm", "jobs"):
                guard let n = Int(e.value), n > 0 else { throw bad("must be a positive whole number") }
                config.slurm.jobs = n
            case ("slurm", "poll_interval"):
                guard let s = Double(e.value), s > 0, s <= 600 else { throw bad("must be seconds between 0 and 600") }
                config.slurm.pollInterval = s
            case ("slurm", "sbatch_args"):
                config.slurm.extraOptions = e.value.split(separator: " ").map(String.init)
            case ("slurm", _):
                throw bad("unknown key; allowed: \(SlurmSettings.keys.joined(separator: ", "))")
            default: continue
            }
        }
        return config
    }
}
