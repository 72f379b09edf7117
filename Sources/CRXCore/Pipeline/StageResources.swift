import Foundation

/// What a stage needs to run (`resources:` in pipeline.yaml), given to the cluster scheduler as
/// sbatch options and respected by the local executor as a share of its cores budget (`-j`).
///
/// ```yaml
/// train:
///   cmd: python train.py
///   resources: {cpus: 4, mem: 8G, gpus: 1, time: 2h, partition: gpu}
/// ```
/// Resources never make a stage stale: they are not part of its lock record (they change where
/// and how fast it runs, not what it produces).
public struct StageResources: Sendable, Hashable {
    /// CPU cores for the stage's commands (`sbatch --cpus-per-task`; locally: cores of the `-j` budget).
    public var cpus: Int?
    /// Memory in MiB (`--mem`; written as 512M, 8G, 1T or a number of MiB).
    public var memoryMiB: Int?
    /// GPUs (`--gpus`): a count, or `type:count` (e.g. `a100:2`).
    public var gpus: String?
    /// Wall-clock limit in seconds (`--time`; written as seconds, 90s/30m/2h/1d, or Slurm's
    /// `MM`, `HH:MM:SS`, `D-HH:MM`). Locally it acts as the stage's `timeout` when none is set.
    public var time: Double?
    /// Slurm partition (`--partition`).
    public var partition: String?
    public var location: SourceLocation?

    public static let keys: Set<String> = ["cpus", "mem", "gpus", "time", "partition"]

    public init(cpus: Int? = nil, memoryMiB: Int? = nil, gpus: String? = nil, time: Double? = nil, partition: String? = nil,
                location: SourceLocation? = nil) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.gpus = gpus
        self.time = time
        self.partition = partition
        self.location = location
    }

    public var isEmpty: Bool { cpus == nil && memoryMiB == nil && gpus == nil && time == nil && partition == nil }

    /// The cores a stage takes from a local budget of `budget` cores: its `cpus` (at least 1),
    /// capped at the budget so that a stage asking for more than the machine has still runs (alone).
    public func cores(budget: Int) -> Int { max(1, min(cpus ?? 1, max(1, budget))) }

    // MARK: parsing the values

    /// "8G", "512M", "1.5G", "2048" (MiB), "1T"; nil when not a positive size.
    public static func mebibytes(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces).uppercased()
        if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
        var factor = 1.0
        if let unit = t.last, unit.isLetter {
            switch unit {
            case "K": factor = 1.0 / 1024
            case "M": factor = 1
            case "G": factor = 1024
            case "T": factor = 1024 * 1024
            default: return nil
            }
            t.removeLast()
        }
        guard let n = Double(t.trimmingCharacters(in: .whitespaces)), n > 0, n.isFinite else { return nil }
        return max(1, Int((n * factor).rounded(.up)))
    }

    /// Slurm's time formats (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`) and
    /// crx durations (`90s`, `30m`, `2h`, `1d`); a bare number is minutes, as for sbatch.
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let last = t.last, last.isLetter {
            return PipelineParser.seconds(t).flatMap { $0 > 0 ? $0 : nil }
        }
        var days = 0.0
        var clock = Substring(t)
        if let dash = t.firstIndex(of: "-") {
            guard let d = Double(t[..<dash]), d >= 0 else { return nil }
            days = d
            clock = t[t.index(after: dash)...]
        }
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
        guard !parts.isEmpty, parts.count <= 3, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        let p = parts.map { $0! }
        let total: Double
        if t.contains("-") {
            // D-HH, D-HH:MM, D-HH:MM:SS
            let h = p[0], m = p.count > 1 ? p[1] : 0, s = p.count > 2 ? p[2] : 0
            total = days * 86400 + h * 3600 + m * 60 + s
        } else {
            switch p.count {
            case 1: total = p[0] * 60
            case 2: total = p[0] * 60 + p[1]
            default: total = p[0] * 3600 + p[1] * 60 + p[2]
            }
        }
        return total > 0 ? total : nil
    }

    /// Slurm's `--time` form of a number of seconds: `D-HH:MM:SS` (rounded up to whole seconds).
    public static func slurmTime(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        let d = total / 86400, h = total % 86400 / 3600, m = total % 3600 / 60, s = total % 60
        let clock = String(format: "%02d:%02d:%02d", h, m, s)
        return d > 0 ? "\(d)-\(clock)" : clock
    }

    /// `--mem`'s form: whole MiB with the `M` suffix, or `G` when exact.
    public static func slurmMemory(_ mib: Int) -> String {
        mib % 1024 == 0 ? "\(mib / 1024)G" : "\(mib)M"
    }

    /// A valid `gpus` value: a positive count or `type:count`.
    static func isValidGPUs(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let count = parts.last.flatMap({ Int($0) }), count > 0, parts.count <= 2 else { return false }
        return parts.count == 1 || (!parts[0].isEmpty && parts[0].allSatisfy { $0.isLetter || $0.isNumber || "_-.".contains($0) })
    }

    /// A valid partition name: what Slurm accepts in slurm.conf, and nothing a shell would interpret.
    static func isValidPartition(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "_-.,".contains($0) }
    }

    /// A JSON-ready description (for `repro --dry-run --json` and lineage).
    public var jsonObject: [String: Any] {
        var o: [String: Any] = [:]
        if let cpus { o["cpus"] = cpus }
        if let memoryMiB { o["mem_mib"] = memoryMiB }
        if let gpus { o["gpus"] = gpus }
        if let time { o["time_s"] = time }
        if let partition { o["partition"] = partition }
        return o
    }
}
